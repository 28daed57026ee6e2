"""What the audit reconciliation of partitions reads: routed documents, their outbox rows and files, and
control numbers used more than once.

Read-only, in one transaction so the four views agree. The checks themselves (money, one live delivery) are
``sync/reconcile.py``'s job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from freshcleo_pipeline.ledger.outbox import Interchange, OutboxItem, _interchange, _item
from freshcleo_pipeline.ledger.schema import documents, interchanges, outbox


@dataclass(frozen=True)
class RoutedDocument:
    id: int
    kind: str
    source_id: str
    reference: str
    partner_id: str | None
    total: str


@dataclass(frozen=True)
class ReconciliationRows:
    documents: list[RoutedDocument]  # the newest version of each document in the partitions, when routed
    deliveries: list[OutboxItem]  # every outbox row of those versions
    files: dict[int, Interchange]  # the interchanges those rows were rendered into, by id
    set_duplicates: list[tuple[str, str, int, str, int]]  # partner, set, GS06, ST02, uses (among ``files``)
    isa_duplicates: list[tuple[str, str, int, int]]  # partner, usage, ISA13, uses (ISA13s of ``files``)


def rows_to_reconcile(conn: Connection, days: Sequence[dt.date], account_id: str) -> ReconciliationRows:
    newest = (select(func.max(documents.c.id).label("id"))
              .where(documents.c.partition_date.in_(days), documents.c.account_id == account_id)
              .group_by(documents.c.kind, documents.c.source_id).subquery())
    docs = conn.execute(select(documents).join(newest, newest.c.id == documents.c.id)
                        .where(documents.c.status == "routed")).mappings().all()
    rows = conn.execute(select(outbox).where(outbox.c.document_id.in_([d["id"] for d in docs])
                                             if docs else outbox.c.id < 0)).mappings().all()
    files = {r["id"]: _interchange(r) for r in conn.execute(select(interchanges).where(
        interchanges.c.id.in_({r["interchange_id"] for r in rows if r["interchange_id"]}))).mappings()}
    duplicates = conn.execute(
        select(outbox.c.partner_id, outbox.c.transaction_set, outbox.c.gs06, outbox.c.st02, func.count())
        .where(outbox.c.gs06.is_not(None), outbox.c.interchange_id.in_(list(files) or [-1]))
        .group_by(outbox.c.partner_id, outbox.c.transaction_set, outbox.c.gs06, outbox.c.st02)
        .having(func.count() > 1)).all()
    # The ISA13s of these files only, looked up through the (partner, usage, ISA13) index: a file of other
    # partitions is checked by the runs of its own.
    isa13s: dict[tuple[str, str], set[int]] = {}
    for file in files.values():
        isa13s.setdefault((file.partner_id, file.usage), set()).add(file.isa13)
    isa_duplicates = [row for (partner_id, usage), numbers in sorted(isa13s.items()) for row in conn.execute(
        select(interchanges.c.partner_id, interchanges.c.usage, interchanges.c.isa13, func.count())
        .where(interchanges.c.partner_id == partner_id, interchanges.c.usage == usage,
               interchanges.c.isa13.in_(sorted(numbers)))
        .group_by(interchanges.c.partner_id, interchanges.c.usage, interchanges.c.isa13)
        .having(func.count() > 1))]
    return ReconciliationRows(
        documents=[RoutedDocument(id=d["id"], kind=d["kind"], source_id=d["source_id"], reference=d["reference"],
                                  partner_id=d["partner_id"], total=d["total"]) for d in docs],
        deliveries=[_item(r) for r in rows],
        files=files,
        set_duplicates=[(p, t, g, s, n) for p, t, g, s, n in duplicates],
        isa_duplicates=[(p, u, i, n) for p, u, i, n in isa_duplicates])
