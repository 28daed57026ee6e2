"""What a poll costs in a year-old book: FreshBooks requests of one day's incremental poll and of the nightly full
scan, against the documents the day changed and the size of the book.

Run: ``python -m benchmarks.daily_poll [--documents 100000] [--days 365] [--seed 7] [--sort-ignored]``.

The FreshBooks emulator runs in its own process with a book of ``--documents`` (all kinds; invoices are
documents / 2.1, as in ``backfill_year``) spread over ``--days`` ending now. The ledger first holds the book's
history: one full-scan extraction of every day before the polled one, as the polls and nightly runs of the past
year left it. Then the extract stage runs as the Dagster asset calls it:

1. the poll of yesterday's partition (the last whole day; incremental, as any run of today or yesterday);
2. the nightly finalize run of the same day (``full_scan=True``, at 02:15 the next day);
3. the poll of today's partition (the day so far).

Requests are counted at the emulator, per listing kind, every request under ``/accounting/``. The minimum a poll
can cost is one page per hundred documents the day changed, plus one page per listing kind (a list is read at
least once, even when nothing changed): Σ over the seven listings (invoices, payments, bills, bill payments,
clients, bill vendors, items) of ceil(changed / 100) + 1. ``--sort-ignored`` serves a FreshBooks that ignores
``sort``: the poll then reads whole lists (correct, dearer).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect
from freshcleo_pipeline.ledger import Ledger, open_ledger
from freshcleo_pipeline.ledger.schema import source_snapshots
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.settings import load_settings
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.extract import extract

READ_SCOPES = ("user:profile:read user:invoices:read user:clients:read user:bills:read user:bill_vendors:read "
               "user:payments:read user:bill_payments:read user:billable_items:read")
DOCUMENTS_PER_INVOICE = 2.1
LISTINGS = ("invoices", "payments", "bills", "bill_payments", "clients", "bill_vendors", "items")
DOCUMENT_KINDS = {"invoice": "invoices", "payment": "payments", "bill": "bills", "bill_payment": "bill_payments"}


def _serve(invoices: int, days: int, seed: int, sort_honoured: bool, urls: Any, stop: Any) -> None:
    from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator

    emulator = FreshBooksEmulator(seed=seed, invoices=invoices, days=days, sort_honoured=sort_honoured)
    emulator.start()
    book = sum(len(emulator.store.collections[k]) for k in DOCUMENT_KINDS.values())
    urls.put((emulator.url, book))
    stop.wait()
    emulator.stop()


def _requests(url: str) -> Counter[str]:
    """Accounting requests served so far, per listing kind (lists and single GETs alike)."""
    served = requests.get(f"{url}/_sandbox/stats", timeout=30).json()["requests"]
    out: Counter[str] = Counter()
    for key, count in served.items():
        _method, template, _status = key.split(" ")
        if "/accounting/" not in template:
            continue
        path = template.split("/accounting/account/{account_id}/", 1)[-1]
        kind = path.split("/")[1] if "/" in path else path
        out[kind] += int(count)
    return out


def _day_counts(ledger: Ledger, day: dt.date) -> Counter[str]:
    t = source_snapshots
    with ledger.begin() as conn:
        rows = conn.execute(select(t.c.kind, func.count()).where(t.c.partition_date == day).group_by(t.c.kind))
        return Counter({DOCUMENT_KINDS[kind]: n for kind, n in rows if kind in DOCUMENT_KINDS})


def _context(settings: Any, ledger: Ledger, now: dt.datetime | None = None) -> SyncContext:
    clock = (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))
    return SyncContext(settings=settings, ledger=ledger, partners=load_partners(settings.resolved_partners_file()),
                       freshbooks=lambda: FreshBooksClient.from_settings(settings, ledger),
                       cleo=lambda: CleoClient.from_settings(settings), now=clock)


def _minimum(changed: Counter[str]) -> int:
    return sum(math.ceil(changed[k] / 100) + 1 for k in LISTINGS)


def _line(name: str, used: Counter[str], seconds: float) -> str:
    kinds = ", ".join(f"{k} {used[k]}" for k in LISTINGS if used[k])
    return f"  {name}: {sum(used.values())} requests in {seconds:.1f} s ({kinds})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sort-ignored", action="store_true")
    args = parser.parse_args()
    mp = multiprocessing.get_context("spawn")
    urls, stop = mp.Queue(), mp.Event()
    server = mp.Process(target=_serve, daemon=True, args=(
        round(args.documents / DOCUMENTS_PER_INVOICE), args.days, args.seed, not args.sort_ignored, urls, stop))
    server.start()
    try:
        url, book = urls.get(timeout=600)
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(
                FRESHCLEO_MODE="sandbox", FRESHCLEO_DATA_DIR=tmp, FRESHBOOKS_API_URL=url, FRESHBOOKS_AUTH_URL=url,
                FRESHCLEO_SECRET_KEY=Fernet.generate_key().decode("ascii"), FRESHBOOKS_SCOPES=READ_SCOPES,
                FRESHBOOKS_REQUESTS_PER_SECOND=1e9, FRESHCLEO_LEDGER_URL=f"sqlite:///{Path(tmp) / 'ledger.db'}")
            ledger = open_ledger(settings.resolved_ledger_url())
            sandbox_auto_connect(settings, ledger)
            today = dt.datetime.now(dt.UTC).date()
            polled = today - dt.timedelta(days=1)
            history = [polled - dt.timedelta(days=n) for n in range(args.days + 1, 0, -1)]

            started = time.perf_counter()
            extract(_context(settings, ledger), history, full_scan=True)
            print(f"book: {book} documents over {args.days} days; history stored in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)

            def measured(name: str, days: list[dt.date], **options: Any) -> tuple[Counter[str], Any]:
                before = _requests(url)
                began = time.perf_counter()
                summary = extract(**{"ctx": _context(settings, ledger, options.pop("now", None)), "days": days,
                                     **options})
                used = _requests(url) - before
                print(_line(name, used, time.perf_counter() - began), f"[{summary.scan}]", flush=True)
                return used, summary

            poll, _ = measured(f"poll of {polled}", [polled])
            nightly_at = dt.datetime.combine(today, dt.time(2, 15), dt.UTC)
            nightly, summary = measured(f"nightly full scan of {polled}", [polled], full_scan=True, now=nightly_at)
            changed = _day_counts(ledger, polled)
            today_poll, _ = measured(f"poll of {today} (so far)", [today])
            ledger.dispose()
    finally:
        stop.set()
        server.join(30)
    minimum = _minimum(changed)
    print(f"documents of {polled}: " + ", ".join(f"{k} {changed[k]}" for k in DOCUMENT_KINDS.values()))
    print(f"  poll: {sum(poll.values())} requests; minimum Σ(ceil(changed/100) + 1) over {len(LISTINGS)} "
          f"listings = {minimum}; ratio {sum(poll.values()) / minimum:.2f} (issue 16: <= 1.2)")
    print(f"  nightly full scan: {sum(nightly.values())} requests; book / 100 = {book / 100:.0f}; ratio "
          f"{sum(nightly.values()) / (book / 100):.2f} (issue 16: <= 1.05); new versions it found: "
          f"{dict(summary.new_versions)}")
    print(f"  poll of today so far: {sum(today_poll.values())} requests")


if __name__ == "__main__":
    main()
