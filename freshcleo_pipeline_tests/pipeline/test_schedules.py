"""The polling schedules target the partitions users expect, and the code location holds every stage."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from freshcleo_pipeline.definitions import defs
from freshcleo_pipeline.defs.partitions import daily_partitions


def _partitions(name: str, moment: dt.datetime) -> list[str | None]:
    location = defs()
    schedule = location.resolve_schedule_def(name)
    with dg.build_schedule_context(scheduled_execution_time=moment,
                                   repository_def=location.get_repository_def()) as context:
        result = schedule.evaluate_tick(context)
    return [request.partition_key for request in result.run_requests or []]


def test_polling_targets_today_and_the_nightly_pass_yesterday() -> None:
    late = dt.datetime(2026, 3, 8, 23, 45, tzinfo=dt.UTC)
    assert _partitions("poll_today_schedule", late) == ["2026-03-08"]
    assert _partitions("finalize_yesterday_schedule", dt.datetime(2026, 3, 9, 2, 15, tzinfo=dt.UTC)) == [
        "2026-03-08"]
    assert daily_partitions.has_partition_key(dt.datetime.now(dt.UTC).date().isoformat())


def test_the_code_location_holds_every_stage() -> None:
    location = defs()
    assert {key.to_user_string() for key in location.resolve_all_asset_keys()} == {
        "freshbooks_documents", "normalized_documents", "edi_interchanges", "cleo_deliveries",
        "cleo_inbound_files", "partner_directory"}
    checks = {key.name for key in location.resolve_asset_graph().asset_check_keys}
    assert checks == {"edi_interchanges_are_valid", "deliveries_reconcile_with_freshbooks",
                      "acknowledgments_on_time"}
    for job in ("sync_job", "inbound_job", "partner_directory_job"):
        location.resolve_job_def(job)
    location.resolve_sensor_def("webhook_inbox_sensor")
    location.resolve_schedule_def("inbound_poll_schedule")
