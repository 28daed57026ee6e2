"""A webhook's run of one day against a long run of another day, on an instance with the shipped dagster.yaml.

The queued run coordinator daemon is Dagster's own (one dequeue pass per ``dequeue``); only the run launcher is
Dagster's test double, so a dequeued run is recorded instead of started. Runs are ``sync_job`` runs created from
the job, so they carry the pools of its steps as a run the sensor requests does. A step holding a pool slot is a
real slot claimed in the instance's storage, as the executor claims it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import EmptyWorkspaceTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from freshcleo_pipeline.definitions import defs
from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.defs.sensors import PRIORITY_TAG, TRIGGER_TAG, webhook_inbox_sensor
from freshcleo_pipeline.ledger import Ledger, inbox

ROOT = Path(__file__).resolve().parents[2]
EXTRACT, DELIVER = "freshbooks_documents", "cleo_deliveries"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """The repository's dagster.yaml, with a launcher that records launches instead of starting processes."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    config["run_launcher"] = {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_config(str(home)) as inst:
        yield inst


def webhook_tags(ledger: Ledger, day: dt.datetime) -> dict[str, str]:
    """The tags of the run the sensor requests for an event of that day."""
    with ledger.begin() as conn:
        inbox.record_event(conn, callback_path="tok", account_id="xK9pQ", event_name="invoice.update",
                           object_id="7", fields={"name": "invoice.update", "object_id": "7"}, raw_form="raw",
                           received_at=day)
    resources = {"ledger": LedgerResource(url=ledger.url.render_as_string(hide_password=False))}
    with dg.DagsterInstance.ephemeral() as scratch, \
            dg.build_sensor_context(instance=scratch, resources=resources) as ctx:
        result = webhook_inbox_sensor(ctx)
    assert isinstance(result, dg.SensorResult) and result.run_requests
    (request,) = result.run_requests
    return {**request.tags, "dagster/partition": str(request.partition_key)}


class Queue:
    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.job = defs().resolve_job_def("sync_job")
        location = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="freshcleo_pipeline.definitions"),
                                               location_name="freshcleo_pipeline")
        self.origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "sync_job")

    def run(self, day: str, tags: dict[str, str], status: dg.DagsterRunStatus) -> str:
        return self.instance.create_run_for_job(self.job, status=status, remote_job_origin=self.origin,
                                                tags={"dagster/partition": day, **tags}).run_id

    def hold(self, run_id: str, step: str, pool: str) -> None:
        storage = self.instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(pool)  # as the executor does on a pool's first use
        assert storage.claim_concurrency_slot(pool, run_id, step, 0).is_claimed

    def release(self, run_id: str, step: str) -> None:
        self.instance.event_log_storage.free_concurrency_slot_for_step(run_id, step)

    def dequeue(self) -> list[str]:
        """One pass of the daemon; the runs it launched."""
        launcher = self.instance.run_launcher
        before = {r.run_id for r in launcher.queue()}  # type: ignore[attr-defined]
        with create_test_daemon_workspace_context(EmptyWorkspaceTarget(), self.instance) as context:
            list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(context))
        return [r.run_id for r in launcher.queue() if r.run_id not in before]  # type: ignore[attr-defined]


@pytest.fixture
def queue(instance: dg.DagsterInstance) -> Queue:
    return Queue(instance)


def test_the_shipped_instance_dequeues_every_two_seconds_with_one_slot_per_pool(
        instance: dg.DagsterInstance) -> None:
    assert instance.run_coordinator.dequeue_interval_seconds == 2  # type: ignore[attr-defined]
    assert instance.global_op_concurrency_default_limit == 1


def test_the_sensor_puts_its_runs_ahead_of_the_others(ledger: Ledger) -> None:
    tags = webhook_tags(ledger, dt.datetime(2025, 2, 1, 9, 30, tzinfo=dt.UTC))
    assert tags[TRIGGER_TAG] == "webhook_inbox"
    assert int(tags[PRIORITY_TAG]) > 0


def test_a_webhook_run_of_one_day_does_not_queue_behind_a_backfill_of_other_days(
        queue: Queue, ledger: Ledger) -> None:
    # A year's backfill: its first run (January) is extracting, the others wait in the queue.
    backfill = {"dagster/backfill": "year"}
    january = queue.run("2025-01-01", backfill, dg.DagsterRunStatus.STARTED)
    queue.hold(january, EXTRACT, "freshbooks_api")
    february = queue.run("2025-02-01", backfill, dg.DagsterRunStatus.QUEUED)
    march = queue.run("2025-03-01", backfill, dg.DagsterRunStatus.QUEUED)
    webhook = queue.run("2025-06-15", webhook_tags(ledger, dt.datetime(2025, 6, 15, 9, 30, tzinfo=dt.UTC)),
                        dg.DagsterRunStatus.QUEUED)

    # The protection: one FreshBooks extraction at a time, whoever asks.
    assert queue.dequeue() == []

    # January's extraction ends and its run goes on to upload to Cleo; February and March were queued first.
    queue.release(january, EXTRACT)
    queue.hold(january, DELIVER, "cleo_api")
    assert queue.dequeue() == [webhook]
    assert queue.instance.get_run_by_id(february).status == dg.DagsterRunStatus.QUEUED  # type: ignore[union-attr]
    assert queue.instance.get_run_by_id(march).status == dg.DagsterRunStatus.QUEUED  # type: ignore[union-attr]


def test_without_the_webhook_priority_the_same_run_would_wait_for_the_backfill(queue: Queue) -> None:
    backfill = {"dagster/backfill": "year"}
    january = queue.run("2025-01-01", backfill, dg.DagsterRunStatus.STARTED)
    queue.hold(january, EXTRACT, "freshbooks_api")
    february = queue.run("2025-02-01", backfill, dg.DagsterRunStatus.QUEUED)
    plain = queue.run("2025-06-15", {TRIGGER_TAG: "webhook_inbox"}, dg.DagsterRunStatus.QUEUED)

    queue.release(january, EXTRACT)
    assert queue.dequeue() == [february]
    assert queue.instance.get_run_by_id(plain).status == dg.DagsterRunStatus.QUEUED  # type: ignore[union-attr]


def test_deliveries_stay_one_at_a_time_for_the_webhook_run_too(queue: Queue, ledger: Ledger) -> None:
    # A long run of another day is uploading; the webhook's run, started meanwhile, reaches its own upload.
    long_run = queue.run("2025-01-01", {"dagster/backfill": "year"}, dg.DagsterRunStatus.STARTED)
    queue.hold(long_run, DELIVER, "cleo_api")
    webhook = queue.run("2025-06-15", webhook_tags(ledger, dt.datetime(2025, 6, 15, 9, 30, tzinfo=dt.UTC)),
                        dg.DagsterRunStatus.STARTED)
    storage = queue.instance.event_log_storage
    assert not storage.claim_concurrency_slot("cleo_api", webhook, DELIVER, 10).is_claimed

    queue.release(long_run, DELIVER)
    assert storage.claim_concurrency_slot("cleo_api", webhook, DELIVER, 10).is_claimed
