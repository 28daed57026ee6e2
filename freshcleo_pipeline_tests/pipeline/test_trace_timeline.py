"""``freshcleo trace`` as a person reads it: one line per event, UTC, in words, never a repr or raw JSON; every
audit event the code base records has its own phrase; ``--json`` carries the same trace for machines."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from freshcleo_pipeline.ledger.acknowledgments import Acknowledgment
from freshcleo_pipeline.ledger.outbox import ACK_STATES
from freshcleo_pipeline.sync import trace_text
from freshcleo_pipeline.sync.trace import DocumentTrace

PACKAGE = Path(trace_text.__file__).resolve().parents[1]
RUN = "1a2b3c4d-5e6f-4a1b-9c8d-7e6f5a4b3c2d"
ACK_RUN = "9f8e7d6c-0000-4000-8000-000000000000"
T0 = dt.datetime(2026, 11, 20, 14, 3, 11)  # naive, as SQLite hands it back: UTC
ADJUSTMENT = ("Adjustment(element='N102', field='bill_to.name', original='Acme', result='ACME', "
              "reasons=(<Reason.UPPERCASED: 'uppercased'>,))")


def _event(minutes: int, event: str, detail: dict[str, Any], run_id: str | None = RUN) -> dict[str, Any]:
    return {"at": T0 + dt.timedelta(minutes=minutes), "event": event, "partner": "acme-retail", "run_id": run_id,
            "detail": detail}


def _invoice() -> DocumentTrace:
    life = DocumentTrace("invoice", "hSc7Qw", "100417")
    life.versions = [{"version": "94a90e939f02aabbccdd", "updated_at": T0 - dt.timedelta(hours=2),
                      "partition_date": dt.date(2026, 11, 20), "vis_state": 0, "fetched_at": T0}]
    life.normalized = [{"version": "94a90e939f02aabbccdd", "status": "routed", "partner_id": "acme-retail",
                        "reference": "0000417", "currency": "USD", "total": "120.00", "reason": "",
                        "warnings": []}]
    life.deliveries = [{"id": 7, "purpose": "original", "version": "94a90e939f02aabbccdd", "partner_id": "acme-retail",
                        "transaction_set": "810", "state": "delivered", "ack_state": "accepted", "resend_of": None,
                        "file_name": "ACME_810_000000417.x12", "isa13": 417, "gs06": 212, "st02": "0001",
                        "last_error": None, "ack_detail": '{"code": "A"}'}]
    life.events = [
        _event(4, "delivered", {"file_name": "ACME_810_000000417.x12", "isa13": 417, "gs06": 212, "st02": "0001",
                                "cleo_file_id": "0000000123", "outcome": "uploaded"}),
        _event(0, "extracted", {"version": "94a90e939f02aabbccdd", "partition": "2026-11-20", "vis_state": 0}),
        _event(1, "normalized", {"version": "94a90e939f02aabbccdd", "status": "routed", "reason": "",
                                 "warnings": []}),
        _event(2, "queued", {"version": "94a90e939f02aabbccdd", "purpose": "original", "reason": "",
                             "reference": "0000417", "idempotency_key": "k"}),
        _event(3, "rendered", {"version": "94a90e939f02aabbccdd", "purpose": "original", "isa13": 417, "gs06": 212,
                               "st02": "0001", "file_name": "ACME_810_000000417.x12", "adjustments": [ADJUSTMENT]}),
        _event(30, "ack_accepted", {"gs06": 212, "st02": "0001", "file_id": 3, "file": "997_acme_1.x12",
                                    "ack_kind": "997", "code": "A", "set_errors": [], "group_errors": []},
               run_id=ACK_RUN),
        _event(40, "partner_mood_changed", {"mood": "cheerful", "why": {"weather": "sunny"}}, run_id=None),
    ]
    life.acknowledgments = [Acknowledgment(
        id=1, outbox_id=7, inbound_file_id=3, file_name="997_acme_1.x12", partner_id="acme-retail", ack_kind="997",
        isa13="700000001", status="accepted", detail={"code": "A"}, warnings=["AK9 counts differ"],
        received_at=T0 + dt.timedelta(minutes=30), run_id=ACK_RUN)]
    return life


def test_the_timeline_reads_like_a_person_wrote_it() -> None:
    text = "\n".join(_invoice().lines())

    assert ("2026-11-20 14:07:11  delivered to acme-retail as ACME_810_000000417.x12 (ISA13 000000417, GS06 212, "
            "ST02 0001), Cleo file 0000000123 — run 1a2b3c4d") in text
    assert "N102 (bill_to.name) upper-cased: 'Acme' → 'ACME'" in text
    assert "accepted by acme-retail (997 AK5 A) in 997_acme_1.x12 — run 9f8e7d6c" in text
    assert "warning: AK9 counts differ" in text  # the acknowledgment's own notes under its event
    assert "partner mood changed (acme-retail): mood cheerful, why weather sunny" in text  # unknown, still read
    assert "1. 94a90e939f02  updated 2026-11-20 12:03:11, partition 2026-11-20, USD 120.00, routed" in text
    assert "#7 810 original of version 94a90e939f02 to acme-retail: delivered, acknowledgment accepted" in text
    for leak in ("Adjustment(", "Reason.", "{", "}", RUN, "None"):
        assert leak not in text, leak
    timeline = [line.strip() for line in text.splitlines() if re.match(r"\s+\d{4}-\d\d-\d\d \d\d:", line)]
    assert [line[:19] for line in timeline] == sorted(line[:19] for line in timeline)  # chronological
    assert timeline[0].endswith("fetched from FreshBooks: version 94a90e939f02, partition 2026-11-20 — run 1a2b3c4d")


def test_json_is_the_same_trace_as_data() -> None:
    data = json.loads(json.dumps(_invoice().as_json()))
    assert [e["event"] for e in data["timeline"]] == ["extracted", "normalized", "queued", "rendered", "delivered",
                                                      "ack_accepted", "partner_mood_changed"]
    assert data["timeline"][4]["at"] == "2026-11-20T14:07:11+00:00"
    assert data["timeline"][4]["run_id"] == RUN  # machines get the whole id
    assert data["deliveries"][0]["ack_detail"] == {"code": "A"}  # data, not a string of JSON
    assert data["acknowledgments"][0]["warnings"] == ["AK9 counts differ"]


def _recorded_events() -> set[str]:
    """Every literal audit event name the package records (``"event": "x"``, ``event="x"``, and delivery's
    ``_record_events(conn, ctx, interchange, "x", …)``)."""
    found: set[str] = set()
    pattern = re.compile(r"""(?:"event":\s*|\bevent=)"([a-z_]+)"(?:\s+if\s[^\n]*?\selse\s"([a-z_]+)")?""")
    for path in PACKAGE.rglob("*.py"):
        if "sandbox" in path.parts or path.name == "trace_text.py":
            continue
        text = path.read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            found.update(name for name in match.groups() if name)
        found.update(re.findall(r'_record_events\(\w+, \w+, \w+, "([a-z_]+)"', text))
    return found


def test_every_event_the_pipeline_records_has_its_own_phrase() -> None:
    recorded = _recorded_events()
    assert {"extracted", "queued", "not_sent", "rendered", "render_invalid", "delivered", "ack_sent"} <= recorded
    computed = {f"ack_{state}" for state in ACK_STATES if state not in ("none", "waiting")}  # inbound's f-string
    routing = {"normalized", "superseded", "draft", "unrouted", "invalid", "from_partner"}  # status as the event
    in_doubt = {"upload_in_doubt", "delivery_proven_by_ack", "resent", "delivery_conflict"}
    matching = {f"match_{s}" for s in ("matched", "mismatched", "unmatched", "answered", "unanswered", "reported")}
    # the FreshBooks document's side of a match (``partner_<set>_<status>``), for the statuses it is recorded for
    matched_from_ours = {f"partner_{s}" for s in ("810_matched", "810_mismatched", "810_unmatched", "850_answered",
                                                  "850_unanswered", "820_reported")}
    missing = (recorded | computed | routing | in_doubt | matching | matched_from_ours) - set(trace_text.PHRASES)
    assert not missing, f"events without a phrase in trace_text.PHRASES: {sorted(missing)}"


def test_in_doubt_events_and_quarantine_read_plainly() -> None:
    life = DocumentTrace("invoice", "hSc7Qw", "100417")
    life.events = [
        _event(0, "upload_in_doubt", {"file_name": "F.x12", "folder": "/out", "reason": "timed out after send"}),
        _event(1, "delivery_proven_by_ack", {"file_name": "F.x12", "isa13": 12, "ack": "997 A"}),
        _event(2, "resent", {"file_name": "F.x12", "isa13": 12, "resend_count": 2,
                             "in_doubt_since": "2026-11-20T14:03:11+00:00"}),
        _event(3, "delivery_conflict", {"file_name": "F.x12", "folder": "/out", "error": "sizes differ"}),
    ]
    text = "\n".join(life.lines())
    assert "upload of F.x12 to /out is in doubt: timed out after send" in text
    assert "delivery of F.x12 (ISA13 000000012) proven by acme-retail's acknowledgment (997 A)" in text
    assert "sent again to acme-retail as F.x12 (ISA13 000000012, re-send 2), in doubt since 2026-11-20 14:03:11" \
        in text
    assert "Cleo already holds a different F.x12 in /out: sizes differ — needs a person" in text


def test_a_detail_of_an_unexpected_shape_falls_back_to_words() -> None:
    assert trace_text.phrase("delivered", {"surprise": [1, 2]}, "acme-retail").startswith("delivered to acme-retail")
    assert "{" not in trace_text.phrase("not_a_known_event", {"a": {"b": [1, 2]}}, None)
    assert trace_text.adjustment({"element": "N402", "field": "bill_to.address.province", "original": "Ohio",
                                  "result": "OH", "reasons": ["coded"]}) == \
        "N402 (bill_to.address.province) coded: 'Ohio' → 'OH'"
