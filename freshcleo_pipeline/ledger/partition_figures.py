"""What one run did to each day partition, read back from the ledger for the partitions' metadata.

Each query groups by the ``partition_date`` the ledger files a document under, so the figures of a run's days add
up to the run's own. Rows a run touched under a day outside its own partitions (the parent invoice of a payment,
filed under the day it changed) keep that day here; the caller decides how to show them. Reads only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, and_, func, select

from freshcleo_pipeline.ledger.rows import loads
from freshcleo_pipeline.ledger.schema import documents, interchanges, outbox, quarantine, source_snapshots

Day = dt.date | None


def new_versions(conn: Connection, run_id: str) -> Counter[tuple[Day, str, bool]]:
    """(partition day, kind, deleted in FreshBooks) → document versions the run stored; reference data (clients,
    vendors, items) has no day."""
    t = source_snapshots
    query = (select(t.c.partition_date, t.c.kind, t.c.vis_state == 1, func.count())
             .where(t.c.run_id == run_id).group_by(t.c.partition_date, t.c.kind, t.c.vis_state == 1))
    return Counter({(day, kind, bool(deleted)): int(n) for day, kind, deleted, n in conn.execute(query)})


def set_aside(conn: Connection, stage: str, run_id: str) -> Counter[tuple[Day, str]]:
    """(partition day, kind) → quarantine entries of ``stage`` the run set aside or saw again (a record with an
    unreadable timestamp has no day)."""
    q = quarantine
    query = (select(q.c.partition_date, q.c.kind, func.count())
             .where(q.c.stage == stage, q.c.run_id == run_id).group_by(q.c.partition_date, q.c.kind))
    return Counter({(day, kind): int(n) for day, kind, n in conn.execute(query)})


@dataclass(frozen=True)
class Decision:
    """The routing decision of a document's newest version within the partitions asked for."""

    day: dt.date
    kind: str
    source_id: str
    reference: str
    status: str
    partner_id: str | None
    currency: str
    total: Decimal
    reason: str
    warnings: int


def decisions(conn: Connection, account_id: str, days: Sequence[dt.date]) -> list[Decision]:
    """Per document, the decision of its newest version filed under one of ``days`` (the versions the normalize
    stage decides for these partitions), in snapshot order."""
    t = source_snapshots
    newest = (select(func.max(t.c.id).label("id"))
              .where(t.c.account_id == account_id, t.c.partition_date.in_(list(days)))
              .group_by(t.c.kind, t.c.source_id).subquery())
    d = documents.c
    query = (select(d.partition_date, d.kind, d.source_id, d.reference, d.status, d.partner_id, d.currency, d.total,
                    d.reason, d.warnings)
             .join_from(documents, newest, documents.c.snapshot_id == newest.c.id)
             .order_by(d.snapshot_id))
    return [Decision(day=r.partition_date, kind=r.kind, source_id=r.source_id, reference=r.reference,
                     status=r.status, partner_id=r.partner_id, currency=r.currency, total=Decimal(r.total),
                     reason=r.reason or "", warnings=len(loads(r.warnings) or []))
            for r in conn.execute(query)]


@dataclass(frozen=True)
class RenderedSet:
    """One transaction set the run rendered, with the file that carries it."""

    day: Day
    partner_id: str
    transaction_set: str
    purpose: str
    total: Decimal
    file_name: str
    isa13: int
    valid: bool


def rendered_sets(conn: Connection, run_id: str) -> list[RenderedSet]:
    """The outbox rows the run rendered into interchanges (a file may carry documents of several days)."""
    o, i = outbox.c, interchanges.c
    query = (select(o.partition_date, o.partner_id, o.transaction_set, o.purpose, o.total, i.file_name, i.isa13,
                    i.state)
             .join_from(outbox, interchanges, and_(o.interchange_id == i.id, i.run_id == run_id))
             .where(o.run_id == run_id).order_by(i.id, o.st02))
    return [RenderedSet(day=r.partition_date, partner_id=r.partner_id, transaction_set=r.transaction_set,
                        purpose=r.purpose, total=Decimal(r.total), file_name=r.file_name, isa13=r.isa13,
                        valid=r.state != "invalid")
            for r in conn.execute(query)]
