"""A partner rejects our files: the trail shows it, the acknowledgment check flags it, and a re-send after the
fix goes out once, with fresh control numbers, and is accepted. Partner documents and the trace by any id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg
import pytest
from sqlalchemy import func, select

from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.ledger.schema import inbound_files, outbox
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.resend import resend
from freshcleo_pipeline.sync.trace import find, trace
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv


def _context(env: SandboxEnv) -> SyncContext:
    return SyncContext(settings=env.settings, ledger=env.ledger, partners=env.partners,
                       freshbooks=lambda: FreshBooksClient.from_settings(env.settings, env.ledger),
                       cleo=lambda: CleoClient.from_settings(env.settings))


def test_rejected_delivery_is_traced_flagged_and_resent_once(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"reject_rate": 1.0})
    today = env.freshbooks.now().date()
    assert env.sync(today - dt.timedelta(days=2), today, dagster_instance).success
    inbound = env.inbound(dagster_instance)
    assert inbound.success
    checks = {e.check_name: e.passed for e in inbound.get_asset_check_evaluations()}
    assert checks == {"acknowledgments_on_time": False, "inbound_files_not_quarantined": True,
        "no_new_mismatches": True}

    with env.ledger.begin() as conn:
        states = dict(conn.execute(select(outbox.c.ack_state, func.count()).where(outbox.c.state == "delivered")
                                   .group_by(outbox.c.ack_state)).all())
        rejected = conn.execute(select(outbox).where(outbox.c.ack_state == "rejected", outbox.c.kind == "invoice")
                                .limit(1)).mappings().one()
        matches = find(conn, rejected["reference"])
    assert set(states) == {"rejected"}
    assert ("invoice", rejected["account_id"], rejected["source_id"]) in matches

    story = "\n".join(trace(env.ledger, "invoice", rejected["account_id"], rejected["source_id"]).lines())
    assert rejected["file_name"] in story and "acknowledgment rejected" in story
    assert f"run {inbound.run_id[:8]}" in story  # the run that recorded the 997
    for phrase in ("fetched from FreshBooks", "normalized version", "queued for acme-retail",
                   "written as X12 for acme-retail", "delivered to acme-retail as", "rejected by acme-retail (997"):
        assert phrase in story, phrase

    env.cleo.acks.reject_rate = 0.0  # the partner fixed its side
    files_before = set(env.outbound_files())
    new_id, summary = resend(_context(env), rejected["id"])
    assert sum(summary.files.values()) == 1
    new_files = set(env.outbound_files()) - files_before
    assert len(new_files) == 1
    assert env.inbound(dagster_instance).success
    with env.ledger.begin() as conn:
        old = conn.execute(select(outbox).where(outbox.c.id == rejected["id"])).mappings().one()
        new = conn.execute(select(outbox).where(outbox.c.id == new_id)).mappings().one()
    assert old["ack_state"] == "rejected" and new["ack_state"] == "accepted"
    assert new["resend_of"] == old["id"] and new["isa13"] != old["isa13"]
    story = "\n".join(trace(env.ledger, "invoice", rejected["account_id"], rejected["source_id"]).lines())
    assert f"re-send of #{old['id']}" in story

    # an accepted delivery is never re-sent
    with pytest.raises(FreshcleoError, match="can be re-sent"):
        resend(_context(env), new_id)


def test_partner_documents_are_recorded_and_archived(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 3, "invoices": 5, "days": 1})
    env.cleo.drop_partner_document("acme-retail", "850")
    env.cleo.drop_partner_document("bolt-fasteners", "810")
    assert env.inbound(dagster_instance).success
    with env.ledger.begin() as conn:
        rows = conn.execute(select(inbound_files.c.partner_id, inbound_files.c.kind, inbound_files.c.state)).all()
    assert sorted(rows) == [("acme-retail", "850", "archived"), ("bolt-fasteners", "810", "archived")]
    assert env.cleo.files_in("acme-retail/inbound") == {} and len(env.cleo.files_in("acme-retail/archive")) == 1
