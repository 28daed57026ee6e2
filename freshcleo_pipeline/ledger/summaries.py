"""Ledger-wide counts for the demo's closing summary: running totals and the state of a range of partitions.

Read-only; the demo compares ``running_totals`` before and after its runs to tell what this run did, and prints
``state_of_partitions`` as the cumulative picture.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from freshcleo_pipeline.ledger.outbox import ACK_TRANSACTION_SETS
from freshcleo_pipeline.ledger.schema import acknowledgments, documents, interchanges, outbox, quarantine


@dataclass(frozen=True)
class RunningTotals:
    files_delivered: int  # files of our documents (not our acknowledgments) delivered to Cleo
    acknowledgments_received: int
    quarantined: int  # entries ever opened, whatever became of them


def running_totals(conn: Connection) -> RunningTotals:
    files = conn.execute(select(func.count()).where(
        interchanges.c.state == "delivered",
        interchanges.c.transaction_set.not_in(ACK_TRANSACTION_SETS))).scalar_one()
    acks = conn.execute(select(func.count()).select_from(acknowledgments)).scalar_one()
    held = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()
    return RunningTotals(files, acks, held)


@dataclass(frozen=True)
class PartitionsState:
    statuses: list[tuple[str, str, str | None, int]]  # kind, status, partner: documents
    with_warnings: int  # documents whose normalization left warnings
    files: list[tuple[str, str, int]]  # partner, state: files of our documents (all partitions)
    acks: list[tuple[str, str, int]]  # partner, acknowledgment state: delivered outbox rows (all partitions)


def state_of_partitions(conn: Connection, days: Sequence[dt.date]) -> PartitionsState:
    """Documents of these partitions by decision, and the ledger's files and acknowledgments by state."""
    statuses = conn.execute(select(documents.c.kind, documents.c.status, documents.c.partner_id, func.count())
                            .where(documents.c.partition_date.in_(days))
                            .group_by(documents.c.kind, documents.c.status, documents.c.partner_id)).all()
    warnings = conn.execute(select(func.count()).where(documents.c.partition_date.in_(days),
                                                       documents.c.warnings != "[]")).scalar_one()
    files = conn.execute(select(interchanges.c.partner_id, interchanges.c.state, func.count())
                         .where(interchanges.c.transaction_set.not_in(ACK_TRANSACTION_SETS))
                         .group_by(interchanges.c.partner_id, interchanges.c.state)).all()
    acks = conn.execute(select(outbox.c.partner_id, outbox.c.ack_state, func.count())
                        .where(outbox.c.state == "delivered")
                        .group_by(outbox.c.partner_id, outbox.c.ack_state)).all()
    return PartitionsState(statuses=[(k, s, p, n) for k, s, p, n in statuses], with_warnings=warnings,
                           files=[(p, s, n) for p, s, n in files], acks=[(p, s, n) for p, s, n in acks])
