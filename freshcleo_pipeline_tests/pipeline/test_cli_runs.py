"""Runs started by the CLI are ordinary runs: the UI can re-execute them.

A 3-day ``freshcleo backfill`` runs as a separate process on a Dagster home holding the shipped dagster.yaml,
against emulators served by this process. Its run must carry the origin of the code location the UI loads
(workspace.yaml), and the UI's own re-execution (the ``launchPipelineReexecution`` mutation, whose parent-run
look-up failed with ``CheckError: Expected non-None value`` for runs without one) must create a run that the
instance's run launcher executes in a run worker and that succeeds.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster_graphql.test.utils import execute_dagster_graphql

from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "freshcleo_pipeline.cli"]
REEXECUTE = """
mutation Reexecute($parentRunId: String!) {
  launchPipelineReexecution(reexecutionParams: {parentRunId: $parentRunId, strategy: ALL_STEPS}) {
    __typename
    ... on LaunchRunSuccess { run { runId parentRunId } }
    ... on PythonError { message }
  }
}
"""


def _wait_until_finished(instance: dg.DagsterInstance, run_id: str, timeout: float) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while True:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        if run.is_finished or time.monotonic() > deadline:
            return run
        time.sleep(0.5)


@pytest.mark.timeout(600)
def test_cli_backfill_runs_have_an_origin_and_the_ui_reexecutes_them(
    sandbox_env: Callable[..., SandboxEnv], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 3, "webhook_delay": 0.0})
    today = env.freshbooks.now().date()
    first = today - dt.timedelta(days=2)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    configuration = {"DAGSTER_HOME": str(home), "FRESHCLEO_DATA_DIR": str(env.settings.data_dir),
                     "FRESHCLEO_LEDGER_URL": env.settings.resolved_ledger_url(),
                     "FRESHBOOKS_API_URL": env.freshbooks.url, "FRESHBOOKS_AUTH_URL": env.freshbooks.url,
                     "CLEO_API_URL": env.cleo.url}

    backfill = subprocess.run([*CLI, "backfill", "--from", first.isoformat(), "--to", today.isoformat()],
                              env={**os.environ, **configuration, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    said = re.search(rf"^sync {first}\.\.{today}: run ([0-9a-f-]{{36}}) ok", backfill.stdout, re.MULTILINE)
    assert said, backfill.stdout

    # Configuration reaches the UI's code location through the environment, as it does for `make ui`.
    for variable, value in configuration.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.chdir(ROOT)
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(said.group(1))
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.remote_job_origin is not None and run.job_code_origin is not None
        assert run.remote_job_origin.location_name == "freshcleo_pipeline"
        assert run.tags["dagster/asset_partition_range_start"] == first.isoformat()
        assert run.tags["dagster/asset_partition_range_end"] == today.isoformat()
        assert run.tags["freshcleo/trigger"] == "backfill"
        assert run.tags["dagster/max_retries"] == "1"  # the job's own tags, which run retries read

        with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(ROOT / "workspace.yaml")])) as process:
            workspace = process.create_request_context()
            answer = execute_dagster_graphql(workspace, REEXECUTE, {"parentRunId": run.run_id})
            assert answer.errors is None, answer.errors
            launched = answer.data["launchPipelineReexecution"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            child_id = launched["run"]["runId"]
            assert launched["run"]["parentRunId"] == run.run_id
            # The shipped dagster.yaml queues runs; dequeue it as the daemon does, through the run launcher.
            child = instance.get_run_by_id(child_id)
            assert child is not None
            if child.status == dg.DagsterRunStatus.QUEUED:
                instance.launch_run(child_id, workspace)
            finished = _wait_until_finished(instance, child_id, timeout=240)
        assert finished.status == dg.DagsterRunStatus.SUCCESS, [
            entry.message for entry in instance.all_logs(child_id)][-5:]
        assert finished.tags["dagster/asset_partition_range_start"] == first.isoformat()
