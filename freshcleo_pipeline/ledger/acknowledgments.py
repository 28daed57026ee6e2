"""Every acknowledgment received for a delivered set (997, 999, TA1), kept whole, one row per
(outbox row, inbound file, acknowledgment kind).

The outbox row holds the current acknowledgment state; these rows hold the history behind it, so a later
acknowledgment that contradicts an earlier one is seen as a conflict rather than overwriting it. The same file
applied twice finds its rows already there (``record`` returns False) and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from freshcleo_pipeline.ledger.rows import dumps, insert_ignore, loads, utcnow
from freshcleo_pipeline.ledger.schema import acknowledgments, inbound_files, outbox

#: Statuses that say the set is taken (accepted) and those that say it is not; ``needs_review`` says neither.
ACCEPTING = ("accepted", "accepted_with_errors")
REJECTING = ("rejected",)


@dataclass(frozen=True)
class Acknowledgment:
    id: int
    outbox_id: int
    inbound_file_id: int | None
    file_name: str | None
    partner_id: str
    ack_kind: str
    isa13: str | None
    status: str
    detail: dict[str, Any]
    warnings: list[str]
    received_at: dt.datetime
    run_id: str | None

    @property
    def verdict(self) -> str:
        """'accepted', 'rejected' or '' — what this acknowledgment says of the set itself. A TA1 that accepts
        speaks for the envelope only, so only a rejecting TA1 gives a verdict on the sets in it."""
        if self.status in REJECTING:
            return "rejected"
        if self.status in ACCEPTING and self.ack_kind != "TA1":
            return "accepted"
        return ""


def _ack(row: Any) -> Acknowledgment:
    return Acknowledgment(id=row["id"], outbox_id=row["outbox_id"], inbound_file_id=row["inbound_file_id"],
                          file_name=row["file_name"], partner_id=row["partner_id"], ack_kind=row["ack_kind"],
                          isa13=row["isa13"], status=row["status"], detail=loads(row["detail"]) or {},
                          warnings=loads(row["warnings"]) or [], received_at=row["received_at"],
                          run_id=row["run_id"])


def _query() -> Any:
    return (select(acknowledgments, inbound_files.c.file_name)
            .outerjoin(inbound_files, inbound_files.c.id == acknowledgments.c.inbound_file_id))


def record(conn: Connection, *, outbox_id: int, inbound_file_id: int | None, partner_id: str, ack_kind: str,
           isa13: str | None, status: str, detail: dict[str, Any], warnings: Sequence[str],
           run_id: str | None) -> bool:
    """Keep one acknowledgment of one delivered set; False when this file's acknowledgment of that kind was
    recorded before (the same file applied again)."""
    return insert_ignore(conn, acknowledgments, [{
        "outbox_id": outbox_id, "inbound_file_id": inbound_file_id, "partner_id": partner_id,
        "ack_kind": ack_kind, "isa13": isa13, "status": status, "detail": dumps(detail),
        "warnings": dumps(list(warnings)), "received_at": utcnow(), "run_id": run_id,
    }], ["outbox_id", "inbound_file_id", "ack_kind"]) == 1


def of_outbox(conn: Connection, outbox_ids: Sequence[int]) -> list[Acknowledgment]:
    """The acknowledgments of delivered sets, oldest first."""
    if not outbox_ids:
        return []
    rows = conn.execute(_query().where(acknowledgments.c.outbox_id.in_(list(outbox_ids)))
                        .order_by(acknowledgments.c.id)).mappings()
    return [_ack(r) for r in rows]


def of_file(conn: Connection, inbound_file_ids: Sequence[int]) -> list[Acknowledgment]:
    """The acknowledgments an inbound file gave (to find the documents it spoke for)."""
    if not inbound_file_ids:
        return []
    rows = conn.execute(_query().where(acknowledgments.c.inbound_file_id.in_(list(inbound_file_ids)))
                        .order_by(acknowledgments.c.id)).mappings()
    return [_ack(r) for r in rows]


def contradicts(history: Sequence[Acknowledgment], inbound_file_id: int | None, verdict: str) -> list[Acknowledgment]:
    """The earlier acknowledgments, from other files, whose verdict on the set differs from ``verdict``."""
    if not verdict:
        return []
    return [a for a in history if a.inbound_file_id != inbound_file_id and a.verdict and a.verdict != verdict]


@dataclass(frozen=True)
class Attention:
    """A delivered set whose acknowledgment needs a person: rejected, overdue or in conflict."""

    outbox_id: int
    partner_id: str
    kind: str
    source_id: str
    reference: str
    ack_state: str
    acknowledgments: tuple[Acknowledgment, ...]

    def line(self) -> str:
        text = f"{self.partner_id} {self.kind} {self.source_id} ({self.reference}): {self.ack_state}"
        if self.ack_state == "conflict":
            text += " — " + "; ".join(f"{a.ack_kind} {a.status} in {a.file_name or a.inbound_file_id}"
                                      for a in self.acknowledgments)
        return text


def needing_attention(conn: Connection, states: Sequence[str], limit: int = 20) -> tuple[dict[str, int],
                                                                                         list[Attention]]:
    """(delivered rows per ack state, up to ``limit`` rows in ``states`` with their acknowledgments)."""
    counts = {str(state): int(n) for state, n in conn.execute(
        select(outbox.c.ack_state, func.count()).where(outbox.c.state == "delivered")
        .group_by(outbox.c.ack_state)).all()}
    rows = conn.execute(select(outbox.c.id, outbox.c.partner_id, outbox.c.kind, outbox.c.source_id,
                               outbox.c.reference, outbox.c.ack_state)
                        .where(outbox.c.ack_state.in_(list(states)))
                        .order_by(outbox.c.ack_state, outbox.c.id).limit(limit)).all()
    history: dict[int, list[Acknowledgment]] = {}
    for ack in of_outbox(conn, [r[0] for r in rows]):
        history.setdefault(ack.outbox_id, []).append(ack)
    return counts, [Attention(i, p, k, s, r, a, tuple(history.get(i, []))) for i, p, k, s, r, a in rows]
