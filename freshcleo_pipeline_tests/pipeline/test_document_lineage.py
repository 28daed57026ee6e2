"""One document's life in the UI's own data: after a sync and an inbound poll, the document_lineage partition of an
invoice (found by its number, as the UI's partition search does) lists extract → normalize → X12 (ISA13) →
delivered → accepted, each with the run that did it, read back through Dagster's GraphQL API."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql
from sqlalchemy import select

from freshcleo_pipeline.defs.lineage import (
    PARTITIONS_NAME,
    Cursor,
    KnownPartitions,
    catch_up,
    known_keys,
    known_partitions,
    plan_lineage,
)
from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.ledger.audit import AuditEvent
from freshcleo_pipeline.ledger.schema import outbox
from freshcleo_pipeline.sync.trace_text import lineage_key
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

OBSERVATIONS = """
query Lineage($key: AssetKeyInput!, $partition: String!) {
  assetOrError(assetKey: $key) {
    ... on Asset {
      assetObservations(partitions: [$partition]) {
        partition
        description
        metadataEntries {
          label
          ... on TextMetadataEntry { text }
          ... on PipelineRunMetadataEntry { runId }
        }
      }
    }
  }
}
"""


def _entries(observation: dict[str, Any]) -> dict[str, str]:
    return {e["label"]: e.get("text") or e.get("runId") or "" for e in observation["metadataEntries"]}


def test_an_invoice_s_life_is_in_the_ui_by_its_number(sandbox_env: Callable[..., SandboxEnv],
                                                       dagster_instance: dg.DagsterInstance, tmp_path: Path) -> None:
    env = sandbox_env(freshbooks={"seed": 3, "invoices": 12, "days": 2})
    today = env.freshbooks.now().date()
    sync = env.sync(today - dt.timedelta(days=2), today, dagster_instance)
    inbound = env.inbound(dagster_instance)
    assert sync.success and inbound.success
    with env.ledger.begin() as conn:
        row = conn.execute(select(outbox.c.reference, outbox.c.source_id, outbox.c.isa13)
                           .where(outbox.c.kind == "invoice", outbox.c.ack_state == "accepted")
                           .order_by(outbox.c.id)).first()
    assert row is not None
    number, source_id, isa13 = row

    ledger = LedgerResource(url=env.settings.resolved_ledger_url())
    cursor = catch_up(dagster_instance, ledger)
    assert catch_up(dagster_instance, ledger, cursor) == cursor  # nothing new: nothing recorded twice

    # The UI's partition search matches substrings of keys: the number finds exactly this document.
    keys = dagster_instance.get_dynamic_partitions(PARTITIONS_NAME)
    (key,) = [k for k in keys if f"-{number}-" in k and k.endswith(f"-{source_id}")]
    assert key == f"invoice-{number}-{source_id}"

    module = tmp_path / "lineage_location.py"
    module.write_text(textwrap.dedent("""
        import dagster as dg
        from freshcleo_pipeline.defs.lineage import document_lineage, document_lineage_sensor
        defs = dg.Definitions(assets=[document_lineage], sensors=[document_lineage_sensor])
    """))
    with define_out_of_process_context(str(module), "defs", dagster_instance) as context:
        result = execute_dagster_graphql(context, OBSERVATIONS,
                                         {"key": {"path": ["document_lineage"]}, "partition": key})
    observed = result.data["assetOrError"]["assetObservations"]
    by_run = {_entries(o)["run"]: _entries(o) for o in observed}
    assert {sync.run_id, inbound.run_id} <= set(by_run)
    steps = by_run[sync.run_id]["events"].split(" → ")
    wanted = ["extracted", "normalized", "rendered", "delivered"]
    assert [s for s in steps if s in wanted] == wanted
    assert by_run[sync.run_id]["isa13"] == f"{isa13:09d}"
    assert by_run[sync.run_id]["partner"] and by_run[sync.run_id]["cleo_file_id"]
    assert by_run[inbound.run_id]["outcome"] == "ack_accepted"
    assert all(o["partition"] == key and o["description"] for o in observed)


def _event(n: int, kind: str, source: str, run: str | None, event: str = "extracted") -> AuditEvent:
    return AuditEvent(id=n, occurred_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC), kind=kind, account_id="acct",
                      source_id=source, event=event, partner_id=None, detail={"version": "v1"}, run_id=run)


def test_a_document_keeps_its_partition_and_each_run_is_one_observation() -> None:
    # First seen without a number (quarantined before normalizing, say): a later number does not split its life.
    existing = [lineage_key("invoice", "acct", "77", None)]
    assert existing == ["invoice-77"] and known_keys(existing) == {("invoice", "77"): "invoice-77"}
    events = [_event(1, "invoice", "77", "r1"), _event(2, "invoice", "77", "r1", "normalized"),
              _event(3, "invoice", "78", "r1"), _event(4, "invoice", "77", "r2", "delivered")]
    plan = plan_lineage(events, [], {("invoice", "acct", "77"): "INV 1", ("invoice", "acct", "78"): "INV...2"},
                        KnownPartitions.of(existing), Cursor(0, 5))
    assert [o.partition for o in plan.observations] == ["invoice-77", "invoice-INV.2-78", "invoice-77"]
    assert plan.new_keys == ["invoice-INV.2-78"]
    assert plan.observations[0].metadata["events"].value == "extracted → normalized"
    assert plan.cursor == Cursor(4, 5)
    assert lineage_key("x12_850", "acme-retail", "12/12/0001", "PO 7781") == "x12_850-PO-7781-acme-retail-12-12-0001"


def test_the_sensor_reads_only_the_partitions_added_since_its_last_tick(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["invoice-1", "invoice-2"])
        first = known_partitions(instance)
        assert first.keys == {"invoice-1", "invoice-2"} and first.by_document[("invoice", "2")] == "invoice-2"
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["invoice-A-3"])
        later = known_partitions(dg.DagsterInstance.from_ref(instance.get_ref()))  # a tick's own instance
        assert later is first and later.keys == {"invoice-1", "invoice-2", "invoice-A-3"}
        plan = plan_lineage([_event(1, "invoice", "3", "r1"), _event(2, "invoice", "4", "r1")], [],
                            {("invoice", "acct", "3"): "B"}, later, Cursor())
        assert [o.partition for o in plan.observations] == ["invoice-A-3", "invoice-4"]
        assert plan.new_keys == ["invoice-4"] and "invoice-4" not in later.keys
