"""Streamed stages: routing and rendering follow extraction as its pages are stored, so a run at the FreshBooks
request budget ends shortly after its last page does, instead of starting its CPU work only then.

The extract step makes a ``Downstream`` for the run's days when the run also materializes the normalized and EDI
assets. Once ``FRESHCLEO_STREAM_AFTER_PAGES`` pages are stored (5; 0 turns it off), a process of its own (the
interpreter lock would make a thread wait for extraction's parsing) routes the days' undecided versions, plans
their outbox rows and renders whole interchanges only (``MAX_SETS`` sets each), a pass per burst of stored
pages, each going on from where the last one ended, with the same idempotent stage functions the later steps
call, under the same run id and ledger. The later steps then do what is left (the last, partial file of each
partner and set, anything the process had no time for) and report the run's figures, the streamed work
included (``carried``; the steps of ``sync_job`` run in one process, which holds what the streaming process
handed back).

What it must not do: call FreshBooks or Cleo (delivery keeps its own step, pool and blocking check), or fail the
run. An error in it stops the streaming and is logged; the later steps redo the work from the ledger, as a retry
does. A page's parents are stored before the page (``sync.extract``), so a pass never reads a payment
without its invoice.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from freshcleo_pipeline.ledger import open_ledger, snapshots
from freshcleo_pipeline.partners import PartnerDirectory
from freshcleo_pipeline.settings import Settings
from freshcleo_pipeline.sync.collector import bulk_work
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.render import RenderSummary, plan, render_pending
from freshcleo_pipeline.sync.route import route

#: A pass reads only what was stored since the one before (``Cursor``), so passes follow each other as pages come,
#: this far apart at least: a pass then takes a few pages at once, and the run's end waits for a short pass only.
MIN_PASS_SECONDS = 1.0
#: How long the end of extraction waits for the pass under way before it stops the process (its open transaction
#: rolls back) and leaves the rest to the later steps, so the FreshBooks pool is not held for a long render.
CLOSE_TIMEOUT_SECONDS = 120.0
_PAGE, _CLOSE = "page", "close"


@dataclass
class Carried:
    """What the streaming process did in a run, for the later steps' run figures."""

    quarantined: Counter[str] = field(default_factory=Counter)  # kind → documents the thread set aside
    render: RenderSummary = field(default_factory=RenderSummary)
    passes: int = 0  # passes begun
    error: str | None = None

    def merged(self, later: Carried) -> Carried:
        a, b = self.render, later.render
        render = RenderSummary(
            enqueued=a.enqueued + b.enqueued, ignored=a.ignored + b.ignored, flagged=a.flagged + b.flagged,
            interchanges=[*a.interchanges, *b.interchanges],
            invalid_interchanges=a.invalid_interchanges + b.invalid_interchanges,
            guide_unmet=a.guide_unmet + b.guide_unmet, unmappable=a.unmappable + b.unmappable,
            adjustments=a.adjustments + b.adjustments)
        return Carried(self.quarantined + later.quarantined, render, self.passes + later.passes,
                       later.error or self.error)


_carried: dict[str, Carried] = {}
_carried_lock = threading.Lock()


def carried(run_id: str | None, *, take: bool = False) -> Carried:
    """The streaming process's work in this run (empty when it did not stream, or the steps ran in other processes);
    ``take`` forgets it (the run's last reader)."""
    with _carried_lock:
        found = _carried.pop(run_id or "", None) if take else _carried.get(run_id or "")
    return found if found is not None else Carried()


class Downstream:
    """Routes and renders a run's days while extraction goes on (module docstring), in a process of its own
    started once ``FRESHCLEO_STREAM_AFTER_PAGES`` pages are stored: a small run never starts it."""

    def __init__(self, ctx: SyncContext, days: list[dt.date], account_id: Callable[[], str]) -> None:
        self._ctx, self._days, self._account_of = ctx, days, account_id
        self._after = ctx.settings.stream_after_pages
        self._pages = 0
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self.work = Carried()

    def page_stored(self) -> None:
        self._pages += 1
        if self._process is None and self._after and self._pages >= self._after:
            self._start()
        if self._conn is not None:
            try:
                self._conn.send(_PAGE)
            except OSError:  # the worker is gone; it said why, or close() will
                self._conn = None

    def _start(self) -> None:
        self._after = 0  # one attempt: a run that cannot stream leaves the work to its later steps
        try:
            job = Job(settings=self._ctx.settings, partners=self._ctx.partners, run_id=self._ctx.run_id,
                      ledger_url=self._ctx.ledger.url.render_as_string(hide_password=False), days=self._days,
                      account_id=self._account_of())
            mp = multiprocessing.get_context("spawn")
            ours, theirs = mp.Pipe()
            process = mp.Process(target=_serve, args=(job, theirs), name="freshcleo-downstream", daemon=True)
            process.start()
        except Exception as exc:  # noqa: BLE001  streaming is a speed-up: extraction goes on without it
            self.work.error = f"could not start ({type(exc).__name__}: {exc})"
            self._ctx.log.warning("streamed routing and rendering off for this run: %s", self.work.error)
            return
        theirs.close()
        self._process, self._conn = process, ours

    def close(self) -> Carried:
        """Stop after the pass under way and hand the work over to the later steps of the run."""
        if self._process is None:
            return self.work
        try:
            if self._conn is None:
                raise EOFError
            self._conn.send(_CLOSE)
            if not self._conn.poll(CLOSE_TIMEOUT_SECONDS):
                raise TimeoutError(f"no answer in {CLOSE_TIMEOUT_SECONDS} s")
            self.work = self._conn.recv()
        except (EOFError, OSError, TimeoutError) as exc:
            self.work.error = f"the streaming process ended without its figures ({type(exc).__name__}: {exc})"
        finally:
            self._process.join(5)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
        if self.work.error:
            self._ctx.log.warning("streamed routing and rendering stopped early: %s", self.work.error)
        if self._ctx.run_id is not None and self.work.passes:
            with _carried_lock:
                earlier = _carried.get(self._ctx.run_id)  # a retried extract step streamed before
                _carried[self._ctx.run_id] = self.work if earlier is None else earlier.merged(self.work)
        return self.work


@dataclass(frozen=True)
class Job:
    """What the streaming process needs to act as the run's own stages (picklable)."""

    settings: Settings
    ledger_url: str
    partners: PartnerDirectory
    run_id: str | None
    days: list[dt.date]
    account_id: str


def _no_api() -> Any:
    raise RuntimeError("the streaming process routes and renders only; it calls neither FreshBooks nor Cleo")


def _serve(job: Job, conn: Connection) -> None:
    """The streaming process: a pass per burst of stored pages, until told to close; then its figures back."""
    log = logging.getLogger("freshcleo.sync.stream")
    work = Carried()
    ledger = open_ledger(job.ledger_url, upgrade=False)
    ctx = SyncContext(settings=job.settings, ledger=ledger, partners=job.partners, freshbooks=_no_api,
                      cleo=_no_api, run_id=job.run_id, log=log)
    next_pass = 0.0
    cursor = Cursor()
    try:
        while not _closing(conn, block=True):
            if work.error is not None:
                continue
            # Pages stored while the last pass ran, or within the spacing, make one pass.
            wait = next_pass - time.monotonic()
            if wait > 0:
                time.sleep(wait)
                if _closing(conn, block=False):
                    break
            work.passes += 1  # counted before: a pass that fails may have committed part of its work
            try:
                with bulk_work():
                    _pass(ctx, job, work, cursor)
            except Exception as exc:  # noqa: BLE001  the later steps redo it from the ledger
                work.error = f"{type(exc).__name__}: {exc}"
                log.warning("streamed routing and rendering stopped (the later steps do the rest): %s", work.error)
            next_pass = time.monotonic() + MIN_PASS_SECONDS
        conn.send(work)
    except (EOFError, OSError):
        pass  # the run's process is gone: nothing to hand over
    finally:
        ledger.dispose()


def _closing(conn: Connection, *, block: bool) -> bool:
    """Read every message waiting (waiting for one when ``block``): whether one of them says close."""
    messages = [conn.recv()] if block else []
    while conn.poll():
        messages.append(conn.recv())
    return _CLOSE in messages


@dataclass
class Cursor:
    """Where the next pass goes on from: the highest snapshot id the last pass had seen (None before the first
    pass, which reads the days whole: versions earlier runs left unrouted or invalid are decided again in it).

    Only a speed-up: a version a pass missed (stored out of id order by some other writer) is decided by the run's
    normalize step, which reads the days whole, as the EDI step plans them whole."""

    snapshot: int | None = None


def _pass(ctx: SyncContext, job: Job, work: Carried, cursor: Cursor) -> None:
    with ctx.ledger.begin() as conn:
        snapshot_high, document_high = snapshots.high_water(conn)
    routed = route(ctx, job.days, job.account_id, above=cursor.snapshot)
    work.quarantined.update(routed.quarantined)
    # The documents this pass decided are those above the high water read before it (after the first pass).
    plan(ctx, job.days, job.account_id, work.render, above=None if cursor.snapshot is None else document_high)
    render_pending(ctx, work.render, whole_files_only=True)
    cursor.snapshot = snapshot_high
