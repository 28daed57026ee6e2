"""Running the jobs for the CLI (demo, sync, backfill, inbound, quarantine retry), as ordinary runs.

A run started here is the run the UI would start: it is created from the code location the UI loads
(``workspace.yaml``, or the ``freshcleo_pipeline.definitions`` module where there is none), with that location's
job snapshot, execution plan and origin, so the UI can re-execute it and the daemon's run retries apply to it.
It then executes in this process, on the job loaded from that same location: a launched worker could not have
its pool waits bounded from here (``PoolWatch`` interrupts the main thread that runs the steps), and the CLI
would pay a code server's start-up for every run.

Configuration reaches the job as it reaches any run worker, through the environment: the settings given are
exported for the duration of the run, and the location's resources read them (``resources.build_resources``).

Each run carries the host and pid of the process running it (so a later process can tell when it died), and
neither waits unbounded for a pool slot: before it starts, and while it runs, a slot held by a live run is
waited for at most ``pool_wait_timeout_seconds`` (see ``run_health``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import (
    CodeLocationOrigin,
    InProcessCodeLocationOrigin,
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.workspace.load_target import ModuleTarget, WorkspaceFileTarget
from pydantic import SecretStr

from freshcleo_pipeline.defs import run_health
from freshcleo_pipeline.settings import Settings, get_settings

#: What ``freshcleo ui`` loads: the workspace file when run from the project's folder, else the module.
WORKSPACE_FILE = Path("workspace.yaml")
DEFINITIONS_MODULE = "freshcleo_pipeline.definitions"


def local_instance() -> dg.DagsterInstance:
    """This machine's instance: ``$DAGSTER_HOME``, or ``./.dagster_home`` with the repository's dagster.yaml."""
    if not os.environ.get("DAGSTER_HOME"):
        home = Path(".dagster_home").resolve()
        home.mkdir(exist_ok=True)
        if not (home / "dagster.yaml").exists() and Path("dagster.yaml").exists():
            shutil.copy("dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def code_location_origin() -> CodeLocationOrigin:
    """The origin of the code location the UI and the daemon load, as ``dagster dev -w``/``-m`` resolve it."""
    target = (WorkspaceFileTarget(paths=[str(WORKSPACE_FILE)]) if WORKSPACE_FILE.is_file()
              else ModuleTarget(module_name=DEFINITIONS_MODULE, attribute=None, working_directory=None,
                                location_name=None))
    origins = target.create_origins()
    if len(origins) != 1 or not isinstance(origins[0], ManagedGrpcPythonEnvCodeLocationOrigin):
        raise dg.DagsterInvariantViolationError(
            f"{WORKSPACE_FILE} must load one Python code location (found {len(origins)})")
    return origins[0]


@contextmanager
def settings_environment(settings: Settings) -> Iterator[None]:
    """The settings given, as the environment variables the code location reads, while the block runs.

    Only values set explicitly (by the environment, ``.env`` or the caller) are exported; the rest keep their
    defaults there as here. The environment is restored afterwards.
    """
    exported: dict[str, str] = {}
    for name in settings.model_fields_set:
        field = type(settings).model_fields[name]
        value = getattr(settings, name)
        if value is None or not field.alias:
            continue
        exported[field.alias] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    previous = {variable: os.environ.get(variable) for variable in exported}
    os.environ.update(exported)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for variable, value in previous.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        get_settings.cache_clear()


def _quiet(log_level: str) -> dict[str, Any]:
    """Console logging of the run in this process (the instance keeps every event whatever this says)."""
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def heal_instance(instance: dg.DagsterInstance, echo: run_health.Echo | None = None) -> list[str]:
    """Fail the runs of this host whose process died and free their slots; one line per run healed."""
    lines = [healed.line() for healed in run_health.heal(instance)]
    for line in lines:
        if echo:
            echo(line)
    return lines


def _create_run(location: CodeLocation, origin: CodeLocationOrigin, name: str, run_config: Mapping[str, Any],
                tags: Mapping[str, str], instance: dg.DagsterInstance) -> dg.DagsterRun:
    """A run of job ``name`` created as the webserver creates one: the location's job snapshot, execution plan,
    job tags and origin, with ``tags`` and this process's stamp added."""
    repository = next(iter(location.get_repositories().values()))
    remote_job = repository.get_full_job(name)
    plan = location.get_execution_plan(remote_job, run_config, step_keys_to_execute=None, known_state=None,
                                       instance=instance)
    return instance.create_run(
        job_name=name, run_id=str(uuid.uuid4()), run_config=run_config, status=dg.DagsterRunStatus.NOT_STARTED,
        tags={**remote_job.tags, **tags, **run_health.launch_tags()}, root_run_id=None, parent_run_id=None,
        step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
        execution_plan_snapshot=plan.execution_plan_snapshot, job_snapshot=remote_job.job_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot, asset_selection=None, asset_check_selection=None,
        resolved_op_selection=None, op_selection=None,
        # The origin of the UI's own location (not of the in-process copy loaded here): re-execution and run
        # retries look the job up there by this location's name.
        remote_job_origin=RemoteJobOrigin(RemoteRepositoryOrigin(origin, repository.name), name),
        job_code_origin=remote_job.get_python_origin(), asset_graph=repository.asset_graph)


def _execute(settings: Settings, name: str, instance: dg.DagsterInstance, tags: Mapping[str, str],
             log_level: str, echo: run_health.Echo | None) -> dg.JobExecutionResult:
    """One run of job ``name`` created from the code location, executed here, its pool waits bounded.

    Raises ``PoolWaitTimeout`` (or ``PoolWaitInterrupted`` on SIGTERM) when a slot stays held by a live run
    longer than ``settings.pool_wait_timeout_seconds``, before the run starts or while it waits inside.
    """
    origin = code_location_origin()
    # Dagster keeps the last job a ``ReconstructableJob`` loaded, process-wide, keyed by where the code is, not
    # by the environment it read: forget it, so the run reads the settings given here and not a previous run's.
    ReconstructableJob.get_repository_definition.cache_clear()
    ReconstructableJob.get_definition.cache_clear()
    with settings_environment(settings), InProcessCodeLocationOrigin(
            origin.loadable_target_origin, location_name=origin.location_name).create_location(instance) as location:
        job = location.get_reconstructable_job(location.get_repository_names()[0], name)
        pools = run_health.job_pools(job.get_definition())
        timeout = settings.pool_wait_timeout_seconds
        run_health.wait_for_pools(instance, pools, timeout, echo=echo)
        run = _create_run(location, origin, name, _quiet(log_level), tags, instance)
        with run_health.PoolWatch(instance, run.run_id, pools, timeout, echo=echo) as watch:
            result = execute_run(job, run, instance)
    if watch.verdict is not None:
        raise watch.verdict
    return result


def run_sync(settings: Settings, first: dt.date, last: dt.date, instance: dg.DagsterInstance,
             tags: dict[str, str] | None = None, log_level: str = "WARNING",
             echo: run_health.Echo | None = None) -> dg.JobExecutionResult:
    """One run of ``sync_job`` over the partition range [first, last]."""
    range_tags = {"dagster/asset_partition_range_start": first.isoformat(),
                  "dagster/asset_partition_range_end": last.isoformat(), **(tags or {})}
    return _execute(settings, "sync_job", instance, range_tags, log_level, echo)


def run_partition(settings: Settings, partition_key: str, instance: dg.DagsterInstance,
                  tags: dict[str, str] | None = None, log_level: str = "WARNING",
                  echo: run_health.Echo | None = None) -> dg.JobExecutionResult:
    """One run of ``sync_job`` for one day partition, as the daemon launches a sensor's ``RunRequest``."""
    return _execute(settings, "sync_job", instance, {"dagster/partition": partition_key, **(tags or {})},
                    log_level, echo)


def run_job(settings: Settings, name: str, instance: dg.DagsterInstance, tags: dict[str, str] | None = None,
            log_level: str = "WARNING", echo: run_health.Echo | None = None) -> dg.JobExecutionResult:
    return _execute(settings, name, instance, tags or {}, log_level, echo)


def check_results(result: dg.JobExecutionResult) -> list[tuple[str, bool]]:
    """(check name, passed) of every asset check a run evaluated."""
    return [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()]
