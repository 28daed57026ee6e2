"""Exactly once under faults and a crash, as the partner counts it: with Cleo consuming every upload at once (as
CIC routes uploads on), 429 bursts, 5xx, resets, lost upload responses and token expiry on both emulators, a sync
run killed with SIGKILL in the middle of delivery and then resumed leaves each partner having received exactly
one transaction set per document version — nothing lost, nothing doubled — over more than 1,000 documents.

The killed run is a separate process (``freshcleo backfill`` on its own Dagster home, configured by the shipped
dagster.yaml as the Makefile does: API pools limited to one slot, run retries, run monitoring) talking to
emulators served by the test process, with the ledger on a SQLite file both processes open. Cleo uploads are
slowed down so the kill lands while one upload is on its way: the emulator stores that file after the client
died and Cleo picks it up at once, which is the crash between upload and receipt the delivery stage must
survive without a second copy. The dead run keeps its ``cleo_api`` slot; the second ``freshcleo backfill`` marks
it failed, frees the slot, and finishes in bounded time. Uploads whose outcome is unknown are in doubt until the
partners' 997s prove them (``freshcleo inbound``); those that never reached Cleo are re-sent once their
partner's acknowledgment window has passed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import func, select

from freshcleo_pipeline.ledger import outbox as ledger_outbox
from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.schema import audit_events, documents, interchanges, outbox
from freshcleo_pipeline.sandbox.httpserver import Emulator, FaultRule
from freshcleo_pipeline.sync.inbound import poll_inbound
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

UPLOAD = "/api/folders/{folder_id}/files"
ACCOUNTING = "/accounting/account/"
BOOK = {"seed": 21, "invoices": 1000, "days": 4, "webhook_delay": 0.0}
SLOW_UPLOAD = 3.0  # seconds the emulator holds each upload before storing it, in the killed run
KILL_AFTER_STORED = 4  # uploads stored before the kill (of roughly ten interchanges)
SHIPPED_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"
CLI = [sys.executable, "-m", "freshcleo_pipeline.cli"]
BACKFILL = [*CLI, "backfill"]


def _expire_when(condition: Callable[[], bool], action: Callable[[], None], stop: threading.Event) -> threading.Thread:
    """Expire tokens once, at the moment the run reaches a point (a token dying mid-run)."""
    def watch() -> None:
        while not stop.is_set():
            if condition():
                action()
                return
            time.sleep(0.01)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _uploads_stored(env: SandboxEnv) -> int:
    return env.cleo.requests_to(UPLOAD, "POST", 201)


def _statuses(emulator: Emulator, status: int) -> int:
    return sum(n for (_, _, s), n in emulator.counters.items() if s == status)


def _inject_faults(env: SandboxEnv, *, slow_uploads: bool) -> None:
    fb, cl = env.freshbooks.faults, env.cleo.faults
    fb.add(FaultRule("status", status=429, retry_after=1, path_prefix=ACCOUNTING, remaining=3))  # a burst
    fb.add(FaultRule("status", status=503, path_prefix=ACCOUNTING, rate=0.08))
    fb.add(FaultRule("reset", path_prefix=ACCOUNTING, rate=0.04))
    cl.add(FaultRule("status", status=429, retry_after=1, path_prefix="/api/folders", method="GET", remaining=2))
    cl.add(FaultRule("status", status=502, path_prefix="/api/folders/", method="POST", remaining=1))
    cl.add(FaultRule("lost_response", path_prefix="/api/folders/", method="POST", remaining=2))
    cl.add(FaultRule("status", status=503, path_prefix="/api/folders", method="GET", rate=0.1))
    if slow_uploads:
        cl.add(FaultRule("slow", delay=SLOW_UPLOAD, path_prefix="/api/folders/", method="POST", rate=1.0))


@pytest.mark.slow
def test_killed_run_resumed_under_faults_delivers_each_document_version_once(
    sandbox_env: Callable[..., SandboxEnv], tmp_path: Path
) -> None:
    env = sandbox_env(freshbooks=BOOK, cleo={"pickup_delay": 0.0})  # picked up before any look-up
    today = env.freshbooks.now().date()
    first = today - dt.timedelta(days=BOOK["days"])
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(SHIPPED_DAGSTER_YAML.read_text())  # pools, retries: as shipped
    _inject_faults(env, slow_uploads=True)
    stop = threading.Event()
    _expire_when(lambda: env.freshbooks.requests_to(ACCOUNTING + "{account_id}/invoices/invoices") >= 3,
                 env.freshbooks.expire_access_tokens, stop)
    _expire_when(lambda: _uploads_stored(env) >= 1, env.cleo.expire_tokens, stop)

    child_env = {**os.environ, "DAGSTER_HOME": str(home), "FRESHCLEO_DATA_DIR": str(env.settings.data_dir),
                 "FRESHCLEO_LEDGER_URL": env.settings.resolved_ledger_url(), "FRESHBOOKS_API_URL": env.freshbooks.url,
                 "FRESHBOOKS_AUTH_URL": env.freshbooks.url, "CLEO_API_URL": env.cleo.url,
                 "FRESHBOOKS_REQUESTS_PER_SECOND": "50", "PYTHONPATH": str(Path.cwd())}
    log = tmp_path / "killed_run.log"
    with log.open("wb") as output:  # a file, not a pipe: a full pipe would stall the run
        child = subprocess.Popen([*BACKFILL, "--from", first.isoformat(), "--to", today.isoformat()],
                                 env=child_env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 150
        while _uploads_stored(env) < KILL_AFTER_STORED:
            assert child.poll() is None, f"the run ended before the kill: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "the run never reached delivery"
            time.sleep(0.02)
        # the next upload is sent ~0.5 s later (re-validation) and held SLOW_UPLOAD s by the emulator
        time.sleep(SLOW_UPLOAD / 2)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        stop.set()
    time.sleep(SLOW_UPLOAD + 0.5)  # the held upload completes at the emulator after its client died

    stored_at_kill = _uploads_stored(env)
    with env.ledger.begin() as conn:
        states = Counter(conn.execute(select(interchanges.c.state)).scalars())
        unconfirmed = set(conn.execute(select(interchanges.c.file_name)
                                       .where(interchanges.c.state != "delivered")).scalars())
    received = set(env.outbound_files())
    assert env.cleo.files_in("acme-retail/outbound") == {}  # Cleo consumed every upload
    assert KILL_AFTER_STORED <= stored_at_kill < sum(states.values()), (stored_at_kill, states)
    caught = unconfirmed & received
    assert caught, "no upload was caught between Cleo storing it and the ledger recording it"
    assert unconfirmed - received, "the kill came after the last upload"
    assert env.freshbooks.refresh_count >= 1 and _statuses(env.freshbooks, 401) >= 1
    assert _statuses(env.cleo, 401) >= 1
    for status in (429, 503):
        assert _statuses(env.freshbooks, status) >= 1, status

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (killed,) = instance.get_runs(dg.RunsFilter(job_name="sync_job"))
        assert killed.status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_info("cleo_api").active_run_ids == {killed.run_id}

    # resume: `freshcleo backfill` again on the same Dagster home, faults still on, tokens dead again
    env.cleo.faults.clear()
    env.freshbooks.faults.clear()
    _inject_faults(env, slow_uploads=False)
    env.freshbooks.expire_access_tokens()
    env.cleo.expire_tokens()
    resumed = subprocess.run([*BACKFILL, "--from", first.isoformat(), "--to", today.isoformat()], env=child_env,
                             capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (f"freshcleo: run {killed.run_id[:8]}… (pid {child.pid}) died without finishing; marked failed and "
            "freed its cleo_api slot") in resumed.stderr
    assert re.search(r"sync \S+: run \S+ ok;", resumed.stdout), resumed.stdout
    assert "edi_interchanges_are_valid passed" in resumed.stdout, resumed.stdout
    with env.ledger.begin() as conn:
        doubted = set(conn.execute(select(interchanges.c.file_name)
                                   .where(interchanges.c.state == "in_doubt")).scalars())
    assert caught <= doubted  # looked for after the crash, not there (consumed): in doubt, not sent again

    # The partners' 997s prove what reached them; what never did is re-sent once its window has passed.
    env.cleo.faults.clear()
    proved = subprocess.run([*CLI, "inbound"], env=child_env, capture_output=True, text=True, timeout=240)
    assert proved.returncode == 0, proved.stdout + proved.stderr
    with env.ledger.begin() as conn:
        left = ledger_outbox.in_doubt(conn)
    assert {ic.file_name for ic in left}.isdisjoint(env.outbound_files())  # these never reached a partner
    after_windows = dt.datetime.now(dt.UTC) + dt.timedelta(hours=max(p.ack_window_hours for p in env.partners.partners))
    assert poll_inbound(env.context(now=after_windows + dt.timedelta(minutes=1))).resent == len(left)
    final = subprocess.run([*BACKFILL, "--from", first.isoformat(), "--to", today.isoformat()], env=child_env,
                           capture_output=True, text=True, timeout=240)
    assert final.returncode == 0, final.stdout + final.stderr
    for check in ("edi_interchanges_are_valid", "deliveries_reconcile_with_freshbooks"):
        assert f"{check} passed" in final.stdout, final.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        for pool in ("freshbooks_api", "cleo_api"):
            info = instance.event_log_storage.get_concurrency_info(pool)
            assert not info.claimed_slots and not info.pending_steps, info

    with env.ledger.begin() as conn:
        routed = conn.execute(select(func.count()).select_from(documents)
                              .where(documents.c.status == "routed")).scalar_one()
        sent = Counter(conn.execute(select(outbox.c.partner_id, outbox.c.transaction_set, outbox.c.reference,
                                           outbox.c.purpose).where(outbox.c.state == "delivered")).tuples())
        receipts = {name: loads(r) for name, r in conn.execute(select(interchanges.c.file_name,
                                                                       interchanges.c.cleo_receipt)).tuples()}
        undelivered = conn.execute(select(func.count()).select_from(interchanges)
                                   .where(interchanges.c.state != "delivered")).scalar_one()
        doubted_ever = {loads(d)["file_name"] for d in conn.execute(
            select(audit_events.c.detail).where(audit_events.c.event == "upload_in_doubt")).scalars()}
    purpose_code = {"original": "00", "replace": "05", "cancel": "01"}
    expected = Counter({(p, ts, ref, "00" if ts == "820" else purpose_code[purpose]): n
                        for (p, ts, ref, purpose), n in sent.items()})
    in_cleo_sets = env.outbound_sets()

    assert routed >= 1000 and undelivered == 0
    assert sum(expected.values()) == routed  # nothing lost: every routed document has its delivery …
    assert max(expected.values()) == 1  # … each document version named by its own reference
    assert in_cleo_sets == expected  # … and the partners received exactly those sets, none twice
    assert not [r.file_name for r in env.cleo.partner_received() if r.duplicate_isa13]
    assert len(env.outbound_files()) == len(receipts) == len(env.cleo.partner_received())
    # the upload cut off by the kill, and those whose response was lost, were proven by the partners' 997s
    assert all(receipts[name]["outcome"] == "proven_by_ack" for name in caught)
    outcomes = Counter("resent" if r.get("resent") else r["outcome"] for r in receipts.values())
    assert outcomes["resent"] == len(left)
    assert outcomes["proven_by_ack"] + outcomes["resent"] == len(doubted_ever) >= len(caught) + 2, outcomes
