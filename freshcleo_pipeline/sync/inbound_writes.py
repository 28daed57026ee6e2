"""The opt-in writes a matched partner document calls for, each once, and the FreshBooks party of a partner.

- A supplier's **original** 810 that matched nothing we sent (``unmatched``) becomes one FreshBooks bill when its
  partner has ``create_bills: true``: vendor from the directory, lines, taxes, due date from ITD, their invoice
  number as the bill number. Not when FreshBooks already holds a bill of that vendor with that number (a person
  keyed it), nor when another 810 of theirs already made a bill with that number (a resent invoice).
- A customer's original 850 that no invoice answers (``unanswered``) becomes one estimate or draft invoice when
  its partner has ``orders_become: estimate | draft_invoice``; never sent or marked by us. When the user issues
  the invoice, the outbound 810 carries the PO number.
- A partner without its FreshBooks bill vendor or client gets one created when it has
  ``create_reference_data: true`` (name, address and ids from partners.yaml and their document).

Everything is refused while FreshBooks is read-only (``FRESHCLEO_FRESHBOOKS_READ_ONLY``, the default): the result
then says what would have been written. Exactly-once is ``sync/freshbooks_writes.write_once``'s (a ledger claim
per idempotency key before the request leaves); the key names the partner, their ISA13/GS06/ST02 and their
number, as a person would name the document.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from freshcleo_pipeline.documents import DocumentKind, Invoice, Party, PurchaseOrder, Purpose
from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.freshbooks import bodies
from freshcleo_pipeline.freshbooks.writer import FreshBooksWriter
from freshcleo_pipeline.ledger import freshbooks_writes as ledger_writes
from freshcleo_pipeline.matching.results import MatchResult
from freshcleo_pipeline.partners import Role, TradingPartner
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.directory import FreshBooksParty, freshbooks_parties
from freshcleo_pipeline.sync.freshbooks_writes import Origin, WriteOutcome, write_once

if TYPE_CHECKING:
    from freshcleo_pipeline.sync.matching import Checked, MatchSummary

READ_ONLY_REASON = "FreshBooks is read-only (FRESHCLEO_FRESHBOOKS_READ_ONLY=true, the default)"


def party_kind(partner: TradingPartner) -> str:
    """The FreshBooks object a partner is: a customer is a client, a supplier a bill vendor."""
    return "client" if partner.role is Role.CUSTOMER else "bill_vendor"


class InboundWrites:
    """The writes of one stage run; the FreshBooks connection is opened only if a write is due."""

    def __init__(self, ctx: SyncContext, account_id: str) -> None:
        self.ctx = ctx
        self.account_id = account_id
        self.read_only = ctx.settings.freshbooks_read_only
        self._writer: FreshBooksWriter | None = None
        self._parties: list[FreshBooksParty] | None = None

    def party_of(self, partner: TradingPartner) -> str | None:
        """The FreshBooks id of the partner's client or bill vendor: as the last reference poll saw them, else
        one freshcleo created (the poll may not have seen it yet)."""
        if self._parties is None:
            self._parties = freshbooks_parties(self.ctx, self.account_id)
        side = DocumentKind.INVOICE if partner.role is Role.CUSTOMER else DocumentKind.BILL
        for party in self._parties:
            if party.partner_id == partner.id and party.kind is side and party.source_id:
                return party.source_id
        with self.ctx.ledger.begin() as conn:
            created = ledger_writes.listing(conn, partner_id=partner.id, state=ledger_writes.CREATED)
        return next((w.freshbooks_id for w in created if w.kind == party_kind(partner) and w.freshbooks_id), None)

    def writer(self) -> FreshBooksWriter:
        if self._writer is None:
            self._writer = FreshBooksWriter.from_client(self.ctx.freshbooks(), read_only=self.read_only)
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # ---- what a result calls for ----

    def apply(self, checked: Checked, summary: MatchSummary) -> MatchResult:
        document, partner, result = checked.document, checked.partner, checked.result
        if (document.transaction_set == "810" and result.status == "unmatched" and partner.create_bills
                and isinstance(checked.model, Invoice)):
            return self._bill(checked, checked.model, summary)
        if (document.transaction_set == "850" and result.status == "unanswered" and partner.orders_become != "none"
                and isinstance(checked.model, PurchaseOrder)):
            return self._order(checked, checked.model, summary)
        return result

    def _bill(self, checked: Checked, invoice: Invoice, summary: MatchSummary) -> MatchResult:
        partner, result = checked.partner, checked.result
        if invoice.purpose is not Purpose.ORIGINAL or invoice.is_credit_memo:
            what = "a credit memo" if invoice.is_credit_memo else f"purpose {invoice.purpose.value}"
            return _noted(result, "bill", "skipped", f"{what}: only an original invoice becomes a bill")
        if self.read_only:
            summary.writes["bill refused (read-only)"] += 1
            return _noted(result, "bill", "refused", f"would create a bill: {READ_ONLY_REASON}")
        vendorid, why = self.ensure_party(partner, invoice.seller, summary, checked)
        if vendorid is None:
            return _noted(result, "bill", "skipped", f"no FreshBooks bill vendor for {partner.id}: {why}")
        writer = self.writer()
        number = invoice.invoice_number
        note = f"EDI 810 {number} from {partner.id}, ISA13 {checked.document.isa13} (freshcleo)"
        return self._once(checked, summary, "bill", "a bill", number,
                          lambda: bodies.bill_body(invoice, vendorid, note),
                          find=functools.partial(writer.find_bill, vendorid, number), create=writer.create_bill)

    def _order(self, checked: Checked, order: PurchaseOrder, summary: MatchSummary) -> MatchResult:
        partner, result = checked.partner, checked.result
        kind = "estimate" if partner.orders_become == "estimate" else "invoice"
        label = "an estimate" if kind == "estimate" else "a draft invoice"
        if order.purpose is not Purpose.ORIGINAL:
            return _noted(result, kind, "skipped", f"purpose {order.purpose.value}: only an original order "
                                                   f"becomes {label}")
        if self.read_only:
            summary.writes[f"{kind} refused (read-only)"] += 1
            return _noted(result, kind, "refused", f"would create {label}: {READ_ONLY_REASON}")
        customerid, why = self.ensure_party(partner, order.buyer, summary, checked)
        if customerid is None:
            return _noted(result, kind, "skipped", f"no FreshBooks client for {partner.id}: {why}")
        writer = self.writer()
        note = f"EDI 850 PO {order.po_number} from {partner.id}, ISA13 {checked.document.isa13} (freshcleo)"
        if kind == "estimate":
            return self._once(checked, summary, kind, label, order.po_number,
                              lambda: bodies.estimate_body(order, customerid, note),
                              find=functools.partial(writer.find_estimate, customerid, order.po_number),
                              create=writer.create_estimate)
        return self._once(checked, summary, kind, label, order.po_number,
                          lambda: bodies.draft_invoice_body(order, customerid, note),
                          find=functools.partial(writer.find_invoice, customerid, order.po_number),
                          create=writer.create_draft_invoice)

    def _once(self, checked: Checked, summary: MatchSummary, kind: str, label: str, reference: str,
              body: Callable[[], Mapping[str, Any]], *, find: Callable[[], str | None],
              create: Callable[[Mapping[str, Any]], str]) -> MatchResult:
        """One write for this document, and none for another document of the partner with the same number (a
        resent invoice or order under a new ISA13), nor when FreshBooks already holds it (a person keyed it)."""
        document, partner, result = checked.document, checked.partner, checked.result
        key = _key(kind, checked, reference)
        with self.ctx.ledger.begin() as conn:
            taken = reference in ledger_writes.claimed_references(conn, partner.id, kind)
            mine = ledger_writes.get(conn, key)
        if taken and mine is None:
            return _noted(result, kind, "skipped", f"{label} for {reference} was already created from another of "
                                                   f"{partner.id}'s documents")
        if mine is None:
            existing = find()
            if existing is not None:
                return dataclasses.replace(result, freshbooks_kind=kind, freshbooks_id=existing, detail={
                    **result.detail, "freshbooks_write": {"kind": kind, "state": "exists", "id": existing,
                                                          "reason": f"FreshBooks already holds {kind} {existing} "
                                                                    f"for {reference}"}})
        try:
            content = body()
        except DataError as exc:  # their document cannot become one: said on the result, nothing written
            summary.writes[f"{kind} not written"] += 1
            return _noted(result, kind, "failed", str(exc))
        outcome = write_once(self.ctx, self.writer(), key=key, partner_id=partner.id, kind=kind,
                             reference=reference[:64], body=content, find=find, create=create,
                             origin=Origin(document.transaction_set, document.source_id),
                             partner_document_id=document.id)
        _count(summary, kind, outcome)
        return _outcome(result, outcome)

    def ensure_party(self, partner: TradingPartner, party: Party | None, summary: MatchSummary | None = None,
                     checked: Checked | None = None) -> tuple[str | None, str]:
        """The partner's client or bill vendor id, created once when it has none and opts in; with the reason
        when there is none."""
        found = self.party_of(partner)
        if found is not None:
            return found, ""
        if not partner.create_reference_data:
            return None, "set create_reference_data: true to create it"
        if self.read_only:
            return None, READ_ONLY_REASON
        kind = party_kind(partner)
        writer = self.writer()
        if kind == "client":
            body = bodies.client_body(partner, party)
            name = str(body.get("organization") or partner.name)
            find, create = functools.partial(writer.find_client, name), writer.create_client
        else:
            body = bodies.bill_vendor_body(partner, party)
            name = str(body.get("vendor_name") or partner.name)
            find, create = functools.partial(writer.find_bill_vendor, name), writer.create_bill_vendor
        # The content is in the key: a vendor FreshBooks refused is tried again once partners.yaml is fixed.
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
        key = f"{kind}:{partner.id}:{digest}"
        with self.ctx.ledger.begin() as conn:
            first_attempt = ledger_writes.get(conn, key) is None
        existing = find() if first_attempt else None  # a vendor the reference poll has not seen yet
        if existing is not None:
            return existing, ""
        origin = Origin(checked.document.transaction_set, checked.document.source_id) if checked else None
        outcome = write_once(self.ctx, writer, key=key, partner_id=partner.id, kind=kind, reference=name[:64],
                             body=body, find=find, create=create, origin=origin,
                             partner_document_id=checked.document.id if checked else None)
        if summary is not None:
            _count(summary, kind, outcome)
        if outcome.state == "created":
            return outcome.freshbooks_id, ""
        return None, f"its creation is {outcome.state}" + (f": {outcome.reason}" if outcome.reason else "")


def _count(summary: MatchSummary, kind: str, outcome: WriteOutcome) -> None:
    """What this run did: a write made or found now, or one that did not go through (not the ones done before)."""
    if outcome.created_now:
        summary.writes[f"{kind} created"] += 1
    elif outcome.adopted:
        summary.writes[f"{kind} found after a lost answer"] += 1
    elif outcome.state != "created":
        summary.writes[f"{kind} {outcome.state}"] += 1


def _key(kind: str, checked: Checked, reference: str) -> str:
    """Partner, their ISA13/GS06/ST02 and their number: the document as both sides name it."""
    return f"{kind}:{checked.partner.id}:{checked.document.source_id}:{reference}"[:200]


def _noted(result: MatchResult, kind: str, state: str, reason: str) -> MatchResult:
    return dataclasses.replace(result, detail={**result.detail, "freshbooks_write": {
        "kind": kind, "state": state, "reason": reason}})


def _outcome(result: MatchResult, outcome: WriteOutcome) -> MatchResult:
    write = {"kind": outcome.kind, "state": outcome.state, "id": outcome.freshbooks_id, "reason": outcome.reason}
    if outcome.state == "created" and outcome.freshbooks_id:
        return dataclasses.replace(result, freshbooks_kind=outcome.kind, freshbooks_id=outcome.freshbooks_id,
                                   detail={**result.detail, "freshbooks_write": write, "created_by_freshcleo": True})
    return dataclasses.replace(result, detail={**result.detail, "freshbooks_write": write})


def create_missing_parties(ctx: SyncContext, account_id: str) -> list[str]:
    """For each enabled partner with ``create_reference_data: true`` and no FreshBooks client or bill vendor:
    create it once (read-only mode: say what would be created). One line per partner concerned."""
    writes = InboundWrites(ctx, account_id)
    said: list[str] = []
    try:
        for partner in ctx.partners.partners:
            if not partner.enabled or not partner.create_reference_data or writes.party_of(partner) is not None:
                continue
            kind = party_kind(partner).replace("_", " ")
            if writes.read_only:
                said.append(f"{partner.id}: would create its FreshBooks {kind}: {READ_ONLY_REASON}")
                continue
            created, why = writes.ensure_party(partner, None)
            said.append(f"{partner.id}: FreshBooks {kind} {created}" if created
                        else f"{partner.id}: FreshBooks {kind} not created: {why}")
    finally:
        writes.close()
    return said
