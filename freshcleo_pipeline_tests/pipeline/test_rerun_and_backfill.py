"""Exactly once over time: re-running partitions, a 30-day backfill over delivered days and a webhook delivered
twice add no file at Cleo; a document changed after delivery follows its partner's policy (replace → 05,
ignore → recorded and not sent, cancel + delete → 01), and the document's trail says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from freshcleo_pipeline.cli import main
from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.defs.runner import run_sync
from freshcleo_pipeline.defs.sensors import webhook_inbox_sensor
from freshcleo_pipeline.ledger import inbox
from freshcleo_pipeline.ledger.schema import interchanges, outbox
from freshcleo_pipeline.settings import get_settings
from freshcleo_pipeline.sync.trace import trace
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

UPLOAD = "/api/folders/{folder_id}/files"


def _checks_pass(result: dg.ExecuteInProcessResult) -> bool:
    return result.success and all(e.passed for e in result.get_asset_check_evaluations())


def _interchange_count(env: SandboxEnv) -> int:
    with env.ledger.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(interchanges)).scalar_one())


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield home


def test_rerun_and_a_30_day_backfill_add_no_file(
    sandbox_env: Callable[..., SandboxEnv], dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = sandbox_env(freshbooks={"seed": 13, "invoices": 60, "days": 6})
    today = env.freshbooks.now().date()
    first = today - dt.timedelta(days=6)
    instance = dg.DagsterInstance.get()
    try:
        assert _checks_pass(env.sync(first, today, instance))
        files = env.outbound_files()
        sets = env.outbound_sets()
        uploads, rendered = env.cleo.requests_to(UPLOAD, "POST"), _interchange_count(env)
        assert len(files) >= 4 and sum(sets.values()) > 40 and max(sets.values()) == 1

        rerun = env.sync(first, today, instance)
        assert _checks_pass(rerun)
    finally:
        instance.dispose()

    # `freshcleo backfill` over 30 days in 10-day runs, on this machine's Dagster home, as an operator runs it
    for variable, value in {"FRESHCLEO_DATA_DIR": str(env.settings.data_dir),
                            "FRESHCLEO_LEDGER_URL": env.settings.resolved_ledger_url(),
                            "FRESHBOOKS_API_URL": env.freshbooks.url, "FRESHBOOKS_AUTH_URL": env.freshbooks.url,
                            "CLEO_API_URL": env.cleo.url}.items():
        monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        backfill = CliRunner().invoke(main, ["backfill", "--from", (today - dt.timedelta(days=29)).isoformat(),
                                             "--to", today.isoformat(), "--chunk-days", "10"])
    finally:
        get_settings.cache_clear()
    assert backfill.exit_code == 0, backfill.output
    assert backfill.output.count(" ok") == 3, backfill.output

    with dg.DagsterInstance.get() as instance:  # the same home the CLI used
        runs = instance.get_runs()
    assert len(runs) == 5 and all(r.is_success for r in runs)
    assert env.outbound_files() == files  # no file added, none changed
    assert env.cleo.requests_to(UPLOAD, "POST") == uploads  # not even an upload attempted
    assert _interchange_count(env) == rendered  # and nothing rendered that waits to go out


def _delivered(env: SandboxEnv, partner: str, kind: str, skip: int = 0) -> tuple[str, str]:
    """(FreshBooks id, reference) of a document delivered to the partner."""
    with env.ledger.begin() as conn:
        row = conn.execute(select(outbox.c.source_id, outbox.c.reference).where(
            outbox.c.partner_id == partner, outbox.c.kind == kind, outbox.c.state == "delivered",
            outbox.c.purpose == "original").order_by(outbox.c.id).offset(skip).limit(1)).one()
    return str(row.source_id), str(row.reference)


def _events(env: SandboxEnv, kind: str, source_id: str) -> list[tuple[str, dict[str, object]]]:
    return [(e["event"], e["detail"]) for e in trace(env.ledger, kind, env.freshbooks.account_id, source_id).events]


def _webhook(env: SandboxEnv, event: str, object_id: str, at: dt.datetime) -> None:
    """A verified FreshBooks event as the receiver stores it."""
    fields = {"name": event, "object_id": object_id, "account_id": env.freshbooks.account_id,
              "business_id": str(env.freshbooks.business_id), "identity_id": str(env.freshbooks.identity_id)}
    with env.ledger.begin() as conn:
        inbox.record_event(conn, callback_path="cb", account_id=env.freshbooks.account_id, event_name=event,
                           object_id=object_id, fields=fields, raw_form="raw", received_at=at)


def _sensor_runs(env: SandboxEnv, instance: dg.DagsterInstance, cursor: str | None) -> tuple[list[str], str | None]:
    """One tick of the webhook sensor, its requested runs executed; returns (partitions run, new cursor)."""
    resources = {"ledger": LedgerResource(url=env.settings.resolved_ledger_url())}
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result = webhook_inbox_sensor(context)
    assert isinstance(result, dg.SensorResult)
    days = []
    for request in result.run_requests or []:
        day = dt.date.fromisoformat(str(request.partition_key))
        assert _checks_pass(run_sync(env.settings, day, day, instance, tags=dict(request.tags)))
        days.append(day.isoformat())
    return days, result.cursor


def test_changes_after_delivery_follow_each_partners_policy_once(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 8, "invoices": 80, "days": 4})
    fb = env.freshbooks
    today = fb.now().date()
    assert _checks_pass(env.sync(today - dt.timedelta(days=4), today, dagster_instance))
    before = env.outbound_sets()

    acme_invoice, acme_ref = _delivered(env, "acme-retail", "invoice")
    acme_deleted, _ = _delivered(env, "acme-retail", "invoice", skip=1)
    northwind_invoice, northwind_ref = _delivered(env, "northwind-grocers", "invoice")
    bolt_bill, bolt_ref = _delivered(env, "bolt-fasteners", "bill")
    coastal_bill, _ = _delivered(env, "coastal-packaging", "bill")
    fb.update_invoice(int(acme_invoice), notes="Dock 4, ask for Sam")  # replace → 810 BIG08 05
    fb.delete_invoice(int(acme_deleted))  # replace partner: a deletion is recorded, not sent
    fb.delete_invoice(int(northwind_invoice))  # cancel partner: 810 BIG08 01
    fb.update_bill(int(bolt_bill), overall_description="Rush order")  # replace → 850 BEG01 05
    fb.update_bill(int(coastal_bill), overall_description="Rush order")  # ignore: recorded, not sent

    assert _checks_pass(env.sync(today, today, dagster_instance))
    added = env.outbound_sets() - before
    assert dict(added) == {("acme-retail", "810", acme_ref, "05"): 1,
                           ("northwind-grocers", "810", northwind_ref, "01"): 1,
                           ("bolt-fasteners", "850", bolt_ref, "05"): 1}

    def purposes(events: list[tuple[str, dict[str, object]]], name: str) -> list[object]:
        return [detail.get("purpose") for event, detail in events if event == name]

    assert purposes(_events(env, "invoice", acme_invoice), "queued") == ["original", "replace"]
    assert purposes(_events(env, "bill", bolt_bill), "queued") == ["original", "replace"]
    assert purposes(_events(env, "invoice", northwind_invoice), "queued") == ["original", "cancel"]
    assert [e for e, _ in _events(env, "invoice", northwind_invoice)].count("delivered") == 2
    coastal = _events(env, "bill", coastal_bill)
    assert purposes(coastal, "queued") == ["original"]
    assert [d["reason"] for e, d in coastal if e == "not_sent"] == [
        f"changed after version {_version_sent(env, coastal_bill)} was sent; policy 'ignore'"]
    [(_, deleted)] = [(e, d) for e, d in _events(env, "invoice", acme_deleted) if e == "not_sent"]
    assert deleted["purpose"] == "cancel" and "policy is 'replace'" in str(deleted["reason"])

    # The same change again, now through webhooks: FreshBooks delivers the update event twice, then once more
    # after it was handled; every run it causes finds the version already sent.
    fb.update_invoice(int(acme_invoice), notes="Dock 5")
    delivered_files = set(env.outbound_files())
    received = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)  # past the sensor's settling delay
    _webhook(env, "invoice.update", acme_invoice, received)
    _webhook(env, "invoice.update", acme_invoice, received)
    days, cursor = _sensor_runs(env, dagster_instance, None)
    assert days == [received.date().isoformat()]  # the duplicate caused no run of its own
    added = env.outbound_sets() - before
    assert added[("acme-retail", "810", acme_ref, "05")] == 2  # the second replacement, once
    assert len(set(env.outbound_files()) - delivered_files) == 1

    files = env.outbound_files()
    _webhook(env, "invoice.update", acme_invoice, received + dt.timedelta(seconds=1))
    days, _ = _sensor_runs(env, dagster_instance, cursor)
    assert days == [received.date().isoformat()]
    assert _checks_pass(env.sync(today, today, dagster_instance))
    assert env.outbound_files() == files


def _version_sent(env: SandboxEnv, source_id: str) -> str:
    with env.ledger.begin() as conn:
        return str(conn.execute(select(outbox.c.version).where(
            outbox.c.source_id == source_id, outbox.c.kind == "bill", outbox.c.state == "delivered")).scalar_one())
