"""Running the jobs in-process on the current Dagster instance, for the CLI (demo, sync, backfill).

Runs started here are recorded in the instance like any other, so they appear in the UI with their
materializations, checks and logs. Each carries the host and pid of the process running it (so a later process
can tell when it died), and neither waits unbounded for a pool slot: before it starts, and while it runs, a slot
held by a live run is waited for at most ``pool_wait_timeout_seconds`` (see ``run_health``).
"""

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import dagster as dg

from freshcleo_pipeline.defs import (
    deliver,
    edi,
    extract,
    inbound,
    jobs,
    normalize,
    quarantine,
    reference,
    run_health,
)
from freshcleo_pipeline.defs.resources import build_resources
from freshcleo_pipeline.settings import Settings

ASSETS = [extract.freshbooks_documents, normalize.normalized_documents, edi.edi_interchanges,
          deliver.cleo_deliveries, inbound.cleo_inbound_files, reference.partner_directory]
CHECKS = [edi.edi_interchanges_are_valid, deliver.deliveries_reconcile_with_freshbooks,
          inbound.acknowledgments_on_time,
          quarantine.freshbooks_records_not_quarantined, quarantine.inbound_files_not_quarantined]


def local_instance() -> dg.DagsterInstance:
    """This machine's instance: ``$DAGSTER_HOME``, or ``./.dagster_home`` with the repository's dagster.yaml."""
    if not os.environ.get("DAGSTER_HOME"):
        home = Path(".dagster_home").resolve()
        home.mkdir(exist_ok=True)
        if not (home / "dagster.yaml").exists() and Path("dagster.yaml").exists():
            shutil.copy("dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def _definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=ASSETS, asset_checks=CHECKS, resources=build_resources(settings),
                          jobs=[jobs.sync_job, jobs.inbound_job, jobs.partner_directory_job])


def _quiet(log_level: str) -> dict[str, Any]:
    """Console logging of the in-process run (the instance keeps every event whatever this says)."""
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def heal_instance(instance: dg.DagsterInstance, echo: run_health.Echo | None = None) -> list[str]:
    """Fail the runs of this host whose process died and free their slots; one line per run healed."""
    lines = [healed.line() for healed in run_health.heal(instance)]
    for line in lines:
        if echo:
            echo(line)
    return lines


def _execute(settings: Settings, name: str, instance: dg.DagsterInstance, tags: dict[str, str],
             log_level: str, echo: run_health.Echo | None, **options: Any) -> Any:
    """One in-process run of job ``name``, stamped with this process, its pool waits bounded.

    Raises ``PoolWaitTimeout`` (or ``PoolWaitInterrupted`` on SIGTERM) when a slot stays held by a live run
    longer than ``settings.pool_wait_timeout_seconds``, before the run starts or while it waits inside.
    """
    job = _definitions(settings).resolve_job_def(name)
    pools = run_health.job_pools(job)
    timeout = settings.pool_wait_timeout_seconds
    run_health.wait_for_pools(instance, pools, timeout, echo=echo)
    run_id = str(uuid.uuid4())
    with run_health.PoolWatch(instance, run_id, pools, timeout, echo=echo) as watch:
        result = job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False,
                                        tags={**tags, **run_health.launch_tags()}, run_config=_quiet(log_level),
                                        **options)
    if watch.verdict is not None:
        raise watch.verdict
    return result


def run_sync(settings: Settings, first: dt.date, last: dt.date, instance: dg.DagsterInstance,
             tags: dict[str, str] | None = None, log_level: str = "WARNING",
             echo: run_health.Echo | None = None) -> Any:
    """One run of ``sync_job`` over the partition range [first, last]."""
    range_tags = {"dagster/asset_partition_range_start": first.isoformat(),
                  "dagster/asset_partition_range_end": last.isoformat(), **(tags or {})}
    return _execute(settings, "sync_job", instance, range_tags, log_level, echo)


def run_partition(settings: Settings, partition_key: str, instance: dg.DagsterInstance,
                  tags: dict[str, str] | None = None, log_level: str = "WARNING",
                  echo: run_health.Echo | None = None) -> Any:
    """One run of ``sync_job`` for one day partition, as the daemon launches a sensor's ``RunRequest``."""
    return _execute(settings, "sync_job", instance, tags or {}, log_level, echo, partition_key=partition_key)


def run_job(settings: Settings, name: str, instance: dg.DagsterInstance, tags: dict[str, str] | None = None,
            log_level: str = "WARNING", echo: run_health.Echo | None = None) -> Any:
    return _execute(settings, name, instance, tags or {}, log_level, echo)


def check_results(result: Any) -> list[tuple[str, bool]]:
    """(check name, passed) of every asset check a run evaluated."""
    return [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()]
