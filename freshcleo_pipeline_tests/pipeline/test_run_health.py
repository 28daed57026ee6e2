"""Self-healing runs on an instance with the shipped dagster.yaml (pools with ``default_limit: 1``): a run whose
process died is marked failed and its slots freed; a slot held by a live run is waited for, at most
``FRESHCLEO_POOL_WAIT_TIMEOUT_SECONDS``, then the command fails naming the run that holds it; SIGTERM ends the
wait at once — before the run starts (the CLI) and inside it (``PoolWatch``).

A "holder" is a run record stamped with the host, pid and start time of a real process (``sleep``) and holding a
real slot in the instance, which is what a CLI run leaves behind when it is killed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from freshcleo_pipeline import processes
from freshcleo_pipeline.defs import run_health
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "freshcleo_pipeline.cli"]


@pytest.fixture
def shipped_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the repository's dagster.yaml, as the Makefile prepares it."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


@pytest.fixture
def instance(shipped_home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(shipped_home)) as inst:
        yield inst


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


def _holder(instance: dg.DagsterInstance, process: subprocess.Popen[bytes], pool: str, job: str = "sync_job") -> str:
    """A STARTED run of ``process`` holding a slot of ``pool``."""
    run_id = str(uuid.uuid4())
    started = processes.process_started_at(process.pid) or time.time()
    instance.add_run(dg.DagsterRun(job_name=job, run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags={
        run_health.HOST_TAG: processes.this_host(), run_health.PID_TAG: str(process.pid),
        run_health.PID_STARTED_TAG: f"{started:.2f}"}))
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(pool)
    assert storage.claim_concurrency_slot(pool, run_id, "step", 0).is_claimed
    return run_id


def _held(instance: dg.DagsterInstance, pool: str) -> set[str]:
    return instance.event_log_storage.get_concurrency_info(pool).active_run_ids


def test_shipped_instance_limits_the_api_pools(instance: dg.DagsterInstance) -> None:
    assert instance.event_log_storage.supports_global_concurrency_limits
    assert instance.event_log_storage.get_pool_config().default_pool_limit == 1


def test_a_dead_run_is_marked_failed_and_its_slot_freed_a_live_one_is_not(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen[bytes]
) -> None:
    doomed = subprocess.Popen(["sleep", "300"])
    dead = _holder(instance, doomed, "freshbooks_api")
    live = _holder(instance, sleeper, "cleo_api")
    doomed.kill()
    doomed.wait()

    healed = run_health.heal(instance)

    assert [h.line() for h in healed] == [
        f"freshcleo: run {dead[:8]}… (pid {doomed.pid}) died without finishing; marked failed and freed its "
        "freshbooks_api slot"]
    run = instance.get_run_by_id(dead)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    failure = instance.all_logs(dead, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert f"pid {doomed.pid}" in failure[-1].message and "killed or crashed" in failure[-1].message
    assert _held(instance, "freshbooks_api") == set()
    assert instance.get_run_by_id(live).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
    assert _held(instance, "cleo_api") == {live}
    assert run_health.heal(instance) == []  # healing twice changes nothing


def test_a_reused_pid_does_not_keep_a_dead_run_alive(instance: dg.DagsterInstance,
                                                     sleeper: subprocess.Popen[bytes]) -> None:
    run_id = _holder(instance, sleeper, "freshbooks_api")
    instance.add_run_tags(run_id, {run_health.PID_STARTED_TAG: f"{time.time() - 3600:.2f}"})  # an older process
    assert [h.run_id for h in run_health.heal(instance)] == [run_id]


def _cli_env(home: Path, tmp_path: Path, timeout: int, env: SandboxEnv) -> dict[str, str]:
    """The CLI pointed at running emulators (it checks they answer before launching anything)."""
    return {**os.environ, "DAGSTER_HOME": str(home), "FRESHCLEO_DATA_DIR": str(tmp_path / "data"),
            "FRESHCLEO_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
            "FRESHCLEO_POOL_WAIT_TIMEOUT_SECONDS": str(timeout), "FRESHBOOKS_API_URL": env.freshbooks.url,
            "FRESHBOOKS_AUTH_URL": env.freshbooks.url, "CLEO_API_URL": env.cleo.url}


def test_cli_gives_up_waiting_for_a_slot_naming_the_run_that_holds_it(
    instance: dg.DagsterInstance, shipped_home: Path, tmp_path: Path, sleeper: subprocess.Popen[bytes],
    sandbox_env: Callable[..., SandboxEnv]
) -> None:
    holder = _holder(instance, sleeper, "freshbooks_api")
    begun = time.monotonic()
    cli_env = _cli_env(shipped_home, tmp_path, 2, sandbox_env(freshbooks={"invoices": 1}))
    done = subprocess.run([*CLI, "sync"], env=cli_env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert re.search(rf"error: waiting for pool freshbooks_api: held by run {holder} \(started \d{{4}}-\d\d-\d\d "
                     rf"[\d:]+ UTC, pid {sleeper.pid}, STARTED\); gave up after 2 s", done.stderr), done.stderr
    assert time.monotonic() - begun < 60
    assert instance.get_runs(dg.RunsFilter(job_name="sync_job")) == [instance.get_run_by_id(holder)]  # none started


def test_sigterm_ends_the_wait_for_a_slot_at_once(
    instance: dg.DagsterInstance, shipped_home: Path, tmp_path: Path, sleeper: subprocess.Popen[bytes],
    sandbox_env: Callable[..., SandboxEnv]
) -> None:
    _holder(instance, sleeper, "cleo_api")
    log = tmp_path / "cli.log"
    cli_env = _cli_env(shipped_home, tmp_path, 600, sandbox_env(freshbooks={"invoices": 1}))
    with log.open("w") as output:
        child = subprocess.Popen([*CLI, "inbound"], env=cli_env, stdout=output,
                                 stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while "waiting for pool cleo_api" not in log.read_text():
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        begun = time.monotonic()
        assert child.wait(10) != 0
        assert time.monotonic() - begun < 5
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "interrupted (SIGTERM) while waiting for pool cleo_api" in log.read_text()


@dg.op(pool="freshbooks_api")
def _api_call() -> int:
    return 1


@dg.job(executor_def=dg.in_process_executor)
def _one_api_step() -> None:
    _api_call()


def test_a_run_waiting_inside_for_a_slot_gives_up_after_the_timeout(
    instance: dg.DagsterInstance, sleeper: subprocess.Popen[bytes]
) -> None:
    """A slot taken after the pre-start check: Dagster's own wait is bounded by the watcher, the run fails with
    the reason and its queued claim is released."""
    holder = _holder(instance, sleeper, "freshbooks_api")
    run_id = str(uuid.uuid4())
    begun = time.monotonic()
    with run_health.PoolWatch(instance, run_id, ["freshbooks_api"], 2, poll_seconds=0.5) as watch:
        result = _one_api_step.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
    assert time.monotonic() - begun < 30
    assert isinstance(watch.verdict, run_health.PoolWaitTimeout)
    assert f"held by run {holder}" in str(watch.verdict)
    assert not result.success
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
    pending = instance.event_log_storage.get_concurrency_info("freshbooks_api").pending_steps
    assert [p.run_id for p in pending if p.run_id == run_id] == []


def test_a_run_waiting_inside_proceeds_once_the_dead_holder_is_healed(
    instance: dg.DagsterInstance
) -> None:
    doomed = subprocess.Popen(["sleep", "300"])
    holder = _holder(instance, doomed, "freshbooks_api")
    run_id = str(uuid.uuid4())
    lines: list[str] = []
    with run_health.PoolWatch(instance, run_id, ["freshbooks_api"], 60, echo=lines.append, poll_seconds=0.5):
        killer = subprocess.Popen(["sh", "-c", f"sleep 2; kill -9 {doomed.pid}"])
        result = _one_api_step.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
    killer.wait()
    doomed.wait()
    assert result.success
    assert lines and lines[0].startswith(f"freshcleo: run {holder[:8]}… (pid {doomed.pid}) died without finishing")


def test_dead_runs_sensor_heals_from_the_daemon(instance: dg.DagsterInstance) -> None:
    doomed = subprocess.Popen(["sleep", "300"])
    dead = _holder(instance, doomed, "cleo_api")
    doomed.kill()
    doomed.wait()
    with dg.build_sensor_context(instance=instance) as context:
        outcome = run_health.dead_runs_sensor(context)
    assert isinstance(outcome, dg.SkipReason) and dead[:8] in (outcome.skip_message or "")
    assert _held(instance, "cleo_api") == set()
