"""Cleo consumes what we upload: an upload whose answer was lost and whose file is gone from the folder is in
doubt, never sent again on a guess. The partner's acknowledgment proves it delivered; without one in the
partner's acknowledgment window it is re-sent once, under the same name and ISA13, marked ``resent``.

Counted where the partner reads it: the Cleo emulator's received side, not the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

import dagster as dg
import pytest
from sqlalchemy import select

from freshcleo_pipeline.ledger import outbox
from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.schema import audit_events, interchanges
from freshcleo_pipeline.sandbox.httpserver import FaultRule
from freshcleo_pipeline.sync.doubts import doubts
from freshcleo_pipeline.sync.inbound import poll_inbound
from freshcleo_pipeline.sync.resend import pending_decisions
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

UPLOAD = "/api/folders/{folder_id}/files"
BOOK = {"seed": 5, "invoices": 6, "days": 1}


def _sync(env: SandboxEnv, instance: dg.DagsterInstance) -> None:
    today = env.freshbooks.now().date()
    result = env.sync(today - dt.timedelta(days=1), today, instance)
    assert result.success


def _interchange_states(env: SandboxEnv) -> Counter[str]:
    with env.ledger.begin() as conn:
        return Counter(conn.execute(select(interchanges.c.state)).scalars())


def _events(env: SandboxEnv, event: str) -> list[dict[str, object]]:
    with env.ledger.begin() as conn:
        rows = conn.execute(select(audit_events.c.detail).where(audit_events.c.event == event)).scalars()
        return [loads(r) for r in rows]


def _received(env: SandboxEnv) -> Counter[str]:
    env.cleo.pickup_due()
    return Counter(r.file_name for r in env.cleo.partner_received())


def test_an_acknowledgment_proves_an_upload_in_doubt_and_nothing_is_sent_again(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks=BOOK, cleo={"pickup_delay": 0.0})
    # The first upload is stored (and at once picked up by Cleo) but its answer never comes back.
    env.cleo.faults.add(FaultRule("lost_response", path_prefix="/api/folders/", method="POST", remaining=1))
    _sync(env, dagster_instance)

    with env.ledger.begin() as conn:
        (doubted,) = outbox.in_doubt(conn)
    assert env.cleo.files_in(env.partners.get(doubted.partner_id).cleo.outbound) == {}  # consumed: nothing to see
    assert _received(env)[doubted.file_name] == 1
    (event, *_) = _events(env, "upload_in_doubt")
    assert event["file_name"] == doubted.file_name and event["isa13"] == doubted.isa13
    listing = "\n".join(pending_decisions(env.ledger, env.partners, dt.datetime.now(dt.UTC)))
    assert "uploads in doubt: 1" in listing and doubted.file_name in listing and "re-sent at" in listing
    posts = env.cleo.requests_to(UPLOAD, "POST")

    assert env.inbound(dagster_instance).success  # the partner's 997 is in the inbound folder
    with env.ledger.begin() as conn:
        proven = outbox.get_interchange(conn, doubted.id)
        items = outbox.items_of_interchange(conn, doubted.id)
    assert proven.state == "delivered" and loads(proven_receipt(env, doubted.id))["outcome"] == "proven_by_ack"
    assert {i.state for i in items} == {"delivered"} and {i.ack_state for i in items} == {"accepted"}
    assert [e["file_name"] for e in _events(env, "delivery_proven_by_ack")] == [doubted.file_name] * len(items)

    # Long after the window: nothing is re-sent, nothing is doubled at the partner.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=100)
    poll_inbound(env.context(now=later))
    _sync(env, dagster_instance)
    assert env.cleo.requests_to(UPLOAD, "POST") == posts
    assert max(_received(env).values()) == 1
    assert not any(r.duplicate_isa13 for r in env.cleo.partner_received())
    assert _events(env, "resent") == []


def proven_receipt(env: SandboxEnv, interchange_id: int) -> str:
    with env.ledger.begin() as conn:
        return str(conn.execute(select(interchanges.c.cleo_receipt)
                                .where(interchanges.c.id == interchange_id)).scalar_one())


@pytest.mark.parametrize("fault, reached_partner", [
    (FaultRule("status", status=502, path_prefix="/api/folders/", method="POST", remaining=1), False),
    (FaultRule("lost_response", path_prefix="/api/folders/", method="POST", remaining=1), True),
], ids=["never-stored", "stored-answer-lost"])
def test_with_no_acknowledgment_in_its_window_an_upload_in_doubt_is_resent_once_under_the_same_isa13(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance, fault: FaultRule,
        reached_partner: bool) -> None:
    env = sandbox_env(freshbooks=BOOK, cleo={"pickup_delay": 0.0, "silence_rate": 1.0})  # partners never answer
    env.cleo.faults.add(fault)
    _sync(env, dagster_instance)
    with env.ledger.begin() as conn:
        (doubted,) = outbox.in_doubt(conn)
    window = env.partners.get(doubted.partner_id).ack_window_hours
    since = doubted.in_doubt_since
    assert since is not None
    posts = env.cleo.requests_to(UPLOAD, "POST")

    assert env.inbound(dagster_instance).success  # no acknowledgment, window not over: still in doubt
    poll_inbound(env.context(now=since + dt.timedelta(hours=window) - dt.timedelta(minutes=1)))
    assert env.cleo.requests_to(UPLOAD, "POST") == posts and _interchange_states(env)["in_doubt"] == 1
    (doubt,) = doubts(env.ledger, env.partners, since + dt.timedelta(hours=window))
    assert doubt.past_window(since + dt.timedelta(hours=window)) and doubt.file_name == doubted.file_name

    summary = poll_inbound(env.context(now=since + dt.timedelta(hours=window, minutes=1)))
    assert summary.resent == 1 and env.cleo.requests_to(UPLOAD, "POST") == posts + 1
    with env.ledger.begin() as conn:
        resent = outbox.get_interchange(conn, doubted.id)
    assert (resent.state, resent.resend_count, resent.file_name, resent.isa13) == (
        "delivered", 1, doubted.file_name, doubted.isa13)
    (event, *_) = _events(env, "resent")
    assert event["isa13"] == doubted.isa13 and event["resend_count"] == 1

    # At the partner: the same ISA13 once more when the first copy had arrived, recognisable as a duplicate.
    copies = [r for r in env.cleo.partner_received() if r.file_name == doubted.file_name]
    assert len(copies) == (2 if reached_partner else 1)
    assert {r.isa13 for r in copies} == {f"{doubted.isa13:09d}"}
    assert [r.duplicate_isa13 for r in copies] == ([False, True] if reached_partner else [False])

    with env.ledger.begin() as conn:  # a run that read it as in doubt before the resend cannot claim it again
        assert not outbox.mark_uploading(conn, doubted.id, dt.datetime.now(dt.UTC), resend=True)
        assert not outbox.mark_uploading(conn, doubted.id, dt.datetime.now(dt.UTC))

    # A later poll re-sends nothing more: the window is one resend each.
    poll_inbound(env.context(now=since + dt.timedelta(hours=3 * window)))
    assert env.cleo.requests_to(UPLOAD, "POST") == posts + 1


def test_a_name_held_by_another_file_is_a_conflict_for_a_person_and_is_never_sent_again(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks=BOOK)
    # Control numbers start at 1 per partner, so the name of acme-retail's first 810 file is known in advance.
    folder, name = "acme-retail/outbound", "acme-retail_810_000000001.x12"
    env.cleo.put_file(folder, name, b"ISA*someone else's file")

    _sync(env, dagster_instance)
    _sync(env, dagster_instance)
    with env.ledger.begin() as conn:
        (taken,) = outbox.in_conflict(conn)
    assert taken.file_name == name and "different file" in (taken.last_error or "")
    assert env.cleo.files_in(folder)[name] == b"ISA*someone else's file"  # never overwritten
    assert env.cleo.requests_to(UPLOAD, "POST", 409) == 1  # tried once, then left to a person
    assert _interchange_states(env)["conflict"] == 1 and _interchange_states(env)["delivered"] >= 1
    listing = "\n".join(pending_decisions(env.ledger, env.partners, dt.datetime.now(dt.UTC)))
    assert f"acme-retail {name}" in listing
    assert _events(env, "delivery_conflict")
