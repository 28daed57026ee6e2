"""Partner business documents at the inbound stage: read each set into data, and acknowledge each group once.

``take_business_sets`` is called by the inbound stage for a recorded file from a partner. For every functional
group that carries business documents (anything but 997/999 groups) it

- reads each transaction set (``x12/partner_documents``) and records it in ``partner_documents``: status
  ``read`` with numbers, dates and money, or ``unreadable`` with the reason; one bad set never stops the next;
- stores the acknowledgment the partner's settings ask for (``acknowledgment: 997 | 999 | none``), built from
  our validator's findings on their file (a syntax error rejects the set with AK3/AK4, IK3/IK4 in a 999), with
  our own control numbers, in an outbound interchange keyed by partner + their ISA13 + GS06;
- stores a TA1 when their ISA14 asks for one (keyed by partner + their ISA13).

Storing is one transaction per acknowledgment, before any upload; ``send_acknowledgments`` (end of the inbound
poll) and the deliver stage upload what is stored, through ``sync/deliver``, which checks Cleo first. So a file
read again after a crash, a re-run, or a failed upload still gives the partner exactly one acknowledgment.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, Protocol

from freshcleo_pipeline.cleo.client import outbound_file_name
from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.ledger import audit, control_numbers, outbox
from freshcleo_pipeline.ledger import partner_documents as ledger_documents
from freshcleo_pipeline.ledger.inbound import InboundFile
from freshcleo_pipeline.partners import TradingPartner
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.deliver import deliver_acknowledgments
from freshcleo_pipeline.sync.render import envelope_for
from freshcleo_pipeline.x12.ack import acknowledge, build_ta1
from freshcleo_pipeline.x12.hygiene import Charset
from freshcleo_pipeline.x12.partner_documents import (
    ACKNOWLEDGMENT_SETS,
    PartnerDocumentError,
    interchange_text,
    read_partner_document,
)
from freshcleo_pipeline.x12.reader import ReadFile, ReadGroup, ReadInterchange, ReadSet, reading_form

#: The character set their files are held to. A partner's ``charset`` is what we promise to send; what we
#: accept is the extended set, as translators commonly do: rejecting lower-case text in a description would
#: refuse orders for a reason no person on either side cares about.
INBOUND_CHARSET = Charset.EXTENDED


class Summary(Protocol):
    """What the inbound stage's summary offers this module (``sync.inbound.InboundSummary``)."""

    errors: list[str]
    partner_documents: Any  # Counter: "850 read", "810 unreadable", …
    acks_sent: Any  # Counter: "997", "999", "TA1" uploaded


def is_acknowledgment_group(group: ReadGroup) -> bool:
    """A group of 997s/999s: answered by nobody (an acknowledgment is never acknowledged)."""
    return group.functional_id.upper() == "FA" or (bool(group.sets) and all(
        st.set_id in ACKNOWLEDGMENT_SETS for st in group.sets))


def take_business_sets(ctx: SyncContext, partner: TradingPartner, file_row: InboundFile, read: ReadFile,
                       summary: Summary) -> None:
    """Read, record and acknowledge the business groups of one recorded file (idempotent per file)."""
    text, file_id = reading_form(file_row.content), file_row.id
    for interchange in read.interchanges:
        # The validator locates findings by position in the interchange as sent; a file of several
        # interchanges is validated one interchange at a time, written out again from what was read.
        whole = text if len(read.interchanges) == 1 else interchange_text(interchange)
        business = [g for g in interchange.groups if not is_acknowledgment_group(g)]
        for group in business:
            for st in group.sets:
                _record_set(ctx, partner, file_id, interchange, group, st, summary)
        if interchange.ack_requested:
            _guarded(ctx, partner, f"TA1 for ISA13 {interchange.control}",
                     functools.partial(_store_ta1, ctx, partner, file_id, interchange, whole))
        kind = partner.acknowledgment_kind
        if kind == "none":
            continue
        for group in business:
            _guarded(ctx, partner, f"{kind} for ISA13 {interchange.control} GS06 {group.control}",
                     functools.partial(_store_ack, ctx, partner, file_id, interchange, group, whole, kind))


def send_acknowledgments(ctx: SyncContext, client: Any, summary: Summary) -> None:
    """Upload every stored acknowledgment not yet confirmed in Cleo (this poll's, and any a crash left)."""
    delivered = deliver_acknowledgments(ctx, client)
    summary.errors.extend(delivered.failed)
    for kind, count in delivered.acks.items():
        summary.acks_sent[kind] += count


def _guarded(ctx: SyncContext, partner: TradingPartner, what: str, store: Callable[[], None]) -> None:
    try:
        store()
    except FreshcleoError as exc:
        # Nothing was stored (the transaction rolled back). The partner must not go unanswered without a word:
        # the file is set aside in quarantine with this reason, and its retry stores what is missing (the
        # documents already recorded and the acknowledgments already stored are kept once, by their keys).
        ctx.log.error("%s of %s not stored: %s", what, partner.id, exc)
        raise FreshcleoError(f"{what} not stored: {exc}") from exc


def _source_id(interchange: ReadInterchange, group: ReadGroup, st: ReadSet) -> str:
    return f"{interchange.control}/{group.control}/{st.control}"


def _record_set(ctx: SyncContext, partner: TradingPartner, file_id: int, interchange: ReadInterchange,
                group: ReadGroup, st: ReadSet, summary: Summary) -> None:
    source_id = _source_id(interchange, group, st)
    warnings = [*group.warnings, *st.warnings]
    fields: dict[str, Any]
    try:
        doc = read_partner_document(st, partner_id=partner.id, source_id=source_id, received_at=ctx.now())
    except PartnerDocumentError as exc:
        fields = {"status": ledger_documents.UNREADABLE, "reason": str(exc)}
        detail: dict[str, Any] = {"reason": str(exc)}
    else:
        body = doc.document.model_dump(mode="json") if doc.document is not None else doc.summary
        fields = {"status": ledger_documents.READ, "reference": doc.reference, "document_date": doc.document_date,
                  "currency": doc.currency, "total": str(doc.total) if doc.total is not None else None,
                  "body": body}
        detail = {"reference": doc.reference, "date": doc.document_date, "currency": doc.currency,
                  "total": fields["total"], **doc.summary}
    with ctx.ledger.begin() as conn:
        new = ledger_documents.record(conn, inbound_file_id=file_id, partner_id=partner.id,
                                      transaction_set=st.set_id, isa13=interchange.control, gs06=group.control,
                                      st02=st.control, warnings=warnings, run_id=ctx.run_id, **fields)
        if new:
            audit.record(conn, kind=ledger_documents.trail_kind(st.set_id), account_id=partner.id,
                         source_id=source_id, event="received" if fields["status"] == "read" else "unreadable",
                         partner_id=partner.id, detail={"file_id": file_id, **detail}, run_id=ctx.run_id)
    if new:
        summary.partner_documents[f"{st.set_id} {fields['status']}"] += 1
        ctx.log.info("partner document %s %s from %s (ISA13 %s): %s", st.set_id, fields.get("reference") or "-",
                     partner.id, interchange.control, fields["status"])


def _isa13(ctx: SyncContext, conn: Any, partner: TradingPartner) -> int:
    """Our next ISA13 towards this partner: the same sequence as our documents' interchanges."""
    company = ctx.partners.company
    sender = f"{company.edi.isa_qualifier}:{company.edi.isa_id.strip()}"
    receiver = f"{partner.edi.isa_qualifier}:{partner.edi.isa_id.strip()}"
    [isa13] = control_numbers.allocate(conn, control_numbers.isa_scope(partner.usage, sender, receiver))
    return isa13


def _gs06(ctx: SyncContext, conn: Any, partner: TradingPartner) -> int:
    company = ctx.partners.company
    [gs06] = control_numbers.allocate(conn, control_numbers.gs_scope(
        partner.usage, company.edi.group_id, partner.edi.group_id, "FA"))
    return gs06


def _store_ack(ctx: SyncContext, partner: TradingPartner, file_id: int, interchange: ReadInterchange,
               group: ReadGroup, whole: str, kind: str) -> None:
    key = outbox.ack_key(partner.id, interchange.control, group.control)
    now = ctx.now()
    with ctx.ledger.begin() as conn:
        if outbox.ack_exists(conn, key):
            return
        isa13, gs06 = _isa13(ctx, conn, partner), _gs06(ctx, conn, partner)
        ack = acknowledge(whole, kind="999" if kind == "999" else "997", interchange_control_number=isa13,
                          group_control_number=gs06, date=now.date(), time=now.time().replace(microsecond=0),
                          envelope=envelope_for(ctx.partners.company, partner), groups=[group.control],
                          charset=INBOUND_CHARSET)
        (result,) = ack.groups
        sets = [{"set": s.set_id, "gs06": group.control, "st02": s.control, "status": s.status} for s in result.sets]
        name = outbound_file_name(partner.id, kind, isa13)
        outbox.create_ack_interchange(
            conn, key=key, partner_id=partner.id, inbound_file_id=file_id, ack_kind=kind,
            their_isa13=interchange.control, their_gs06=group.control, functional_id=group.functional_id,
            status=result.status, detail={"sets": sets}, usage=partner.usage, isa13=isa13, gs06=gs06,
            file_name=name, content=ack.text, sha256=hashlib.sha256(ack.text.encode("utf-8")).hexdigest(),
            set_count=len(sets), run_id=ctx.run_id)
        audit.record_many(conn, [{
            "kind": ledger_documents.trail_kind(s["set"]), "account_id": partner.id,
            "source_id": f"{interchange.control}/{group.control}/{s['st02']}", "event": "ack_stored",
            "partner_id": partner.id, "run_id": ctx.run_id,
            "detail": {"ack": kind, "status": s["status"], "group_status": result.status, "isa13": isa13,
                       "gs06": gs06, "file_name": name}} for s in sets])
    ctx.log.info("%s for %s ISA13 %s GS06 %s stored as %s (AK9 %s)", kind, partner.id, interchange.control,
                 group.control, name, result.status)


def _store_ta1(ctx: SyncContext, partner: TradingPartner, file_id: int, interchange: ReadInterchange,
               whole: str) -> None:
    key = outbox.ack_key(partner.id, interchange.control)
    now = ctx.now()
    with ctx.ledger.begin() as conn:
        if outbox.ack_exists(conn, key):
            return
        isa13 = _isa13(ctx, conn, partner)
        text, code, note = build_ta1(whole, envelope=envelope_for(ctx.partners.company, partner),
                                     interchange_control_number=isa13, date=now.date(),
                                     time=now.time().replace(microsecond=0), charset=INBOUND_CHARSET)
        sets = [{"set": st.set_id, "gs06": group.control, "st02": st.control, "status": code}
                for group in interchange.groups for st in group.sets]
        name = outbound_file_name(partner.id, "TA1", isa13)
        outbox.create_ack_interchange(
            conn, key=key, partner_id=partner.id, inbound_file_id=file_id, ack_kind="TA1",
            their_isa13=interchange.control, their_gs06=None, functional_id=None, status=code,
            detail={"note": note, "sets": sets}, usage=partner.usage, isa13=isa13, gs06=0, file_name=name,
            content=text, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), set_count=0, run_id=ctx.run_id)
    ctx.log.info("TA1 for %s ISA13 %s stored as %s (%s %s)", partner.id, interchange.control, name, code, note)
