"""A year-long backfill: 365 day partitions holding about 100,000 FreshBooks documents, synced in 31-day runs
(what ``freshcleo backfill --chunk-days 31`` and the assets' backfill policy do), then a second pass over the
whole year that must add nothing.

Run: ``python -m benchmarks.backfill_year [--documents 100000] [--chunk-days 31] [--seed 7]``.

A FreshBooks book of n invoices holds about 2.1 n documents of all kinds (bills are n/4, plus payments and
bill payments), so ``--documents`` sets the invoices to documents / 2.1. Emulators run in their own processes;
peak RSS is the pipeline's own. A smaller ``--documents`` gives a quicker figure to extrapolate from: the work
per document is the same, only the per-run overhead and the bill-payment scan (every run lists them all) grow
with the number of runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from benchmarks.pipeline_day import document_counts, peak_rss_mb, pipeline, sandbox, table

DOCUMENTS_PER_INVOICE = 2.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--chunk-days", type=int, default=31)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from freshcleo_pipeline.defs.runner import run_sync

    invoices = round(args.documents / DOCUMENTS_PER_INVOICE)
    with sandbox(seed=args.seed, invoices=invoices, days=365, webhook_delay=0.0) as box:
        with pipeline(box) as (settings, ledger, instance):
            today = dt.datetime.now(dt.UTC).date()
            days = [today - dt.timedelta(days=n) for n in range(365, -1, -1)]
            chunks = [days[i:i + args.chunk_days] for i in range(0, len(days), args.chunk_days)]
            per_run: list[float] = []
            failed = 0
            started = time.perf_counter()
            for chunk in chunks:
                run_started = time.perf_counter()
                failed += not run_sync(settings, chunk[0], chunk[-1], instance).success
                per_run.append(time.perf_counter() - run_started)
                print(f"  {chunk[0]}..{chunk[-1]}: {per_run[-1]:.1f} s", flush=True)
            seconds = time.perf_counter() - started
            counts = document_counts(ledger)
            uploads = box.requests(box.cleo_url, "/files", "POST", 201)
            started = time.perf_counter()
            for chunk in chunks:
                failed += not run_sync(settings, chunk[0], chunk[-1], instance).success
            again = time.perf_counter() - started
            uploads_again = box.requests(box.cleo_url, "/files", "POST", 201) - uploads
    docs = counts["documents"]
    print(f"backfill_year: {invoices} invoices over 365 days, {len(chunks)} runs of <= {args.chunk_days} days"
          f" ({failed} failed)")
    print(table([
        ("FreshBooks documents (all kinds)", f"{docs} ({counts['routed']} routed to partners)"),
        ("transaction sets delivered", f"{counts['delivered']} in {uploads} files"),
        ("wall time, first pass", f"{seconds:.0f} s ({docs / seconds:.0f} documents/s; runs "
                                  f"{min(per_run):.0f}-{max(per_run):.0f} s)"),
        ("wall time, second pass", f"{again:.0f} s, {uploads_again} files added"),
        ("peak RSS", f"{peak_rss_mb():.0f} MB"),
        ("extrapolated to 100,000 documents", f"{seconds * 100_000 / docs / 60:.0f} min (linear in documents)"),
    ]))


if __name__ == "__main__":
    main()
