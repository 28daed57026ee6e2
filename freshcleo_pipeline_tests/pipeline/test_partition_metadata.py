"""Per-partition metadata: after one run over three days, each day partition's materialization carries that
day's own figures, equal to the ledger's, and the three days add up to the run's; the run opened the ledger
once."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import dagster as dg
from sqlalchemy import func, select

from freshcleo_pipeline.defs import resources
from freshcleo_pipeline.ledger.schema import documents, outbox, source_snapshots
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

STAGES = ("freshbooks_documents", "normalized_documents", "edi_interchanges", "cleo_deliveries")


def _latest(instance: dg.DagsterInstance, asset: str, day: dt.date) -> tuple[str, dict[str, Any]]:
    """(run id, metadata values) of the partition's latest materialization."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[day.isoformat()]), limit=1).records
    assert len(records) == 1, (asset, day)
    event = records[0].asset_materialization
    assert event is not None and event.partition == day.isoformat()
    return records[0].run_id, {k: v.value for k, v in event.metadata.items()}


def _prefixed(metadata: dict[str, Any], prefix: str) -> dict[str, int]:
    """The non-zero entries ``prefix/<name>`` as name → count (a zero entry only keeps the day's plot going)."""
    return {k[len(prefix) + 1:]: v for k, v in metadata.items() if k.startswith(prefix + "/") and v}


def test_each_partition_carries_its_own_figures_and_they_add_up_to_the_run(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance, monkeypatch: Any
) -> None:
    env = sandbox_env(freshbooks={"seed": 23, "invoices": 60, "days": 3})
    today = env.freshbooks.now().date()
    days = [today - dt.timedelta(days=n) for n in (2, 1, 0)]
    opened: list[list[bool]] = []
    real = resources.open_ledger

    def counting(url: str) -> Any:
        ledger = real(url)
        disposed: list[bool] = []
        dispose = ledger.dispose
        ledger.dispose = lambda: (disposed.append(True), dispose())[1]  # type: ignore[method-assign]
        opened.append(disposed)
        return ledger

    monkeypatch.setattr(resources, "open_ledger", counting)
    result = env.sync(days[0], days[-1], dagster_instance)
    assert result.success
    # every asset and check of the run shared one ledger engine, disposed once when the run ended
    assert opened == [[True]]
    keys = {d.isoformat() for d in days}
    meta: dict[str, dict[dt.date, dict[str, Any]]] = {}
    for asset in STAGES:
        assert dagster_instance.get_materialized_partitions(dg.AssetKey(asset)) == keys, asset
        meta[asset] = {}
        for day in days:
            run_id, meta[asset][day] = _latest(dagster_instance, asset, day)
            assert run_id == result.run_id

    o, d, s = outbox.c, documents.c, source_snapshots.c
    with env.ledger.begin() as conn:
        for day in days:
            stored = dict(conn.execute(select(s.kind, func.count()).where(s.partition_date == day)
                                       .group_by(s.kind)).tuples().all())
            statuses = {f"{k}/{st}": n for k, st, n in conn.execute(
                select(d.kind, d.status, func.count()).where(d.partition_date == day).group_by(d.kind, d.status))}
            routed_money = sum((Decimal(t) for t in conn.execute(
                select(d.total).where(d.partition_date == day, d.status == "routed", d.kind == "invoice")).scalars()),
                Decimal(0))
            rendered = {f"{p}/{purpose}": n for p, purpose, n in conn.execute(
                select(o.partner_id, o.purpose, func.count()).where(o.partition_date == day,
                                                                    o.interchange_id.is_not(None))
                .group_by(o.partner_id, o.purpose))}
            delivered = dict(conn.execute(select(o.partner_id, func.count()).where(
                o.partition_date == day, o.state == "delivered").group_by(o.partner_id)).tuples().all())
            files = conn.execute(select(func.count(func.distinct(o.interchange_id))).where(
                o.partition_date == day, o.state == "delivered")).scalar_one()

            extract, normalize = meta["freshbooks_documents"][day], meta["normalized_documents"][day]
            edi, deliver = meta["edi_interchanges"][day], meta["cleo_deliveries"][day]
            assert _prefixed(extract, "new_versions") == stored and extract["new_versions"] == sum(stored.values())
            assert _prefixed(normalize, "status") == statuses
            assert normalize["dagster/row_count"] == sum(statuses.values())
            assert Decimal(str(normalize.get("routed_total/invoice:USD", 0))) == routed_money
            assert _prefixed(edi, "sets") == rendered and edi["dagster/row_count"] == sum(rendered.values())
            assert _prefixed(deliver, "documents") == delivered and deliver["files_delivered"] == files

    # each day differs from the others (no run figure repeated on every day), and the days add up to the run
    assert len({m["new_versions"] for m in meta["freshbooks_documents"].values()}) > 1
    run = {asset: meta[asset][days[0]]["run"] for asset in STAGES}
    assert all(meta[asset][day]["run"] == run[asset] for asset in STAGES for day in days)
    total = Counter[str]()
    for asset, name in (("normalized_documents", "dagster/row_count"), ("edi_interchanges", "dagster/row_count"),
                        ("cleo_deliveries", "dagster/row_count")):
        total[asset] = sum(meta[asset][day][name] for day in days)
    assert total["normalized_documents"] == run["normalized_documents"]["documents"] > 20
    assert total["edi_interchanges"] == run["edi_interchanges"]["sets"]
    assert run["edi_interchanges"]["sets_outside_partitions"] == 0
    assert total["cleo_deliveries"] == run["cleo_deliveries"]["documents_delivered"]
    assert run["cleo_deliveries"]["documents_outside_partitions"] == 0
    files_per_day = sum(meta["cleo_deliveries"][day]["files_delivered"] for day in days)
    assert files_per_day >= run["cleo_deliveries"]["files_delivered"] > 0
    with env.ledger.begin() as conn:
        in_days = conn.execute(select(func.count()).where(s.run_id == result.run_id,
                                                          s.partition_date.in_(days))).scalar_one()
    assert sum(meta["freshbooks_documents"][day]["new_versions"] for day in days) == in_days

    # the asset checks still attach to the run
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["deliveries_reconcile_with_freshbooks"] and checks["edi_interchanges_are_valid"]

