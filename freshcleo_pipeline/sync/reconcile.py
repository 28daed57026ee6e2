"""Audit reconciliation of partitions: FreshBooks = normalized = EDI = delivered, one live delivery each.

For the newest version of every routed document in the partitions:
- exactly one live outbox row for its idempotency key (delivered, or recorded as not sent by policy);
- its money agrees at every stage: FreshBooks' amount (stored with the normalized document), the outbox row,
  and the amount read back from the X12 text of its transaction set (TDS01 for 810, AMT02 for 850, BPR02 for
  820) in the delivered file;
- control numbers are unique: ISA13 per partner and usage, ST02 per partner group (GS06 per functional id).

The amounts of a file are those recorded when it was rendered (read from the very text, see ``render``) when the
file's content still has the digest they were recorded for; otherwise the text is read again here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from freshcleo_pipeline.ledger import Ledger, outbox, reconciliation
from freshcleo_pipeline.ledger.outbox import PROVABLE, Interchange, OutboxItem, Verdict
from freshcleo_pipeline.x12.tokens import RawSegment, tokenize

_AMOUNT_AT = {"810": ("TDS", 0, 2), "850": ("AMT", 1, None), "820": ("BPR", 1, None)}


@dataclass
class Reconciliation:
    problems: list[str] = field(default_factory=list)
    routed: int = 0
    delivered: int = 0
    not_sent_by_policy: int = 0
    totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # stage → sum of money

    @property
    def passed(self) -> bool:
        return not self.problems

    def metadata(self) -> dict[str, Any]:
        return {"routed_documents": self.routed, "delivered_documents": self.delivered,
                "not_sent_by_policy": self.not_sent_by_policy,
                **{f"total/{stage}": str(value) for stage, value in sorted(self.totals.items())}}


def set_amounts(text: str) -> dict[str, Decimal]:
    """ST02 → the total stated in each transaction set of an interchange."""
    return amounts_in(tokenize(text).segments)


def amounts_in(segments: Iterable[RawSegment]) -> dict[str, Decimal]:
    """ST02 → the total stated in each transaction set, from an interchange already split into segments."""
    out: dict[str, Decimal] = {}
    st02, set_id = "", ""
    for segment in segments:
        if segment.tag == "ST":
            set_id, st02 = segment.elements[0], segment.elements[1]
        spec = _AMOUNT_AT.get(set_id)
        if spec and segment.tag == spec[0] and len(segment.elements) > spec[1]:
            value = Decimal(segment.elements[spec[1]])
            out[st02] = value.scaleb(-spec[2]) if spec[2] else value
    return out


def amounts_in_sets(sets: Iterable[tuple[str, Sequence[str], Sequence[str]]], separator: str) -> dict[str, Decimal]:
    """``amounts_in`` for an interchange the validator's quick path has split (``validator.clean_scan``): ST01,
    the tags and the segment texts of each set, ST to SE. Only the segment holding a set's total is split."""
    out: dict[str, Decimal] = {}
    for set_id, tags, pieces in sets:
        spec = _AMOUNT_AT.get(set_id)
        if spec is None:
            continue
        tag, index, places = spec
        for at in range(len(tags) - 1, 0, -1):  # the last one stating it counts, as in ``amounts_in``
            if tags[at] == tag:
                elements = pieces[at].split(separator)
                if len(elements) > index + 1:
                    value = Decimal(elements[index + 1])
                    out[pieces[0].split(separator)[2]] = value.scaleb(-places) if places else value
                    break
    return out


def _file_amounts(file: Interchange, verdict: Verdict | None) -> dict[str, Decimal]:
    if verdict is not None and verdict.sha256 == hashlib.sha256(file.content.encode("utf-8")).hexdigest():
        return {st02: Decimal(value) for st02, value in verdict.set_amounts.items()}
    return set_amounts(file.content)


def reconcile(ledger: Ledger, days: list[dt.date], account_id: str) -> Reconciliation:
    result = Reconciliation()
    with ledger.begin() as conn:
        read = reconciliation.rows_to_reconcile(conn, days, account_id)
        verdicts = outbox.verdicts(conn, [i for i, f in read.files.items() if f.state == "delivered"])
    files = read.files
    by_document: dict[int, list[OutboxItem]] = {}
    for row in read.deliveries:
        by_document.setdefault(row.document_id, []).append(row)
    amounts_cache: dict[int, dict[str, Decimal]] = {}
    for doc in read.documents:
        result.routed += 1
        label = f"{doc.kind} {doc.source_id} ({doc.reference}) → {doc.partner_id}"
        fb_total = Decimal(doc.total)
        result.totals["freshbooks"] += fb_total
        live = [r for r in by_document.get(doc.id, []) if r.state in ("delivered", "ignored")]
        if len(live) != 1:
            doubted = [files[r.interchange_id] for r in by_document.get(doc.id, [])
                       if r.interchange_id in files and files[r.interchange_id].state in PROVABLE]
            if not live and doubted:
                result.problems.append(f"{label}: the upload of {doubted[0].file_name} is in doubt (its answer was "
                                       "lost and Cleo no longer shows the file); waiting for the partner's "
                                       "acknowledgment, see `freshcleo resend`")
                continue
            states = [r.state for r in by_document.get(doc.id, [])] or ["no outbox row"]
            result.problems.append(f"{label}: {len(live)} live deliveries (states {states})")
            continue
        row = live[0]
        if row.state == "ignored":
            result.not_sent_by_policy += 1
            continue
        result.delivered += 1
        result.totals["normalized"] += Decimal(row.total)
        file = files.get(row.interchange_id) if row.interchange_id is not None else None
        if file is None or file.state != "delivered":
            result.problems.append(f"{label}: its interchange is not delivered")
            continue
        if file.id not in amounts_cache:
            amounts_cache[file.id] = _file_amounts(file, verdicts.get(file.id))
        edi_amount = amounts_cache[file.id].get(row.st02) if row.st02 is not None else None
        if edi_amount is None:
            result.problems.append(f"{label}: no amount found for ST02 {row.st02} in {file.file_name}")
            continue
        result.totals["edi"] += edi_amount
        result.totals["delivered"] += Decimal(row.total)
        if not (fb_total == Decimal(row.total) == edi_amount):
            result.problems.append(f"{label}: FreshBooks {fb_total}, outbox {row.total}, EDI {edi_amount} "
                                   f"in {file.file_name} ST02 {row.st02}")
    for partner_id, transaction_set, gs06, st02, count in read.set_duplicates:
        result.problems.append(f"partner {partner_id}: {transaction_set} GS06 {gs06} ST02 {st02} used {count} times")
    for partner_id, usage, isa13, count in read.isa_duplicates:
        result.problems.append(f"partner {partner_id} ({usage}): ISA13 {isa13} used {count} times")
    return result
