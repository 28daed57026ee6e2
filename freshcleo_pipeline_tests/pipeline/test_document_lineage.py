"""One document's life in the UI's own data: after a sync and an inbound poll, the document_lineage partition of an
invoice (found by its number, as the UI's partition search does) lists extract → normalize → X12 (ISA13) →
delivered → accepted, each with the run that did it, read back through Dagster's GraphQL API. And one file's: the
ISA13 of a delivered interchange finds its interchange_lineage partition, whose metadata names the document_lineage
partitions of the documents it carries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql
from sqlalchemy import select

from freshcleo_pipeline.defs.lineage import (
    INTERCHANGES_NAME,
    PARTITIONS_NAME,
    Cursor,
    KnownPartitions,
    TickInterchanges,
    catch_up,
    interchange_key,
    known_keys,
    known_partitions,
    plan_lineage,
)
from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.ledger.audit import AuditEvent
from freshcleo_pipeline.ledger.lineage import InterchangeFacts
from freshcleo_pipeline.ledger.schema import interchanges, outbox
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
          ... on IntMetadataEntry { intValue }
          ... on MarkdownMetadataEntry { mdStr }
        }
      }
    }
  }
}
"""
PARTITION_KEYS = """
query Keys($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { partitionKeysByDimension { partitionKeys } } }
}
"""
LOCATION = """
import dagster as dg
from freshcleo_pipeline.defs.lineage import document_lineage, document_lineage_sensor, interchange_lineage
defs = dg.Definitions(assets=[document_lineage, interchange_lineage], sensors=[document_lineage_sensor])
"""


def _entries(observation: dict[str, Any]) -> dict[str, str]:
    return {e["label"]: str(e.get("text") or e.get("runId") or e.get("mdStr") or e.get("intValue") or "")
            for e in observation["metadataEntries"]}


def _location(tmp_path: Path) -> str:
    """A code location with the lineage assets, as the UI loads them."""
    module = tmp_path / "lineage_location.py"
    module.write_text(LOCATION)
    return str(module)


def test_an_invoice_s_life_is_in_the_ui_by_its_number(sandbox_env: Callable[..., SandboxEnv],
                                                       dagster_instance: dg.DagsterInstance, tmp_path: Path) -> None:
    env = sandbox_env(freshbooks={"seed": 3, "invoices": 12, "days": 2})
    today = env.freshbooks.now().date()
    sync = env.sync(today - dt.timedelta(days=2), today, dagster_instance)
    inbound = env.inbound(dagster_instance)
    assert sync.success and inbound.success
    with env.ledger.begin() as conn:
        row = conn.execute(select(outbox.c.reference, outbox.c.source_id, outbox.c.isa13, outbox.c.partner_id,
                                  interchanges.c.usage)
                           .join(interchanges, interchanges.c.id == outbox.c.interchange_id)
                           .where(outbox.c.kind == "invoice", outbox.c.ack_state == "accepted")
                           .order_by(outbox.c.id)).first()
    assert row is not None
    number, source_id, isa13, partner, usage = row

    ledger = LedgerResource(url=env.settings.resolved_ledger_url())
    cursor = catch_up(dagster_instance, ledger)
    assert catch_up(dagster_instance, ledger, cursor) == cursor  # nothing new: nothing recorded twice

    # The UI's partition search matches substrings of keys: the number finds exactly this document.
    keys = dagster_instance.get_dynamic_partitions(PARTITIONS_NAME)
    (key,) = [k for k in keys if f"-{number}-" in k and k.endswith(f"-{source_id}")]
    assert key == f"invoice-{number}-{source_id}"

    with define_out_of_process_context(_location(tmp_path), "defs", dagster_instance) as context:
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
    # Both the delivery and its 997 name the interchange's partition (the 997 by GS06/ST02, not by our file).
    assert by_run[sync.run_id]["interchange"] == by_run[inbound.run_id]["interchange"] \
        == interchange_key(partner, isa13, usage)
    assert all(o["partition"] == key and o["description"] for o in observed)


def test_a_delivered_interchange_is_in_the_ui_by_its_isa13(sandbox_env: Callable[..., SandboxEnv],
                                                           dagster_instance: dg.DagsterInstance,
                                                           tmp_path: Path) -> None:
    env = sandbox_env(freshbooks={"seed": 3, "invoices": 12, "days": 2})
    today = env.freshbooks.now().date()
    sync = env.sync(today - dt.timedelta(days=2), today, dagster_instance)
    assert sync.success
    with env.ledger.begin() as conn:
        file = conn.execute(select(interchanges.c.id, interchanges.c.partner_id, interchanges.c.isa13,
                                   interchanges.c.gs06, interchanges.c.file_name, interchanges.c.cleo_file_id,
                                   interchanges.c.usage)
                            .where(interchanges.c.state == "delivered", interchanges.c.document_count > 1)
                            .order_by(interchanges.c.id)).first()
        assert file is not None
        carried = conn.execute(select(outbox.c.kind, outbox.c.account_id, outbox.c.source_id, outbox.c.reference)
                               .where(outbox.c.interchange_id == file.id)).all()
    catch_up(dagster_instance, LedgerResource(url=env.settings.resolved_ledger_url()))

    with define_out_of_process_context(_location(tmp_path), "defs", dagster_instance) as context:
        def keys(asset: str) -> list[str]:
            found = execute_dagster_graphql(context, PARTITION_KEYS, {"key": {"path": [asset]}})
            (dimension,) = found.data["assetNodeOrError"]["partitionKeysByDimension"]
            return list(dimension["partitionKeys"])

        # What a person types: the ISA13 as the file says it (nine digits), or without its zeros.
        typed, short = f"{file.isa13:09d}", str(file.isa13)
        key = interchange_key(file.partner_id, file.isa13, file.usage)
        assert key.startswith(f"x12-{file.partner_id}-{typed}")  # "-test" follows for a test interchange
        found = [k for k in keys("interchange_lineage") if typed in k]
        assert key in found and key in [k for k in keys("interchange_lineage") if short in k]
        # Another partner's file may have the same ISA13 (each partner has its own sequence); the key says whose.
        assert all(k.startswith("x12-") and typed in k.split("-") for k in found)
        observed = execute_dagster_graphql(context, OBSERVATIONS, {"key": {"path": ["interchange_lineage"]},
                                                                   "partition": key})
        document_keys = set(keys("document_lineage"))
    by_run = {_entries(o)["run"]: _entries(o) for o in observed.data["assetOrError"]["assetObservations"]}
    facts = by_run[sync.run_id]
    assert facts["isa13"] == typed and facts["gs06"] == str(file.gs06) and facts["file_name"] == file.file_name
    assert facts["partner"] == file.partner_id and facts["state"] == "delivered"
    assert facts["cleo_file_id"] == file.cleo_file_id and file.cleo_file_id in facts["cleo_receipt"]
    assert facts["events"].split(" → ") == ["rendered", "delivered"]
    # The documents it carries, by their document_lineage partitions (number and FreshBooks id): as text and as a
    # markdown list, each a partition the UI has.
    listed = facts["documents"].splitlines()
    assert sorted(listed) == sorted(lineage_key(*row) for row in carried)
    assert all(f"-{source}" in k for k, (_, _, source, _) in zip(sorted(listed), sorted(carried, key=lambda r:
                                                                                         lineage_key(*r)), strict=True))
    assert set(listed) <= document_keys and int(facts["document_count"]) == len(carried)
    assert all(f"- `{k}`" in facts["document_list"] for k in listed)
    assert dagster_instance.has_dynamic_partition(INTERCHANGES_NAME, key)


def test_a_partner_s_po_is_found_by_its_number_and_our_997_by_its_isa13(sandbox_env: Callable[..., SandboxEnv],
                                                                       dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"invoices": 1})
    env.cleo.send_partner_document("acme-retail", "850", reference="ACME-PO-7781")
    assert env.inbound(dagster_instance).success
    with env.ledger.begin() as conn:
        (ack,) = conn.execute(select(interchanges.c.isa13, interchanges.c.usage, interchanges.c.file_name)
                              .where(interchanges.c.partner_id == "acme-retail",
                                     interchanges.c.transaction_set == "997")).all()
    catch_up(dagster_instance, LedgerResource(url=env.settings.resolved_ledger_url()))

    (po,) = [k for k in dagster_instance.get_dynamic_partitions(PARTITIONS_NAME) if "ACME-PO-7781" in k]
    assert po.startswith("x12_850-ACME-PO-7781-acme-retail-")
    key = interchange_key("acme-retail", ack.isa13, ack.usage)
    assert dagster_instance.has_dynamic_partition(INTERCHANGES_NAME, key)
    records = dagster_instance.fetch_observations(dg.AssetKey("interchange_lineage"), limit=10).records
    observed = [r.asset_observation for r in records if r.asset_observation is not None]
    assert observed and all(o.partition == key for o in observed)
    metadata = observed[0].metadata
    assert metadata["documents"].value == po and metadata["file_name"].value == ack.file_name
    assert metadata["state"].value == "delivered" and metadata["transaction_set"].value == "997"


def test_an_interchange_observation_per_run_names_its_documents() -> None:
    facts = InterchangeFacts(id=1, partner_id="acme-retail", transaction_set="810", usage="P", isa13=123, gs06=7,
                             file_name="acme-retail_810_000000123.x12", state="delivered", last_error=None,
                             cleo_file_id="f-1", cleo_receipt={"file_id": "f-1", "outcome": "created"},
                             documents=(("invoice", "acct", "77"), ("invoice", "acct", "78")))
    rendered = {"isa13": 123, "gs06": 7, "file_name": facts.file_name}
    events = [
        AuditEvent(id=1, occurred_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC), kind="invoice", account_id="acct",
                   source_id="77", event="rendered", partner_id="acme-retail", detail={**rendered, "st02": "0001"},
                   run_id="r1"),
        AuditEvent(id=2, occurred_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC), kind="invoice", account_id="acct",
                   source_id="78", event="rendered", partner_id="acme-retail", detail={**rendered, "st02": "0002"},
                   run_id="r1"),
        # The 997 names our set by GS06/ST02, not by our file.
        AuditEvent(id=3, occurred_at=dt.datetime(2026, 1, 3, tzinfo=dt.UTC), kind="invoice", account_id="acct",
                   source_id="78", event="ack_accepted", partner_id="acme-retail",
                   detail={"gs06": 7, "st02": "0002", "ack_kind": "997", "file": "997-in.x12"}, run_id="r2"),
    ]
    ticked = TickInterchanges({facts.file_name: facts},
                              {("acme-retail", ("invoice", "acct", "78"), 7, "0002"): facts.file_name},
                              KnownPartitions(name=INTERCHANGES_NAME))
    plan = plan_lineage(events, [], {("invoice", "acct", "77"): "INV-1"}, KnownPartitions.of(["invoice-78"]),
                        Cursor(), ticked)
    key = interchange_key("acme-retail", 123)
    assert key == "x12-acme-retail-000000123" and interchange_key("acme-retail", 123, "T") == key + "-test"
    assert plan.new_interchange_keys == [key] and plan.new_keys == ["invoice-INV-1-77"]
    files = [o for o in plan.observations if o.asset_key == dg.AssetKey("interchange_lineage")]
    assert [o.partition for o in files] == [key, key]  # one per run: rendered (r1), acknowledged (r2)
    made, acked = (o.metadata for o in files)
    assert made["documents"].value == "invoice-INV-1-77\ninvoice-78" and made["document_count"].value == 2
    assert made["state"].value == "ready" and made["isa13"].value == "000000123"
    assert "(2 sets)" in str(made["steps"].value)  # the same step on two sets is one line
    assert acked["acknowledgment"].value == "997 accepted: 1 set" and acked["state"].value == "delivered"
    documents = [o for o in plan.observations if o.asset_key == dg.AssetKey("document_lineage")]
    assert all(o.metadata["interchange"].value == key for o in documents)


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
