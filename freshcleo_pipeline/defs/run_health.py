"""Self-healing runs: a run whose process died never keeps its pool slots, and no run waits for a slot unbounded.

A run killed mid-step (SIGKILL, OOM, power loss) stays STARTED in the instance and keeps the ``freshbooks_api`` /
``cleo_api`` slots it held, so every later run of the same pools waits forever. Here, and only here:

- **who ran a run**: runs started by the CLI carry their host, pid and process start time as tags
  (``launch_tags``); runs started by the daemon's ``DefaultRunLauncher`` name their run worker's pid in the
  "Started process for run (pid: N)" engine event, on the code server's host.
- **who died** is decided by ``freshcleo_pipeline.processes.is_alive`` (same host, pid exists, same process).
  A run whose process cannot be judged (another host, no pid recorded) is left alone: a STARTING run without a
  worker is failed by run monitoring's ``start_timeout_seconds``, any other by ``max_runtime_seconds``.
- **healing** a dead run: it is marked failed with an event saying which process died, and its slots and queued
  claims are freed. Slots still held by runs that already ended are freed too (the shipped dagster.yaml does
  not set ``free_slots_after_run_end_seconds``).
- **waiting** for a slot held by a live run is bounded by ``pool_wait_timeout_seconds``, before the run starts
  (``wait_for_pools``) and while it runs (``PoolWatch``); SIGTERM ends either wait at once.

The CLI heals on start (``freshcleo demo|sync|backfill|inbound``); the daemon path is ``dead_runs_sensor``,
evaluated in the code server, where the default launcher's run workers live. Dagster 1.13's run monitoring does
not cover it: ``DefaultRunLauncher`` does not support worker health checks, so a dead worker's run stays STARTED
until ``max_runtime_seconds`` (6 h) and its slots stay taken.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

import dagster as dg

from freshcleo_pipeline import processes
from freshcleo_pipeline.errors import FreshcleoError

HOST_TAG = "freshcleo/host"
PID_TAG = "freshcleo/pid"
PID_STARTED_TAG = "freshcleo/pid_started"
ACTIVE = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
# A run that ended may still free its last slot a moment later (step processes); after this, its slot is stale.
ENDED_GRACE_SECONDS = 30.0
MAX_RUNS_EXAMINED = 500

Echo = Callable[[str], None]


class PoolWaitTimeout(FreshcleoError):
    """A pool slot the job needs stayed held by a live run longer than ``pool_wait_timeout_seconds``."""


class PoolWaitInterrupted(FreshcleoError):
    """SIGTERM arrived while the command was waiting for a pool slot."""


def launch_tags() -> dict[str, str]:
    """Tags naming the process that starts a run here, so another process can tell whether it died."""
    stamp = processes.current()
    return {HOST_TAG: stamp.host, PID_TAG: str(stamp.pid), PID_STARTED_TAG: f"{stamp.started_at:.2f}"}


def job_pools(job: dg.JobDefinition) -> list[str]:
    """The pools the job's steps claim slots in."""
    return sorted({node.pool for node in job.all_node_defs if isinstance(node, dg.OpDefinition) and node.pool})


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the run worker the default launcher started, from its "Started process" engine event."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data else None
        if pid is not None and str(pid.value).isdigit():
            return int(str(pid.value))
    return None


def process_of(instance: dg.DagsterInstance, record: dg.RunRecord,
               judge_workers: bool) -> processes.ProcessStamp | None:
    """The process that runs ``record``'s run, or None when it cannot be known from here."""
    tags = record.dagster_run.tags
    if tags.get(HOST_TAG) and tags.get(PID_TAG, "").isdigit():
        started = tags.get(PID_STARTED_TAG)
        try:
            started_at = float(started) if started else None
        except ValueError:
            started_at = None
        return processes.ProcessStamp(tags[HOST_TAG], int(tags[PID_TAG]), started_at)
    # The default launcher starts run workers on the code server's host: only code on that host (the sensor,
    # evaluated in the code server) may judge them by pid.
    if judge_workers and isinstance(instance.run_launcher, dg.DefaultRunLauncher):
        pid = _worker_pid(instance, record.dagster_run.run_id)
        if pid is not None:
            begun = record.start_time or record.create_timestamp.timestamp()
            return processes.ProcessStamp(processes.this_host(), pid, begun)
    return None


def _pools_by_run(instance: dg.DagsterInstance) -> dict[str, set[str]]:
    """Pools in which each run holds a slot or a queued claim."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    found: dict[str, set[str]] = {}
    for pool, info in storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())).items():
        for run_id in {slot.run_id for slot in info.claimed_slots} | {step.run_id for step in info.pending_steps}:
            found.setdefault(run_id, set()).add(pool)
    return found


@dataclass(frozen=True)
class HealedRun:
    run_id: str
    pid: int | None
    pools: tuple[str, ...]
    ended: bool = False  # the run had ended already; only its stale slots were freed

    def line(self) -> str:
        slots = f"its {', '.join(self.pools)} slot{'s' if len(self.pools) > 1 else ''}"
        if self.ended:
            return f"freshcleo: run {self.run_id[:8]}… had ended but still held {slots}; freed it"
        freed = f"freed {slots}" if self.pools else "it held no pool slot"
        return f"freshcleo: run {self.run_id[:8]}… (pid {self.pid}) died without finishing; marked failed and {freed}"


def heal(instance: dg.DagsterInstance, *, judge_workers: bool = False,
         run_ids: Iterable[str] | None = None) -> list[HealedRun]:
    """Mark failed the active runs whose process is gone and free their slots; free slots of ended runs."""
    wanted = list(run_ids) if run_ids is not None else None
    if wanted == []:
        return []
    held = _pools_by_run(instance)
    healed: list[HealedRun] = []
    active = instance.get_run_records(dg.RunsFilter(statuses=ACTIVE, run_ids=wanted), limit=MAX_RUNS_EXAMINED)
    for record in active:
        stamp = process_of(instance, record, judge_workers)
        if stamp is None or processes.is_alive(stamp) is not False:
            continue
        run = instance.get_run_by_id(record.dagster_run.run_id)
        if run is None or run.status not in ACTIVE:
            continue  # finished meanwhile, or healed by another process
        pools = tuple(sorted(held.get(run.run_id, ())))
        instance.report_run_failed(run, message=(
            f"The process running this run (pid {stamp.pid} on {stamp.host}) is gone: killed or crashed without "
            "finishing. Marked failed by freshcleo"
            + (f"; its slots in {', '.join(pools)} were freed." if pools else ".")))
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        healed.append(HealedRun(run.run_id, stamp.pid, pools))
    stale = [run_id for run_id in held if wanted is None or run_id in wanted]
    if stale:
        cutoff = time.time() - ENDED_GRACE_SECONDS
        ended = instance.get_run_records(dg.RunsFilter(run_ids=stale, statuses=FINISHED), limit=MAX_RUNS_EXAMINED)
        for record in ended:
            if record.end_time is not None and record.end_time < cutoff:
                instance.event_log_storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
                healed.append(HealedRun(record.dagster_run.run_id, None,
                                        tuple(sorted(held[record.dagster_run.run_id])), ended=True))
    return healed


# ---- waiting for a slot ----

def _occupants(info: Any) -> list[str]:
    """The run of each step holding a slot of the pool, or assigned one it has not taken yet (a claimed step
    is listed both ways)."""
    steps = {(slot.run_id, slot.step_key) for slot in info.claimed_slots} | {
        (step.run_id, step.step_key) for step in info.pending_steps if step.assigned_timestamp is not None}
    return sorted(run_id for run_id, _ in steps)


def blocked_pools(instance: dg.DagsterInstance, pools: Iterable[str],
                  run_id: str | None = None) -> dict[str, list[str]]:
    """Pools among ``pools`` whose every slot is taken by other runs: pool → those runs."""
    storage = instance.event_log_storage
    names = list(pools)
    if not names or not storage.supports_global_concurrency_limits:
        return {}
    blocked: dict[str, list[str]] = {}
    for pool, info in storage.get_concurrency_infos(names).items():
        others = [r for r in _occupants(info) if r != run_id]
        if info.limit is not None and others and len(others) >= info.limit:
            blocked[pool] = others
    return blocked


def describe_holder(instance: dg.DagsterInstance, run_id: str) -> str:
    record = next(iter(instance.get_run_records(dg.RunsFilter(run_ids=[run_id]), limit=1)), None)
    if record is None:
        return f"run {run_id} (no longer in the instance)"
    started = record.start_time or record.create_timestamp.timestamp()
    when = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    stamp = process_of(instance, record, judge_workers=True)
    where = f"pid {stamp.pid}" + ("" if stamp.host == processes.this_host() else f" on {stamp.host}") \
        if stamp else "pid unknown"
    return f"run {run_id} (started {when}, {where}, {record.dagster_run.status.value})"


def _timeout_message(instance: dg.DagsterInstance, blocked: Mapping[str, list[str]], waited: float) -> str:
    pool, holders = next(iter(blocked.items()))
    return (f"waiting for pool {pool}: held by {describe_holder(instance, holders[0])}; "
            f"gave up after {round(waited)} s")


@contextmanager
def _sigterm_raises(error: type[BaseException], message: str) -> Iterator[None]:
    """While waiting outside a run, SIGTERM raises ``error`` (finally-blocks run) instead of being ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise error(message)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_for_pools(instance: dg.DagsterInstance, pools: Iterable[str], timeout_seconds: float, *,
                   echo: Echo | None = None, poll_seconds: float = 1.0) -> None:
    """Return once every pool in ``pools`` has a slot free (healing dead holders on the way), or raise
    ``PoolWaitTimeout`` naming the run that holds it after ``timeout_seconds``."""
    names = list(pools)
    begun = time.monotonic()
    announced = False
    with _sigterm_raises(PoolWaitInterrupted, f"interrupted (SIGTERM) while waiting for pool {', '.join(names)}"):
        while True:
            blocked = blocked_pools(instance, names)
            if blocked:
                for healed in heal(instance, run_ids={r for runs in blocked.values() for r in runs}):
                    if echo:
                        echo(healed.line())
                blocked = blocked_pools(instance, names)
            if not blocked:
                return
            waited = time.monotonic() - begun
            if waited >= timeout_seconds:
                raise PoolWaitTimeout(_timeout_message(instance, blocked, waited))
            if echo and not announced:
                pool, holders = next(iter(blocked.items()))
                echo(f"freshcleo: waiting for pool {pool}, held by {describe_holder(instance, holders[0])}; "
                     f"giving up after {int(timeout_seconds)} s")
                announced = True
            time.sleep(min(poll_seconds, max(0.0, timeout_seconds - waited)))


class PoolWatch:
    """Bounds the waits for a slot inside a run that is executing in this (main) thread.

    Dagster's in-process executor waits for a slot in a sleep loop that no timeout bounds and that swallows
    SIGTERM (the run captures interrupts until its next step starts; in 1.13 the loop also spins a core, because
    ``interval_to_next_pending_claim_check`` never returns a positive interval). This watcher, on a thread, heals dead
    holders of the pools the run waits for; when the run has waited ``timeout_seconds``, or SIGTERM arrived
    while it waits, it makes that sleep raise — only there, never inside a step — so the run fails with the
    reason and its queued claims are released by Dagster as for any failure.
    """

    def __init__(self, instance: dg.DagsterInstance, run_id: str, pools: list[str], timeout_seconds: float, *,
                 echo: Echo | None = None, poll_seconds: float = 1.0) -> None:
        self.instance, self.run_id, self.pools = instance, run_id, pools
        self.timeout_seconds, self.poll_seconds, self.echo = timeout_seconds, poll_seconds, echo
        self.verdict: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"pool-watch-{run_id[:8]}", daemon=True)
        self._main = threading.main_thread().ident

    def __enter__(self) -> PoolWatch:
        if not self.pools or threading.current_thread() is not threading.main_thread():
            return self
        self._previous = signal.signal(signal.SIGUSR1, self._interrupt)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._thread.is_alive() or self._thread.ident is not None:
            self._stop.set()
            self._thread.join()
            signal.signal(signal.SIGUSR1, self._previous)

    def _interrupt(self, _signum: int, frame: FrameType | None) -> None:
        # Raise only from Dagster's wait between steps (no step is running, no storage write is under way);
        # anywhere else the signal is ignored and the watcher sends it again shortly.
        if self.verdict is not None and _in_slot_wait(frame):
            raise self.verdict

    def _waiting_in(self) -> dict[str, list[str]]:
        """Pools in which this run has a claim queued without a slot: pool → runs holding its slots."""
        storage = self.instance.event_log_storage
        waiting = [pool for pool, info in storage.get_concurrency_infos(self.pools).items()
                   if any(s.run_id == self.run_id and s.assigned_timestamp is None for s in info.pending_steps)]
        return blocked_pools(self.instance, waiting, self.run_id) if waiting else {}

    def _watch(self) -> None:
        since: float | None = None
        while not self._stop.wait(self.poll_seconds if self.verdict is None else 0.05):
            try:
                blocked = self._waiting_in()
                if blocked:
                    for healed in heal(self.instance, run_ids={r for runs in blocked.values() for r in runs}):
                        if self.echo:
                            self.echo(healed.line())
                    blocked = self._waiting_in()
            except Exception:  # a storage hiccup must not kill the watcher; try again next poll
                logging.getLogger(__name__).warning("pool watch of run %s: check failed", self.run_id,
                                                    exc_info=True)
                continue
            if not blocked:
                since = None
                continue
            since = since if since is not None else time.monotonic()
            waited = time.monotonic() - since
            if self.verdict is None and _sigterm_captured():
                self.verdict = PoolWaitInterrupted(
                    f"interrupted (SIGTERM) while waiting for pool {', '.join(blocked)}")
            elif self.verdict is None and waited >= self.timeout_seconds:
                self.verdict = PoolWaitTimeout(_timeout_message(self.instance, blocked, waited))
            if self.verdict is not None and self._main is not None:
                signal.pthread_kill(self._main, signal.SIGUSR1)


def _in_slot_wait(frame: FrameType | None, depth: int = 4) -> bool:
    """Whether the main thread is in Dagster's between-steps wait (``ActiveExecution.sleep_til_ready``), which
    in 1.13 spins rather than sleeps while a step waits for a slot."""
    while frame is not None and depth > 0:
        if frame.f_code.co_name == "sleep_til_ready":
            return True
        frame, depth = frame.f_back, depth - 1
    return False


def _sigterm_captured() -> bool:
    """Whether the run in progress received SIGTERM/SIGINT, which Dagster holds until its next step starts.

    Dagster has no public accessor for it; without one, a SIGTERM during a slot wait counts when the wait times out.
    """
    try:
        from dagster._utils.interrupts import check_captured_interrupt
    except ImportError:  # pragma: no cover - moved in a later Dagster
        return False
    return bool(check_captured_interrupt())


# ---- the daemon path ----

@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks failed the runs whose process died (killed, OOM, power loss) and frees the pool "
           "slots they held, so the next run of freshbooks_api / cleo_api does not wait forever. Requests no run.")
def dead_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    healed = heal(context.instance, judge_workers=True)
    for item in healed:
        context.log.warning(item.line())
    return dg.SkipReason("; ".join(item.line() for item in healed) or "no dead run holds anything")
