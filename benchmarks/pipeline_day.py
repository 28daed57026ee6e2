"""One busy day end to end through Dagster: 10,000 invoices (and the bills and payments of that day) from the
FreshBooks emulator to files in the Cleo emulator, in one ``run_sync`` on a temporary instance.

Run: ``python -m benchmarks.pipeline_day [--invoices 10000] [--seed 7] [--budget RPS] [--ledger-url URL]
[--profile FILE]``.

Both emulators run in their own processes (as the real services would be elsewhere), so the peak RSS is the
pipeline's own (``resource.getrusage``); request counts come from the emulators' counters, so retries and
per-document requests would show in them. The FreshBooks request budget is lifted to measure the pipeline's
own cost; ``--budget 5`` runs at the production budget and prints the request-budget floor (FreshBooks
requests / budget) and the wall time's ratio to it. ``--ledger-url`` runs on another ledger (a PostgreSQL
database); each step's wall time comes from the run's own events.
The pipeline's CPU time (user + system of this process and of the streaming process it starts, over the run)
is what the emulators do not share; peak RSS is this process's (the streaming process has its own, smaller).
``--profile FILE`` writes cProfile stats of the run (read them with ``pstats``); profiling slows the run, so its
figures are not the benchmark's.
"""

from __future__ import annotations

import argparse
import cProfile
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
def pipeline(box: Sandbox, budget: float = 1e9, ledger_url: str | None = None) -> Iterator[tuple[Any, Any, Any]]:
    """(settings, ledger, Dagster instance) on a temporary folder, FreshBooks connected through the sandbox."""
    import dagster as dg

    from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect
    from freshcleo_pipeline.ledger import open_ledger
    from freshcleo_pipeline.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            FRESHCLEO_MODE="sandbox", FRESHCLEO_DATA_DIR=str(Path(tmp) / "data"),
            FRESHCLEO_LEDGER_URL=ledger_url or f"sqlite:///{Path(tmp) / 'ledger.db'}",
            FRESHBOOKS_API_URL=box.freshbooks_url, FRESHBOOKS_AUTH_URL=box.freshbooks_url, CLEO_API_URL=box.cleo_url,
            FRESHBOOKS_REQUESTS_PER_SECOND=budget)
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


def cpu_seconds() -> float:
    """This process and its finished children (the streaming process of a run; the emulators still run)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=1e9, help="FreshBooks requests/s (default: lifted)")
    parser.add_argument("--ledger-url", help="ledger database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats of the run to FILE")
    args = parser.parse_args()

    from freshcleo_pipeline.defs.runner import run_sync

    started = time.perf_counter()
    with sandbox(seed=args.seed, invoices=args.invoices, days=1, webhook_delay=0.0) as box:
        print(f"emulators ready in {time.perf_counter() - started:.1f} s", flush=True)
        with pipeline(box, args.budget, args.ledger_url) as (settings, ledger, instance):
            today = dt.datetime.now(dt.UTC).date()
            rss_before = peak_rss_mb()
            profiler = cProfile.Profile() if args.profile else None
            cpu_before, started = cpu_seconds(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            result = run_sync(settings, today - dt.timedelta(days=1), today, instance)
            if profiler is not None:
                profiler.disable()
            seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
            # Before the emulators stop: then the only finished child is the run's streaming process.
            streaming_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            if profiler is not None:
                profiler.dump_stats(args.profile)
            counts = document_counts(ledger)
            steps = step_seconds(instance, result.run_id)
        fb = box.requests(box.freshbooks_url, "/accounting/")
        fb_all = box.requests(box.freshbooks_url)
        cleo = box.requests(box.cleo_url)
        uploads = box.requests(box.cleo_url, "/files", "POST", 201)
    docs, delivered = counts["documents"], counts["delivered"]
    status = "ok" if result.success else "FAILED"
    print(f"pipeline_day: {args.invoices} invoices in one day, one run_sync (run {status})"
          + (f", profiled to {args.profile}" if args.profile else ""))
    print(table([
        ("wall time", f"{seconds:.1f} s"),
        ("FreshBooks documents (all kinds)", f"{docs} ({counts['routed']} routed to partners)"),
        ("transaction sets delivered", f"{delivered} in {uploads} files"),
        ("pipeline CPU", f"{cpu:.1f} s"),
        ("pipeline CPU per document", f"{cpu / max(docs, 1) * 1000:.2f} ms (FreshBooks documents)"),
        ("documents/s (FreshBooks documents)", f"{docs / seconds:.0f}"),
        ("documents/s (delivered sets)", f"{delivered / seconds:.0f}"),
        ("FreshBooks requests", f"{fb_all} ({fb} accounting) = {fb_all / docs:.4f} per document"),
        ("Cleo requests", f"{cleo} = {cleo / max(delivered, 1):.4f} per delivered document"),
        ("peak RSS", f"{peak_rss_mb():.0f} MB (before the run {rss_before:.0f} MB); streaming process "
         f"{streaming_rss:.0f} MB"),
        ("steps", ", ".join(f"{name} {took:.1f} s" for name, took in steps.items())),
        *([("request-budget floor", f"{fb_all / args.budget:.1f} s at {args.budget:g} requests/s; wall time "
            f"{seconds / (fb_all / args.budget):.2f} x the floor")] if args.budget < 1e6 else []),
    ]))


def step_seconds(instance: Any, run_id: str) -> dict[str, float]:
    """Each step's wall time, as the instance recorded it."""
    return {stat.step_key: (stat.end_time or stat.start_time or 0.0) - (stat.start_time or 0.0)
            for stat in instance.get_run_step_stats(run_id)}

if __name__ == "__main__":
    main()
