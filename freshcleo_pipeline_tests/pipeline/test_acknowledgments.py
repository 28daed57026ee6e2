"""Acknowledgments as partners really send them, against the real loopback emulators: 999s from the 5010
partner, a TA1 and a 997 in one interchange, translator dialects, senders and AK101 checked, and a contradicting
second acknowledgment kept as a visible conflict (trace and the acknowledgment check)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dagster as dg
from sqlalchemy import select

from freshcleo_pipeline.ledger import acknowledgments, quarantine
from freshcleo_pipeline.ledger.schema import inbound_files, outbox
from freshcleo_pipeline.sync.trace import find, trace
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv
from freshcleo_pipeline_tests.pipeline.test_quarantine_inbound import INBOUND, _997, _ack_state, _poll, _put

NORTHWIND = "northwind-grocers"


def _sent(env: SandboxEnv, dagster_instance: dg.DagsterInstance, partner_id: str = "acme-retail",
          transaction_set: str = "810") -> list[dict[str, Any]]:
    today = env.freshbooks.now().date()
    assert env.sync(today - dt.timedelta(days=1), today, dagster_instance).success
    with env.ledger.begin() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.partner_id == partner_id, outbox.c.state == "delivered",
                                                 outbox.c.transaction_set == transaction_set)
                            .order_by(outbox.c.id)).mappings().all()
    assert rows, f"nothing delivered to {partner_id}"
    return [dict(r) for r in rows]


def _states(env: SandboxEnv, partner_id: str) -> set[str]:
    with env.ledger.begin() as conn:
        return set(conn.execute(select(outbox.c.ack_state).where(outbox.c.partner_id == partner_id,
                                                                  outbox.c.state == "delivered")).scalars())


def _acks(env: SandboxEnv, outbox_id: int) -> list[acknowledgments.Acknowledgment]:
    with env.ledger.begin() as conn:
        return acknowledgments.of_outbox(conn, [outbox_id])


def _check(result: dg.ExecuteInProcessResult) -> tuple[bool, dict[str, Any]]:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "acknowledgments_on_time"]
    return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}


def _entries(env: SandboxEnv) -> list[quarantine.Entry]:
    with env.ledger.begin() as conn:
        return quarantine.entries(conn, states=quarantine.STATES, stage="inbound")


# ---- 999 ----

def test_999_accepted_changes_the_5010_partners_documents(sandbox_env: Callable[..., SandboxEnv],
                                                          dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2})
    sent = _sent(env, dagster_instance, NORTHWIND)
    replies = [r.reply for r in env.cleo.ack_records if r.partner_id == NORTHWIND]
    assert replies and all(name.startswith("999_") for name in replies)
    result = env.inbound(dagster_instance)
    assert result.success and _check(result)[0]
    assert _states(env, NORTHWIND) == {"accepted"}
    (ack,) = _acks(env, sent[0]["id"])
    assert (ack.ack_kind, ack.status) == ("999", "accepted")


def test_999_rejected_changes_the_5010_partners_documents_with_ik3_ik4_in_the_trail(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"reject_rate": 1.0})
    sent = _sent(env, dagster_instance, NORTHWIND)
    result = env.inbound(dagster_instance)
    assert result.success
    passed, metadata = _check(result)
    assert not passed and NORTHWIND in metadata["needs_attention"]
    assert _states(env, NORTHWIND) == {"rejected"}
    (ack,) = _acks(env, sent[0]["id"])
    assert ack.ack_kind == "999" and ack.status == "rejected"
    assert ack.detail["segment_notes"][0]["segment_id"] == "BIG"  # the IK3, kept whole
    story = "\n".join(trace(env.ledger, sent[0]["kind"], sent[0]["account_id"], sent[0]["source_id"]).lines())
    assert f"rejected by {NORTHWIND} (999 IK5 R)" in story and "segment BIG at 2 code 8" in story


# ---- TA1 + 997, and the dialects ----

def test_a_ta1_and_a_997_in_one_interchange_are_both_applied(sandbox_env: Callable[..., SandboxEnv],
                                                             dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"reject_rate": 1.0})
    env.cleo.acks.speak("ta1_with_997")
    sent = _sent(env, dagster_instance)
    assert env.inbound(dagster_instance).success
    assert _states(env, "acme-retail") == {"rejected"}  # the 997 inside the TA1's interchange was applied
    kinds = {(a.ack_kind, a.status) for a in _acks(env, sent[0]["id"])}
    assert kinds == {("TA1", "accepted"), ("997", "rejected")}
    with env.ledger.begin() as conn:
        file_kinds = set(conn.execute(select(inbound_files.c.kind).where(
            inbound_files.c.partner_id == "acme-retail")).scalars())
    assert file_kinds == {"TA1+997"}


def test_a_ta1_rejecting_one_interchange_and_a_997_for_another_in_one_file(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    sent = _sent(env, dagster_instance)
    assert len({s["isa13"] for s in sent}) >= 1
    first = sent[0]
    text = _997(first["gs06"], first["st02"])
    ta1 = f"TA1*{first['isa13']:09d}*260302*1404*R*022~"
    at = text.index("GS*")
    _put(env, INBOUND, "ta1_997.x12", (text[:at] + ta1 + text[at:]).encode())
    summary = _poll(env)
    assert summary.files == {"TA1+997": 1}
    # Same file: the TA1 rejects the interchange, then the 997 accepts the set: applied in order, no conflict.
    assert {(a.ack_kind, a.status) for a in _acks(env, first["id"])} == {("TA1", "rejected"), ("997", "accepted")}
    assert _ack_state(env, first["id"]) == "accepted"


def test_an_ak904_inconsistent_997_applies_its_ak5_rejection_with_a_warning(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"reject_rate": 1.0})
    env.cleo.acks.speak("ak904_disagrees")
    sent = _sent(env, dagster_instance)
    assert env.inbound(dagster_instance).success
    assert _states(env, "acme-retail") == {"rejected"}
    (ack,) = _acks(env, sent[0]["id"])
    assert ack.status == "rejected" and any("AK904" in w for w in ack.warnings)
    with env.ledger.begin() as conn:
        parsed = conn.execute(select(inbound_files.c.parsed).where(inbound_files.c.partner_id == "acme-retail")
                              .limit(1)).scalar_one()
    assert "AK904" in parsed and '"state"' not in parsed


def test_ak103_in_4010_a_003060_997_and_6_digit_gs_dates_are_applied(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"reject_rate": 1.0})
    env.cleo.acks.speak("ak103_in_4010", "version_003060", "short_gs_dates")
    sent = _sent(env, dagster_instance)
    assert env.inbound(dagster_instance).success
    assert _states(env, "acme-retail") == {"rejected"}
    assert _states(env, "bolt-fasteners") <= {"rejected"}
    (ack,) = _acks(env, sent[0]["id"])
    assert ack.status == "rejected" and any("AK103" in w for w in ack.warnings)
    assert _entries(env) == []


# ---- who sends it, and what it names ----

def test_a_foreign_senders_997_changes_nothing_and_is_quarantined(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    (first, *_) = _sent(env, dagster_instance)
    by_isa = _997(first["gs06"], first["st02"], bad_data="X", sender="BOLTFAST")
    by_gs = _997(first["gs06"], first["st02"], bad_data="X", control=502).replace(
        "GS*FA*ACMERETAIL*", "GS*FA*BOLTFAST*")
    _put(env, INBOUND, "997_isa.x12", by_isa.encode())
    _put(env, INBOUND, "997_gs.x12", by_gs.encode())
    summary = _poll(env)
    assert summary.quarantined == {"unknown_partner": 2} and summary.acks == {}
    assert _ack_state(env, first["id"]) == "waiting" and _acks(env, first["id"]) == []
    fields = sorted(str(e.detail.get("field")) for e in _entries(env))
    assert fields == ["GS02", "ISA05:ISA06"]


def test_an_ak101_mismatch_applies_nothing_and_is_quarantined(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    (first, *_) = _sent(env, dagster_instance)
    wrong = _997(first["gs06"], first["st02"], bad_data="X").replace("AK1*IN*", "AK1*PO*")
    _put(env, INBOUND, "997_ak101.x12", wrong.encode())
    summary = _poll(env)
    assert summary.quarantined == {"ack_mismatch": 1} and summary.acks == {}
    assert _ack_state(env, first["id"]) == "waiting"
    (entry,) = _entries(env)
    assert entry.detail.get("field") == "AK101" and "does not fit AK201 '810'" in entry.reason


# ---- conflicts ----

def test_a_contradicting_second_ack_is_a_conflict_in_trace_and_check(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    (first, *_) = _sent(env, dagster_instance)
    accepted = _997(first["gs06"], first["st02"]).encode()
    _put(env, INBOUND, "997_first.x12", accepted)
    assert _poll(env).acks == {"accepted": 1}
    _put(env, INBOUND, "997_again.x12", accepted)  # the same acknowledgment under another name: no conflict
    _poll(env)
    assert _ack_state(env, first["id"]) == "accepted"
    _put(env, INBOUND, "997_second.x12", _997(first["gs06"], first["st02"], bad_data="X", control=503).encode())
    assert _poll(env).acks == {"conflict": 1}
    assert _ack_state(env, first["id"]) == "conflict"
    assert [a.status for a in _acks(env, first["id"])] == ["accepted", "accepted", "rejected"]

    story = "\n".join(trace(env.ledger, first["kind"], first["account_id"], first["source_id"]).lines())
    assert "acknowledgment conflict" in story and "997_first.x12" in story and "997_second.x12" in story
    assert "acknowledgments from acme-retail disagree" in story
    with env.ledger.begin() as conn:
        assert (first["kind"], first["account_id"], first["source_id"]) in find(conn, "997_second.x12")

    result = env.inbound(dagster_instance)
    assert result.success
    passed, metadata = _check(result)
    assert not passed and first["source_id"] in metadata["conflicts"]
    assert "997 accepted in 997_first.x12" in metadata["conflicts"]
    assert "997 rejected in 997_second.x12" in metadata["conflicts"]
