"""Routing and rendering that follow extraction page by page leave partners with exactly what a run that streams
nothing leaves them: the same transaction sets, each once, in the same number of files, and the run's figures
count the streamed work. Real emulators over loopback, real Dagster runs with the shipped job."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from sqlalchemy import event as sql_event

from freshcleo_pipeline.documents import DocumentKind
from freshcleo_pipeline.ledger import snapshots
from freshcleo_pipeline.sync.extract import extract
from freshcleo_pipeline.sync.render import RenderSummary, plan
from freshcleo_pipeline.sync.route import route
from freshcleo_pipeline.sync.stream import Carried, Cursor, Job, _pass
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

BUSY_DAY = {"seed": 5, "invoices": 2100, "days": 1, "webhook_delay": 0.0}


def _run_figures(result: Any, asset: str) -> dict[str, Any]:
    """The run-level figures of an asset's materializations (the ``run`` entry of any of its partitions)."""
    for event in result.get_asset_materialization_events():
        if event.asset_key == dg.AssetKey(asset):
            metadata = event.step_materialization_data.materialization.metadata
            if "run" in metadata:
                return dict(metadata["run"].value)
    raise AssertionError(f"no run figures for {asset}")


def _sync(env: SandboxEnv, instance: dg.DagsterInstance) -> Any:
    today = env.freshbooks.now().date()
    result = env.sync(today - dt.timedelta(days=1), today, instance)
    assert result.success
    return result


def test_streamed_runs_send_what_unstreamed_runs_send(sandbox_env: Callable[..., SandboxEnv], tmp_path: Path) -> None:
    received: list[Counter[tuple[str, str, str, str]]] = []
    files: list[Counter[tuple[str, str]]] = []
    for after in ("0", "1"):
        env = sandbox_env(freshbooks=BUSY_DAY, ledger_url=f"sqlite:///{tmp_path / f'ledger-{after}.db'}",
                          settings={"FRESHCLEO_STREAM_AFTER_PAGES": after})
        with dg.instance_for_test() as instance:
            result = _sync(env, instance)
        extract = _run_figures(result, "freshbooks_documents")
        edi = _run_figures(result, "edi_interchanges")
        sets = env.outbound_sets()
        assert set(sets.values()) == {1}  # every set received once
        assert edi["sets"] == sum(sets.values())  # the streamed sets are counted in the run's figures
        if after == "0":
            assert extract["streamed_passes"] == 0
        else:
            assert extract["streamed_passes"] > 0
        per_file: Counter[tuple[str, str]] = Counter()
        for name in env.outbound_files():
            partner, set_id, _isa13 = name.rsplit("_", 2)
            per_file[(partner, set_id)] += 1
        received.append(sets)
        files.append(per_file)
    assert received[0] == received[1]
    assert files[0] == files[1]
    by_kind: Counter[tuple[str, str]] = Counter()
    for partner, set_id, _reference, _purpose in received[1]:
        by_kind[(partner, set_id)] += 1
    assert max(by_kind.values()) > 500  # some partner's sets fill whole files while the run extracts
    for key, count in by_kind.items():
        assert files[1][key] == math.ceil(count / 500), key


def test_a_pass_goes_on_from_where_the_last_one_ended(sandbox_env: Callable[..., SandboxEnv]) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 300, "days": 1, "webhook_delay": 0.0})
    ctx = env.context()
    today = env.freshbooks.now().date()
    days = [today - dt.timedelta(days=1), today]
    with ctx.freshbooks() as client:
        account = client.account_id
    job = Job(settings=env.settings, ledger_url=env.ledger.url.render_as_string(hide_password=False),
              partners=env.partners, run_id="streamed-run", days=days, account_id=account)
    work, cursor = Carried(), Cursor()

    extract(ctx, days, (DocumentKind.INVOICE,))
    _pass(ctx, job, work, cursor)  # the first pass reads the days whole
    assert cursor.snapshot is not None
    with env.ledger.begin() as conn:
        documents_before = snapshots.high_water(conn)[1]

    extract(ctx, days, (DocumentKind.PAYMENT, DocumentKind.BILL))
    with env.ledger.begin() as conn:
        stored = {kind: len(snapshots.latest_ids_in_partitions(conn, kind, account, days, above=cursor.snapshot))
                  for kind in ("invoice", "payment", "bill")}
    assert stored["payment"] and stored["bill"]
    # The next pass decides what was stored since the last one, and no invoice the first pass decided again.
    decided = route(ctx, days, account, above=cursor.snapshot)
    assert sum(n for (kind, _status), n in decided.statuses.items() if kind == "invoice") == stored["invoice"]
    assert sum(decided.statuses.values()) == sum(stored.values())
    summary = RenderSummary()
    plan(ctx, days, account, summary, above=documents_before)
    assert sum(summary.enqueued.values()) > 0
    # Whole passes after the streamed ones find nothing left: the cursor lost nothing.
    again = RenderSummary()
    plan(ctx, days, account, again)
    assert sum(again.enqueued.values()) == 0
    with env.ledger.begin() as conn:
        latest = [i for kind in ("invoice", "payment", "bill")
                  for i in snapshots.latest_ids_in_partitions(conn, kind, account, days)]
        assert set(snapshots.decisions_for_snapshots(conn, latest)) == set(latest)


def test_no_payment_is_ever_stored_without_its_invoice(sandbox_env: Callable[..., SandboxEnv]) -> None:
    """The streaming process may read the ledger between any two of extraction's commits: at every commit, each
    stored payment's invoice must be stored already (else a pass decides the payment invalid for want of it)."""
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 300, "days": 1, "webhook_delay": 0.0})
    ctx = env.context()
    today = env.freshbooks.now().date()
    orphans: list[int] = []

    def check(conn: Any) -> None:
        orphans.append(conn.exec_driver_sql(
            "SELECT count(*) FROM source_snapshots p WHERE p.kind = 'payment' AND NOT EXISTS (SELECT 1 FROM "
            "source_snapshots i WHERE i.kind = 'invoice' AND i.account_id = p.account_id AND i.source_id = "
            "json_extract(p.payload, '$.invoiceid'))").scalar())

    sql_event.listen(env.ledger.engine, "commit", check)
    try:
        # Payments alone: every invoice they pay is fetched as a parent.
        summary = extract(ctx, [today - dt.timedelta(days=1), today], (DocumentKind.PAYMENT,))
    finally:
        sql_event.remove(env.ledger.engine, "commit", check)
    assert summary.new_versions["payment"] > 0 and summary.new_versions["invoice"] > 0
    assert orphans and max(orphans) == 0
