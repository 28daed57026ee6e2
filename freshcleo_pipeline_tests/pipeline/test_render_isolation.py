"""One document that cannot be written in X12 never holds back the others of its interchange."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg
from sqlalchemy import select

from freshcleo_pipeline.ledger.schema import outbox
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv


def test_an_invoice_x12_cannot_express_is_failed_with_its_reason_and_the_rest_delivered(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 8, "invoices": 30, "days": 1})
    fb = env.freshbooks
    # IT102 (quantity) holds at most 10 digits: eleven cannot be written without changing the number.
    created = fb.create_invoice(customerid=fb.client_id_of("Acme Retail Stores"), lines=[
        {"name": "Hex bolt M8x40", "qty": "12345678901", "unit_cost": {"amount": "0.01", "code": "USD"}}])
    today = fb.now().date()

    assert env.sync(today - dt.timedelta(days=1), today, dagster_instance).success

    with env.ledger.begin() as conn:
        rows = conn.execute(select(outbox.c.source_id, outbox.c.state, outbox.c.last_error, outbox.c.reference)
                            .where(outbox.c.partner_id == "acme-retail", outbox.c.transaction_set == "810")).all()
    failed = [r for r in rows if r.state == "failed"]
    assert [r.source_id for r in failed] == [str(created["id"])]
    assert "IT102" in (failed[0].last_error or "") and "12345678901" in (failed[0].last_error or "")
    delivered = {r.reference for r in rows if r.state == "delivered"}
    assert len(delivered) == len(rows) - 1 >= 3
    sent = {ref for (partner, set_id, ref, _) in env.outbound_sets() if (partner, set_id) == ("acme-retail", "810")}
    assert sent == delivered and str(created["invoice_number"]) not in sent
