"""Running the jobs in-process on the current Dagster instance, for the CLI (demo, sync, backfill).

Runs started here are recorded in the instance like any other, so they appear in the UI with their
materializations, checks and logs.
"""

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import dagster as dg

from freshcleo_pipeline.defs import deliver, edi, extract, inbound, jobs, normalize, reference
from freshcleo_pipeline.defs.resources import build_resources
from freshcleo_pipeline.settings import Settings

ASSETS = [extract.freshbooks_documents, normalize.normalized_documents, edi.edi_interchanges,
          deliver.cleo_deliveries, inbound.cleo_inbound_files, reference.partner_directory]
CHECKS = [edi.edi_interchanges_are_valid, deliver.deliveries_reconcile_with_freshbooks,
          inbound.acknowledgments_on_time]


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


def run_sync(settings: Settings, first: dt.date, last: dt.date, instance: dg.DagsterInstance,
             tags: dict[str, str] | None = None, log_level: str = "WARNING") -> Any:
    """One run of ``sync_job`` over the partition range [first, last]."""
    job = _definitions(settings).resolve_job_def("sync_job")
    range_tags = {"dagster/asset_partition_range_start": first.isoformat(),
                  "dagster/asset_partition_range_end": last.isoformat(), **(tags or {})}
    return job.execute_in_process(instance=instance, tags=range_tags, raise_on_error=False,
                                  run_config=_quiet(log_level))


def run_partition(settings: Settings, partition_key: str, instance: dg.DagsterInstance,
                  tags: dict[str, str] | None = None, log_level: str = "WARNING") -> Any:
    """One run of ``sync_job`` for one day partition, as the daemon launches a sensor's ``RunRequest``."""
    job = _definitions(settings).resolve_job_def("sync_job")
    return job.execute_in_process(instance=instance, partition_key=partition_key, tags=tags or {},
                                  raise_on_error=False, run_config=_quiet(log_level))


def run_job(settings: Settings, name: str, instance: dg.DagsterInstance, tags: dict[str, str] | None = None,
            log_level: str = "WARNING") -> Any:
    job = _definitions(settings).resolve_job_def(name)
    return job.execute_in_process(instance=instance, tags=tags or {}, raise_on_error=False,
                                  run_config=_quiet(log_level))


def check_results(result: Any) -> list[tuple[str, bool]]:
    """(check name, passed) of every asset check a run evaluated."""
    return [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()]
