"""The production layout: Dagster's instance storage on PostgreSQL and the ledger on PostgreSQL, in separate
databases. One full run (sync, then the inbound poll) gives the same outcome as on SQLite: every routed document
once in its partner's folder as a valid transaction set, every one acknowledged, reconciliation passing, and the
runs, materializations and check results kept in Dagster's PostgreSQL storage."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator

import dagster as dg
import pytest
from sqlalchemy import func, select

from freshcleo_pipeline.ledger.schema import documents, outbox
from freshcleo_pipeline.x12 import validate_interchange
from freshcleo_pipeline_tests.fixtures.ledger import postgres_database
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

pytestmark = pytest.mark.postgres


@pytest.fixture
def dagster_pg_instance() -> Iterator[dg.DagsterInstance]:
    for url in postgres_database():
        with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}}) as instance:
            yield instance


def test_full_run_with_dagster_and_ledger_on_postgres(
    sandbox_env: Callable[..., SandboxEnv], pg_url: str, dagster_pg_instance: dg.DagsterInstance
) -> None:
    instance = dagster_pg_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    env = sandbox_env(freshbooks={"seed": 17, "invoices": 60, "days": 3}, ledger_url=pg_url)
    assert env.ledger.is_postgres
    today = env.freshbooks.now().date()
    first = today - dt.timedelta(days=3)

    sync = env.sync(first, today, instance)
    assert sync.success
    assert {e.check_name: e.passed for e in sync.get_asset_check_evaluations()} == {
        "edi_interchanges_are_valid": True, "deliveries_reconcile_with_freshbooks": True,
        "freshbooks_records_not_quarantined": True}
    inbound = env.inbound(instance)
    assert inbound.success
    assert {e.check_name: e.passed for e in inbound.get_asset_check_evaluations()} == {
        "acknowledgments_on_time": True, "inbound_files_not_quarantined": True,
        "no_new_mismatches": True}

    with env.ledger.begin() as conn:
        routed: dict[str, int] = dict(conn.execute(
            select(documents.c.partner_id, func.count()).where(documents.c.status == "routed")
            .group_by(documents.c.partner_id)).tuples().all())
        acks: dict[str, int] = dict(conn.execute(
            select(outbox.c.ack_state, func.count()).where(outbox.c.state == "delivered")
            .group_by(outbox.c.ack_state)).tuples().all())
    sets = env.outbound_sets()
    per_partner = Counter(partner for partner, *_ in sets.elements())
    assert sum(routed.values()) > 30 and set(routed) == {p.id for p in env.partners.partners}
    assert dict(per_partner) == routed and max(sets.values()) == 1
    assert acks == {"accepted": sum(routed.values())}
    for partner in env.partners.partners:
        for name, content in env.cleo.files_in(partner.cleo.outbound).items():
            assert validate_interchange(content.decode(), charset=partner.charset) == [], name

    # what the UI shows comes from Dagster's PostgreSQL storage
    reloaded = instance.get_run_by_id(sync.run_id)
    assert reloaded is not None and reloaded.is_success
    for asset in ("freshbooks_documents", "normalized_documents", "edi_interchanges", "cleo_deliveries",
                  "cleo_inbound_files"):
        assert instance.get_latest_materialization_event(dg.AssetKey(asset)) is not None, asset
    delivered = 0  # each day's materialization holds that day's documents; the days add up to the run's
    for record in instance.fetch_materializations(dg.AssetKey("cleo_deliveries"), limit=100).records:
        event = record.event_log_entry.asset_materialization
        assert event is not None and record.run_id == sync.run_id
        delivered += sum(int(str(v.value)) for k, v in event.metadata.items() if k.startswith("documents/"))
    assert delivered == sum(routed.values())
