"""From a FreshBooks change to the file in Cleo through the webhook path, without the daemon.

The FreshBooks emulator fires its signed webhook at a real receiver, which stores the verified event in the
inbox; ``webhook_inbox_sensor`` is evaluated against a real Dagster instance; its ``RunRequest`` is executed
as the daemon would launch it (``sync_job``, that partition, those tags), in-process; the Cleo emulator then
holds the changed invoice's file. The daemon itself is exercised by ``benchmarks/webhook_latency.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import pytest

from freshcleo_pipeline.defs.partitions import partition_key_for
from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.defs.runner import run_partition
from freshcleo_pipeline.defs.sensors import TRIGGER_TAG, webhook_inbox_sensor
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.webhooks import CallbackApi, register_callbacks
from freshcleo_pipeline.ledger import inbox
from freshcleo_pipeline.service import BackgroundServer, build_app
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

PARTNER = "acme-retail"
EVENTS = ("invoice.create", "invoice.update")


@dataclass
class Hooked:
    """A sandbox whose invoice events reach a running receiver."""

    env: SandboxEnv
    instance: dg.DagsterInstance

    def inbox_rows(self) -> list[inbox.InboxRow]:
        with self.env.ledger.begin() as conn:
            return inbox.all_rows(conn)

    def wait_for_event(self, name: str, object_id: str, timeout: float = 15.0) -> inbox.InboxRow:
        assert self.env.freshbooks.wait_for_webhooks(timeout)
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.inbox_rows() if (r.event_name, r.object_id) == (name, object_id)]
            if found:
                return found[-1]
            assert time.monotonic() < deadline, f"no {name} event for invoice {object_id} in the inbox"
            time.sleep(0.05)

    def tick(self, cursor: str | None, timeout: float = 15.0) -> dg.SensorResult:
        """Evaluate the sensor until it requests runs (it holds rows younger than its settle time)."""
        resources = {"ledger": LedgerResource(url=self.env.settings.resolved_ledger_url())}
        deadline = time.monotonic() + timeout
        while True:
            with dg.build_sensor_context(instance=self.instance, resources=resources, cursor=cursor) as ctx:
                result = webhook_inbox_sensor(ctx)
            if isinstance(result, dg.SensorResult) and result.run_requests:
                return result
            assert time.monotonic() < deadline, f"the sensor requested no run: {result}"
            time.sleep(0.25)

    def acme_files(self, reference: str) -> dict[str, int]:
        """Purpose code → count of 810s for this invoice number in the partner's outbound folder."""
        found: dict[str, int] = {}
        for (partner, set_id, ref, purpose), count in self.env.outbound_sets().items():
            if (partner, set_id, ref) == (PARTNER, "810", reference):
                found[purpose] = found.get(purpose, 0) + count
        return found


@pytest.fixture
def hooked(sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> Iterator[Hooked]:
    env = sandbox_env()
    # The house budget (5 requests/s) would only slow the registration down.
    settings = env.settings.model_copy(update={"freshbooks_requests_per_second": 200.0})
    env.settings = settings
    with BackgroundServer(build_app(settings, env.ledger)) as server, \
            FreshBooksClient.from_settings(settings, env.ledger) as client:
        report = register_callbacks(CallbackApi(client.http, client.authenticator, client.account_id),
                                    env.ledger, settings.resolved_secret_key(), server.url, events=EVENTS, wait=20)
        assert report.unverified == []
        yield Hooked(env, dagster_instance)


def test_a_webhook_event_becomes_a_run_that_delivers_the_changed_invoice(hooked: Hooked) -> None:
    fb = hooked.env.freshbooks
    created = fb.create_invoice(customerid=fb.client_id_of("Acme Retail Stores"), lines=[
        {"name": "Hex bolt M8x40", "qty": "4", "unit_cost": {"amount": "18.40", "code": "USD"}}])
    invoice_id, number = str(created["id"]), str(created["invoice_number"])
    row = hooked.wait_for_event("invoice.create", invoice_id)
    assert hooked.acme_files(number) == {}  # nothing polls: only the sensor's run can deliver it

    result = hooked.tick(None)

    [request] = result.run_requests or []
    day = partition_key_for(row.received_at)
    assert (request.partition_key, request.run_key) == (day, f"inbox:{day}:{row.id}")
    assert request.tags[TRIGGER_TAG] == "webhook_inbox"
    run = run_partition(hooked.env.settings, day, hooked.instance, tags=dict(request.tags))
    assert run.success
    assert hooked.acme_files(number) == {"00": 1}
    stored = hooked.instance.get_run_by_id(run.run_id)
    assert stored is not None and stored.tags[TRIGGER_TAG] == "webhook_inbox"
    with hooked.env.ledger.begin() as conn:
        taken = {r.id: r.handled_run_id for r in inbox.all_rows(conn)}
    assert taken[row.id] == request.run_key

    # A later change of the delivered invoice: the next tick takes only the new event, and Acme's policy
    # (replace) sends a replacement next to the original.
    fb.update_invoice(int(invoice_id), lines=[
        {"name": "Hex bolt M8x40", "qty": "6", "unit_cost": {"amount": "18.40", "code": "USD"}}])
    update = hooked.wait_for_event("invoice.update", invoice_id)

    again = hooked.tick(result.cursor)

    [second] = again.run_requests or []
    assert second.run_key == f"inbox:{partition_key_for(update.received_at)}:{update.id}"
    rerun = run_partition(hooked.env.settings, str(second.partition_key), hooked.instance, tags=dict(second.tags))
    assert rerun.success
    assert hooked.acme_files(number) == {"00": 1, "05": 1}
