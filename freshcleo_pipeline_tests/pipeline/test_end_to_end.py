"""The product's promise, end to end against both emulators through Dagster: N routed documents in
FreshBooks → N valid transaction sets in the right Cleo folders → N accepted 997s → reconciliation passes;
and re-running adds nothing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

import dagster as dg
from sqlalchemy import func, select

from freshcleo_pipeline.ledger.schema import documents, outbox
from freshcleo_pipeline.x12 import read_997, validate_interchange
from freshcleo_pipeline.x12.tokens import tokenize
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    evaluations = result.get_asset_check_evaluations()
    for e in evaluations:
        if not e.passed:
            print(e.check_name, {k: v.value for k, v in e.metadata.items()})  # shown when the test fails
    return {e.check_name: e.passed for e in evaluations}


def _sets_by_folder(env: SandboxEnv) -> Counter[str]:
    counts: Counter[str] = Counter()
    for partner in env.partners.partners:
        for name, content in env.cleo.files_in(partner.cleo.outbound).items():
            text = content.decode()
            assert validate_interchange(text, charset=partner.charset) == [], name
            receiver = text.split(text[3])[8].strip()
            assert receiver == partner.edi.isa_id.strip(), f"{name} in {partner.id}'s folder is for {receiver}"
            counts[partner.id] += sum(1 for s in tokenize(text).segments if s.tag == "ST")
    return counts


def test_documents_flow_to_partner_folders_exactly_once(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 11, "invoices": 80, "days": 6})
    today = env.freshbooks.now().date()
    first = today - dt.timedelta(days=6)

    result = env.sync(first, today, dagster_instance)
    assert result.success
    assert _checks(result) == {"edi_interchanges_are_valid": True, "deliveries_reconcile_with_freshbooks": True,
                              "freshbooks_records_not_quarantined": True}

    with env.ledger.begin() as conn:
        routed = dict(conn.execute(select(documents.c.partner_id, func.count())
                                   .where(documents.c.status == "routed")
                                   .group_by(documents.c.partner_id)).all())
        delivered = conn.execute(select(func.count()).where(outbox.c.state == "delivered")).scalar_one()
    assert sum(routed.values()) > 40 and set(routed) == {p.id for p in env.partners.partners}
    assert dict(_sets_by_folder(env)) == routed
    assert delivered == sum(routed.values())

    inbound = env.inbound(dagster_instance)
    assert inbound.success
    with env.ledger.begin() as conn:
        acks = dict(conn.execute(select(outbox.c.ack_state, func.count()).where(outbox.c.state == "delivered")
                                 .group_by(outbox.c.ack_state)).all())
    assert acks == {"accepted": delivered}
    archived = [f for p in env.partners.partners for f in env.cleo.files_in(p.cleo.archive).values()]
    assert sum(len(read_997(f.decode())) for f in archived) == delivered
    assert all(env.cleo.files_in(p.cleo.inbound) == {} for p in env.partners.partners)

    files_before = set(env.outbound_files())
    again = env.sync(first, today, dagster_instance)
    assert again.success and _checks(again)["deliveries_reconcile_with_freshbooks"]
    assert set(env.outbound_files()) == files_before
