"""One busy day end to end through Dagster: 10,000 invoices (and the bills and payments of that day) from the
FreshBooks emulator to files in the Cleo emulator, in one ``run_sync`` on a temporary instance.

Run: ``python -m benchmarks.pipeline_day [--invoices 10000] [--seed 7]``.

Both emulators run in their own processes (as the real services would be elsewhere), so the peak RSS is the
pipeline's own (``resource.getrusage``); request counts come from the emulators' counters, so retries and
per-document requests would show in them. The FreshBooks request budget is lifted to measure the pipeline's
own cost; the 5 requests/s production budget bounds extraction separately (see ``freshbooks_extraction``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

SPAWN = multiprocessing.get_context("spawn")


def _serve_freshbooks(options: dict[str, Any], urls: Any, stop: Any) -> None:
    from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator

    emulator = FreshBooksEmulator(**options)
    emulator.start()
    urls.put(emulator.url)
    stop.wait()
    emulator.stop()


def _serve_cleo(urls: Any, stop: Any) -> None:
    from freshcleo_pipeline.sandbox.cleo import CleoEmulator

    emulator = CleoEmulator(ack_delay=0.0)
    emulator.start()
    urls.put(emulator.url)
    stop.wait()
    emulator.stop()


@dataclass
class Sandbox:
    freshbooks_url: str
    cleo_url: str

    def requests(self, url: str, path_contains: str = "", method: str = "", status: int | None = None) -> int:
        rows = requests.get(f"{url}/_sandbox/counters", timeout=30).json()["counters"]
        return sum(int(r["count"]) for r in rows if path_contains in r["path"] and (not method or r["method"] == method)
                   and (status is None or r["status"] == status))


@contextmanager
def sandbox(**freshbooks: Any) -> Iterator[Sandbox]:
    """Both emulators in processes of their own; yields their URLs."""
    stop = SPAWN.Event()
    fb_urls, cleo_urls = SPAWN.Queue(), SPAWN.Queue()
    workers = [SPAWN.Process(target=_serve_freshbooks, args=(freshbooks, fb_urls, stop), daemon=True),
               SPAWN.Process(target=_serve_cleo, args=(cleo_urls, stop), daemon=True)]
    for worker in workers:
        worker.start()
    try:
        yield Sandbox(fb_urls.get(timeout=600), cleo_urls.get(timeout=600))
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)


@contextmanager
def pipeline(box: Sandbox) -> Iterator[tuple[Any, Any, Any]]:
    """(settings, ledger, Dagster instance) on a temporary folder, FreshBooks connected through the sandbox."""
    import dagster as dg

    from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect
    from freshcleo_pipeline.ledger import open_ledger
    from freshcleo_pipeline.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            FRESHCLEO_MODE="sandbox", FRESHCLEO_DATA_DIR=str(Path(tmp) / "data"),
            FRESHCLEO_LEDGER_URL=f"sqlite:///{Path(tmp) / 'ledger.db'}", FRESHBOOKS_API_URL=box.freshbooks_url,
            FRESHBOOKS_AUTH_URL=box.freshbooks_url, CLEO_API_URL=box.cleo_url, FRESHBOOKS_REQUESTS_PER_SECOND=1e9)
        ledger = open_ledger(settings.resolved_ledger_url())
        sandbox_auto_connect(settings, ledger)
        (Path(tmp) / "dagster").mkdir()
        with dg.instance_for_test(temp_dir=str(Path(tmp) / "dagster")) as instance:
            yield settings, ledger, instance
        ledger.dispose()


def document_counts(ledger: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from freshcleo_pipeline.ledger.schema import documents, interchanges, outbox

    with ledger.begin() as conn:
        return {
            "documents": conn.execute(select(func.count()).select_from(documents)).scalar_one(),
            "routed": conn.execute(select(func.count()).where(documents.c.status == "routed")).scalar_one(),
            "delivered": conn.execute(select(func.count()).where(outbox.c.state == "delivered")).scalar_one(),
            "files": conn.execute(select(func.count()).where(interchanges.c.state == "delivered")).scalar_one(),
        }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from freshcleo_pipeline.defs.runner import run_sync

    started = time.perf_counter()
    with sandbox(seed=args.seed, invoices=args.invoices, days=1, webhook_delay=0.0) as box:
        print(f"emulators ready in {time.perf_counter() - started:.1f} s", flush=True)
        with pipeline(box) as (settings, ledger, instance):
            today = dt.datetime.now(dt.UTC).date()
            rss_before = peak_rss_mb()
            started = time.perf_counter()
            result = run_sync(settings, today - dt.timedelta(days=1), today, instance)
            seconds = time.perf_counter() - started
            counts = document_counts(ledger)
        fb = box.requests(box.freshbooks_url, "/accounting/")
        fb_all = box.requests(box.freshbooks_url)
        cleo = box.requests(box.cleo_url)
        uploads = box.requests(box.cleo_url, "/files", "POST", 201)
    docs, delivered = counts["documents"], counts["delivered"]
    status = "ok" if result.success else "FAILED"
    print(f"pipeline_day: {args.invoices} invoices in one day, one run_sync (run {status})")
    print(table([
        ("wall time", f"{seconds:.1f} s"),
        ("FreshBooks documents (all kinds)", f"{docs} ({counts['routed']} routed to partners)"),
        ("transaction sets delivered", f"{delivered} in {uploads} files"),
        ("documents/s (FreshBooks documents)", f"{docs / seconds:.0f}"),
        ("documents/s (delivered sets)", f"{delivered / seconds:.0f}"),
        ("FreshBooks requests", f"{fb_all} ({fb} accounting) = {fb_all / docs:.4f} per document"),
        ("Cleo requests", f"{cleo} = {cleo / max(delivered, 1):.4f} per delivered document"),
        ("peak RSS", f"{peak_rss_mb():.0f} MB (before the run {rss_before:.0f} MB)"),
    ]))


if __name__ == "__main__":
    main()
