"""A year-long backfill: 365 day partitions holding about 100,000 FreshBooks documents, synced in 31-day runs
(what ``freshcleo backfill --chunk-days 31`` and the assets' backfill policy do), then a second pass over the
whole year that must add nothing.

Run: ``python -m benchmarks.backfill_year [--documents 100000] [--chunk-days 31] [--seed 7] [--ledger-url URL]
[--profile DIR] [--statements N]``.

A FreshBooks book of n invoices holds about 2.1 n documents of all kinds (bills are n/4, plus payments and
bill payments), so ``--documents`` sets the invoices to documents / 2.1. Emulators run in their own processes;
peak RSS is the pipeline's own. A smaller ``--documents`` gives a quicker figure to extrapolate from: the work
per document is the same, only the per-run overhead and the bill-payment scan (every run lists them all) grow
with the number of runs.

Each run prints its wall time, the documents of its days and the time the ledger's SQL took. Per-run cost must
not grow with the book: the closing table gives the ratio of the slowest to the fastest full run of the first
pass, and ``--statements N`` lists the N ledger statements whose time grew most from the first run to the last (the
ones whose cost follows the size of the book rather than the run's). ``--profile DIR`` writes a cProfile file
per run (``first-01.prof``, …, ``second-01.prof``, …). ``--ledger-url`` runs on an empty database of your own
(PostgreSQL) instead of a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.pipeline_day import document_counts, peak_rss_mb, pipeline, sandbox, table

DOCUMENTS_PER_INVOICE = 2.1
# Expanded IN lists and VALUES rows differ in length run to run; one statement is one shape of SQL.
_PARAMS = re.compile(r"(\?|%\(\w+\)s|\$\d+)(\s*,\s*(\?|%\(\w+\)s|\$\d+))+")
_ROWS = re.compile(r"(\(…\))(\s*,\s*\(…\))+")


class StatementTimes:
    """Time spent in each ledger statement (by shape), per run."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runs: list[dict[str, list[float]]] = []
        self.active = False

    def listen(self) -> None:
        from sqlalchemy import Engine, event

        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def start_run(self) -> None:
        self.runs.append(defaultdict(lambda: [0, 0.0]))
        self.active = True

    def stop(self) -> None:
        """The run is over: what the benchmark reads next is not the run's."""
        self.active = False

    def _before(self, conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        if self.active and str(conn.engine.url) == self.url:
            context._bench_started = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        started = getattr(context, "_bench_started", None)
        if started is None:
            return
        shape = _ROWS.sub(r"\1, …", _PARAMS.sub("…", " ".join(statement.split())))
        entry = self.runs[-1][shape]
        entry[0] += 1
        entry[1] += time.perf_counter() - started

    def seconds(self, run: int) -> float:
        return sum(t for _, t in self.runs[run].values())

    def growing(self, first: int, last: int, limit: int) -> list[tuple[str, float, float, int, int]]:
        """(statement, seconds in run ``first``, in run ``last``, executions in each) by growth."""
        shapes = set(self.runs[first]) | set(self.runs[last])
        rows = [(s, self.runs[first].get(s, [0, 0.0])[1], self.runs[last].get(s, [0, 0.0])[1],
                 int(self.runs[first].get(s, [0, 0.0])[0]), int(self.runs[last].get(s, [0, 0.0])[0]))
                for s in shapes]
        return sorted(rows, key=lambda r: r[1] - r[2])[:limit]


def _documents_in(ledger: Any, days: list[dt.date]) -> int:
    from sqlalchemy import func, select

    from freshcleo_pipeline.ledger.schema import documents

    with ledger.begin() as conn:
        return int(conn.execute(select(func.count()).where(
            documents.c.partition_date.between(days[0], days[-1]))).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--chunk-days", type=int, default=31)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ledger-url", default=None, help="an empty ledger database (default: temporary SQLite)")
    parser.add_argument("--profile", type=Path, default=None, help="a folder for one cProfile file per run")
    parser.add_argument("--statements", type=int, default=0, help="list the N statements that grew most")
    args = parser.parse_args()

    from freshcleo_pipeline.defs.runner import run_sync

    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)

    def one_run(settings: Any, instance: Any, chunk: list[dt.date], name: str) -> tuple[bool, float]:
        profiler = cProfile.Profile() if args.profile is not None else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        ok = run_sync(settings, chunk[0], chunk[-1], instance).success
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(args.profile / f"{name}.prof"))
        return ok, time.perf_counter() - started

    invoices = round(args.documents / DOCUMENTS_PER_INVOICE)
    with sandbox(seed=args.seed, invoices=invoices, days=365, webhook_delay=0.0) as box:
        with pipeline(box, ledger_url=args.ledger_url) as (settings, ledger, instance):
            times = StatementTimes(str(ledger.engine.url))
            times.listen()
            today = dt.datetime.now(dt.UTC).date()
            days = [today - dt.timedelta(days=n) for n in range(365, -1, -1)]
            chunks = [days[i:i + args.chunk_days] for i in range(0, len(days), args.chunk_days)]
            per_run: list[float] = []
            per_run_docs: list[int] = []
            failed = 0
            started = time.perf_counter()
            for n, chunk in enumerate(chunks, 1):
                times.start_run()
                ok, seconds = one_run(settings, instance, chunk, f"first-{n:02d}")
                times.stop()
                failed += not ok
                per_run.append(seconds)
                per_run_docs.append(_documents_in(ledger, chunk))
                print(f"  run {n:2d} {chunk[0]}..{chunk[-1]}: {seconds:6.1f} s, {per_run_docs[-1]:6d} documents,"
                      f" ledger SQL {times.seconds(-1):5.1f} s", flush=True)
            seconds = time.perf_counter() - started
            counts = document_counts(ledger)
            uploads = box.requests(box.cleo_url, "/files", "POST", 201)
            first_pass_runs = len(times.runs)
            started = time.perf_counter()
            for n, chunk in enumerate(chunks, 1):
                times.start_run()
                ok, run_seconds = one_run(settings, instance, chunk, f"second-{n:02d}")
                times.stop()
                failed += not ok
                print(f"  again {n:2d} {chunk[0]}..{chunk[-1]}: {run_seconds:6.1f} s,"
                      f" ledger SQL {times.seconds(-1):5.1f} s", flush=True)
            again = time.perf_counter() - started
            uploads_again = box.requests(box.cleo_url, "/files", "POST", 201) - uploads
    docs = counts["documents"]
    backend = "PostgreSQL" if args.ledger_url else "SQLite"
    # The last run holds only the days left over; the flatness figure compares full-length runs, and says how far
    # apart their documents are (the emulator's book grows over the year, so runs differ in size too).
    full = [(t, d) for t, d, c in zip(per_run, per_run_docs, chunks, strict=True) if len(c) == args.chunk_days]
    print(f"backfill_year: {invoices} invoices over 365 days, {len(chunks)} runs of <= {args.chunk_days} days"
          f" ({failed} failed), {backend} ledger")
    print(table([
        ("FreshBooks documents (all kinds)", f"{docs} ({counts['routed']} routed to partners)"),
        ("transaction sets delivered", f"{counts['delivered']} in {uploads} files"),
        ("wall time, first pass", f"{seconds:.0f} s ({docs / seconds:.0f} documents/s; runs "
                                  f"{min(per_run):.0f}-{max(per_run):.0f} s)"),
        ("slowest / fastest full run", f"{max(t for t, _ in full) / min(t for t, _ in full):.2f} ("
                                       f"{min(d for _, d in full)}-{max(d for _, d in full)} documents per run)"
         if full else "-"),
        ("wall time, second pass", f"{again:.0f} s ({again / seconds:.0%} of the first), {uploads_again} files added"),
        ("peak RSS", f"{peak_rss_mb():.0f} MB"),
        ("extrapolated to 100,000 documents", f"{seconds * 100_000 / docs / 60:.0f} min (linear in documents)"),
    ]))
    if args.statements:
        print(f"ledger statements that grew most from run 1 to run {first_pass_runs} (s, executions):")
        for shape, before, after, n_before, n_after in times.growing(0, first_pass_runs - 1, args.statements):
            print(f"  {before:6.2f} -> {after:6.2f} s  ({n_before} -> {n_after})  {shape[:300]}")


if __name__ == "__main__":
    main()
