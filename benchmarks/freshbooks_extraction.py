"""Extraction throughput of the FreshBooks client against the emulator: documents/s and requests/document.

Run: ``python -m benchmarks.freshbooks_extraction [--sizes 10000 100000] [--seed 7]``.

The emulator runs in its own process (as the real service would be elsewhere), the client's per-account
request budget is lifted so the figures show the client's and the emulator's own cost; the line "at the
default budget" gives the bound the 5 requests/s budget sets in production. Request counts come from the
emulator's counters, so retries or per-document GETs would show up in them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

from freshcleo_pipeline.freshbooks.client import PER_PAGE, FreshBooksClient
from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect
from freshcleo_pipeline.ledger import open_ledger
from freshcleo_pipeline.settings import load_settings

READ_SCOPES = ("user:profile:read user:invoices:read user:clients:read user:bills:read user:bill_vendors:read "
               "user:payments:read user:bill_payments:read user:billable_items:read")
DEFAULT_BUDGET = 5.0


def _serve(invoices: int, seed: int, urls: Any, stop: Any) -> None:
    from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator

    emulator = FreshBooksEmulator(seed=seed, invoices=invoices, bills=10, days=60)
    emulator.start()
    urls.put(emulator.url)
    stop.wait()
    emulator.stop()


def _requests_served(url: str) -> int:
    rows = requests.get(f"{url}/_sandbox/counters", timeout=10).json()["counters"]
    return sum(int(row["count"]) for row in rows)


def measure(invoices: int, seed: int) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(invoices, seed, urls, stop), daemon=True)
    server.start()
    try:
        url = urls.get(timeout=300)
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(
                FRESHCLEO_MODE="sandbox", FRESHCLEO_DATA_DIR=tmp, FRESHBOOKS_API_URL=url,
                FRESHBOOKS_AUTH_URL=url, FRESHCLEO_SECRET_KEY=Fernet.generate_key().decode("ascii"),
                FRESHBOOKS_SCOPES=READ_SCOPES, FRESHBOOKS_REQUESTS_PER_SECOND=1e9)
            ledger = open_ledger(f"sqlite:///{Path(tmp) / 'ledger.db'}")
            sandbox_auto_connect(settings, ledger)
            with FreshBooksClient.from_settings(settings, ledger) as client:
                before = _requests_served(url)
                started = time.perf_counter()
                listed = client.list_all("invoices")
                full_seconds = time.perf_counter() - started
                full_requests = _requests_served(url) - before

                end = dt.datetime.now(dt.UTC)
                before = _requests_served(url)
                started = time.perf_counter()
                window = client.list_updated("invoices", end - dt.timedelta(days=1), end)
                window_seconds = time.perf_counter() - started
                window_requests = _requests_served(url) - before
            ledger.dispose()
    finally:
        stop.set()
        server.join(30)
    return {
        "invoices": len(listed), "lines": sum(len(r.get("lines") or []) for r in listed),
        "seconds": full_seconds, "requests": full_requests,
        "window_invoices": len(window), "window_seconds": window_seconds, "window_requests": window_requests,
    }


def report(size: int, m: dict[str, float]) -> str:
    docs = m["invoices"]
    budget_seconds = math.ceil(docs / PER_PAGE) / DEFAULT_BUDGET
    return "\n".join([
        f"{size:>7} invoices generated, {docs:.0f} listed (deleted ones need the vis_state pass), "
        f"{m['lines']:.0f} lines",
        f"  full listing:   {m['seconds']:.2f} s, {docs / m['seconds']:.0f} documents/s, "
        f"{m['requests']:.0f} requests = {m['requests'] / docs:.4f} requests/document "
        f"(ceil(n/{PER_PAGE}) = {math.ceil(docs / PER_PAGE)})",
        f"  at the default budget of {DEFAULT_BUDGET:.0f} requests/s: >= {budget_seconds:.0f} s, "
        f"<= {DEFAULT_BUDGET * PER_PAGE:.0f} documents/s",
        f"  one-day window: {m['window_invoices']:.0f} invoices in {m['window_seconds']:.2f} s, "
        f"{m['window_requests']:.0f} requests (visible + deleted pass over the day filter)",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for size in args.sizes:
        print(report(size, measure(size, args.seed)), flush=True)


if __name__ == "__main__":
    main()
