"""A customer's documents matched with FreshBooks: their purchase order (850) against the invoice answering it,
their remittance (820) against the invoices it pays.

Owns the customer statuses (``answered``, ``unanswered``, ``reported``) and ``InvoiceStanding``, FreshBooks'
own figures for an invoice. Pure: the caller looks up the client, the invoice and the standings. A remittance
is reported, never written: nothing here records a payment anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from freshcleo_pipeline.documents import Invoice, PurchaseOrder, Remittance
from freshcleo_pipeline.matching.compare import Figures, Wording, compare, within
from freshcleo_pipeline.matching.results import Difference, MatchResult, money_text
from freshcleo_pipeline.partners import Tolerance

ORDER_COLUMNS = {"theirs": "ordered", "freshbooks": "invoiced"}
ORDER_WORDING = Wording(theirs="their purchase order", sent="", freshbooks="our invoice")
REMITTANCE_COLUMNS = {"theirs": "per their remittance", "freshbooks": "in FreshBooks"}


@dataclass(frozen=True)
class InvoiceStanding:
    """Where an invoice stands in FreshBooks: its total, what FreshBooks shows paid and what is outstanding."""

    invoice_id: str
    invoice_number: str
    total: Decimal
    paid: Decimal
    outstanding: Decimal
    currency: str = "USD"


def match_customer_order(theirs: PurchaseOrder, *, invoice: Invoice | None, client_id: str | None,
                         tolerance: Tolerance) -> MatchResult:
    """Their purchase order against our invoice carrying its PO number.

    ``answered`` when ``invoice`` is given, whatever its figures: they are compared (lines, tax, total, as for
    a supplier's invoice) and reported as information, with ``detail["differs"]``. ``unanswered`` otherwise.
    ``client_id`` is the partner's FreshBooks client; ``None`` is a difference on ``client``.
    """
    differences: list[Difference] = []
    if client_id is None:
        differences.append(Difference("client", theirs.buyer.name or None, None, None,
                                      "no FreshBooks client for this partner"))
    elif invoice is not None and invoice.bill_to.source_id and invoice.bill_to.source_id != client_id:
        differences.append(Difference("client", theirs.buyer.name or None, None, invoice.bill_to.source_id,
                                      f"invoice {invoice.invoice_number} is for FreshBooks client "
                                      f"{invoice.bill_to.source_id}, not this partner's client {client_id}"))
    detail: dict[str, Any] = {"columns": ORDER_COLUMNS, "po_number": theirs.po_number,
                              "client_found": client_id is not None, "differs": False,
                              "tolerance": {"amount": str(tolerance.amount), "quantity": str(tolerance.quantity)}}
    if invoice is None:
        detail["headline"] = f"no invoice answers purchase order {theirs.po_number} yet"
        kind, freshbooks_id = ("client", client_id) if client_id is not None else (None, None)
        return MatchResult("unanswered", tuple(differences), kind, freshbooks_id, None, detail)

    figures = compare(Figures.of(theirs), {"freshbooks": Figures.of(invoice)}, tolerance, ORDER_WORDING)
    detail["differs"] = bool(figures)
    detail["invoice_number"] = invoice.invoice_number
    detail["headline"] = (f"answered by invoice {invoice.invoice_number}"
                          + (", which differs from the order" if figures else ""))
    return MatchResult("answered", (*differences, *figures), "invoice", invoice.source.source_id,
                       invoice.invoice_number, detail)


def match_remittance(theirs: Remittance, *, invoices: Mapping[str, InvoiceStanding],
                     tolerance: Tolerance | None = None) -> MatchResult:
    """Their remittance against FreshBooks' standing of each invoice it names (``invoices`` by invoice number).

    Always ``reported``: the facts go in ``detail["items"]``, one per remittance item (``found``, what they say
    they paid, FreshBooks' total, paid and outstanding), never into FreshBooks. An item is
    ``not_yet_paid_in_freshbooks`` when FreshBooks shows less paid on the invoice than this remittance says it
    paid, by more than the amount tolerance: FreshBooks cannot yet hold this payment. (False does not prove the
    payment is recorded: earlier payments can account for what FreshBooks shows.) Differences: an invoice
    number FreshBooks does not know, an amount paid beyond the invoice's total, a document total or currency
    other than FreshBooks'.
    """
    limit = (tolerance or Tolerance()).amount
    differences: list[Difference] = []
    items: list[dict[str, Any]] = []
    for number, item in enumerate(theirs.items, start=1):
        at = f"items[{number}]"
        standing = invoices.get(item.reference_number)
        paid_text = money_text(item.amount_paid)
        entry: dict[str, Any] = {"item": number, "reference_number": item.reference_number, "found": False,
                                 "invoice_id": None, "amount_paid": paid_text,
                                 "document_total": money_text(item.document_total)
                                 if item.document_total is not None else None,
                                 "freshbooks_total": None, "freshbooks_paid": None, "freshbooks_outstanding": None,
                                 "not_yet_paid_in_freshbooks": None}
        items.append(entry)
        if standing is None:
            differences.append(Difference(f"{at}.reference_number", item.reference_number, None, None,
                                          f"no FreshBooks invoice numbered {item.reference_number}"))
            continue
        entry.update(found=True, invoice_id=standing.invoice_id, freshbooks_total=money_text(standing.total),
                     freshbooks_paid=money_text(standing.paid),
                     freshbooks_outstanding=money_text(standing.outstanding),
                     not_yet_paid_in_freshbooks=standing.paid < item.amount_paid - limit)
        if standing.currency != theirs.currency:
            differences.append(Difference(f"{at}.currency", theirs.currency, None, standing.currency,
                                          f"invoice {standing.invoice_number} is in another currency"))
        if item.amount_paid > standing.total + limit:
            differences.append(Difference(f"{at}.amount_paid", paid_text, None, money_text(standing.total),
                                          f"paid more than invoice {standing.invoice_number}'s total"))
        if item.document_total is not None and not within(item.document_total, standing.total, limit):
            differences.append(Difference(f"{at}.document_total", money_text(item.document_total), None,
                                          money_text(standing.total),
                                          f"invoice {standing.invoice_number}'s total differs"))

    found = [i for i in items if i["found"]]
    waiting = sum(1 for i in found if i["not_yet_paid_in_freshbooks"])
    unknown = len(items) - len(found)
    facts = [f"{len(items)} invoice{'s' if len(items) != 1 else ''}"]
    facts += [f"{waiting} not yet paid in FreshBooks"] if waiting else []
    facts += [f"{unknown} unknown"] if unknown else []
    detail: dict[str, Any] = {
        "columns": REMITTANCE_COLUMNS, "trace_number": theirs.trace_number, "amount": money_text(theirs.amount),
        "currency": theirs.currency, "items": items, "not_yet_paid_in_freshbooks": waiting,
        "unknown_invoices": unknown, "tolerance": {"amount": str(limit)},
        "headline": f"payment {theirs.trace_number} of {money_text(theirs.amount)}: {', '.join(facts)}",
    }
    # One invoice paid: the result names it, so the trail finds the remittance from the invoice.
    single = found[0] if len(items) == 1 and found else None
    return MatchResult("reported", tuple(differences), "invoice", single["invoice_id"] if single else None,
                       single["reference_number"] if single else None, detail)
