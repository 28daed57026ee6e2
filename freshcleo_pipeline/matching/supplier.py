"""A supplier's invoice (their 810) matched three ways: against the purchase order we sent (our 850, the
version delivered), the FreshBooks bill it came from as it is now, and the bill's vendor.

Owns the supplier statuses (``matched``, ``mismatched``, ``unmatched``). Pure: the caller finds the sent
purchase order, the bill and whether the vendor is right; nothing here reads the ledger or FreshBooks.
"""

from __future__ import annotations

from typing import Any

from freshcleo_pipeline.documents import Invoice, PurchaseOrder
from freshcleo_pipeline.matching.compare import Figures, Wording, compare
from freshcleo_pipeline.matching.results import Difference, MatchResult
from freshcleo_pipeline.partners import Tolerance

COLUMNS = {"theirs": "invoiced", "sent": "ordered", "freshbooks": "on the FreshBooks bill"}
WORDING = Wording(theirs="their invoice", sent="the purchase order we sent", freshbooks="the FreshBooks bill")


def match_supplier_invoice(theirs: Invoice, *, sent: PurchaseOrder | None, bill: PurchaseOrder | None,
                           vendor_ok: bool | None, tolerance: Tolerance) -> MatchResult:
    """Their invoice against what we sent and what FreshBooks holds.

    ``sent``: the 850 we delivered for their PO number (BIG04), ``None`` if we sent none; ``bill``: the
    FreshBooks bill with that id now, ``None`` if there is none; ``vendor_ok``: whether the bill's vendor is
    this supplier's (``None``: not checked). ``unmatched`` when neither ``sent`` nor ``bill`` is given;
    ``matched`` when every compared figure is within tolerance of every version present and the vendor is not
    known to be wrong; ``mismatched`` otherwise.
    """
    po_number = theirs.po_number or (sent.po_number if sent else "") or (bill.po_number if bill else "")
    differences: list[Difference] = []
    if vendor_ok is False:
        differences.append(_vendor(theirs, sent, bill))
    detail: dict[str, Any] = {
        "columns": COLUMNS, "their_invoice": theirs.invoice_number, "po_number": po_number,
        "sent_found": sent is not None, "bill_found": bill is not None, "vendor_checked": vendor_ok is not None,
        "tolerance": {"amount": str(tolerance.amount), "quantity": str(tolerance.quantity)},
    }
    if sent is None and bill is None:
        what = f"purchase order {po_number}" if po_number else "their invoice names no purchase order"
        detail["headline"] = (f"unmatched: no {what} sent and no such FreshBooks bill" if po_number
                              else f"unmatched: {what}")
        return MatchResult("unmatched", tuple(differences), None, None, po_number or None, detail)

    ours = {column: Figures.of(doc) for column, doc in (("sent", sent), ("freshbooks", bill)) if doc is not None}
    differences += compare(Figures.of(theirs), ours, tolerance, WORDING)
    detail["bill_changed_since_sent"] = bool(sent and bill and Figures.of(sent) != Figures.of(bill))
    status = "mismatched" if differences else "matched"
    against = " and ".join(w for c, w in (("sent", WORDING.sent), ("freshbooks", WORDING.freshbooks)) if c in ours)
    detail["headline"] = f"matches {against}" if status == "matched" else ""
    if status == "matched" and bill is None:
        detail["headline"] += " (no FreshBooks bill found)"
    if status == "matched" and sent is None:
        detail["headline"] += " (we sent no purchase order for it)"
    # The bill's id: the sent purchase order was made from the same bill, so its source names it even when the
    # bill is gone from FreshBooks.
    origin = bill or sent
    freshbooks_id = origin.source.source_id if origin else None
    return MatchResult(status, tuple(differences), "bill", freshbooks_id, po_number or None, detail)


def _vendor(theirs: Invoice, sent: PurchaseOrder | None, bill: PurchaseOrder | None) -> Difference:
    def named(doc: PurchaseOrder | None) -> str | None:
        if doc is None:
            return None
        party = doc.seller
        return f"{party.name} ({party.source_id})" if party.source_id else party.name

    return Difference("vendor", theirs.seller.name or None, named(sent), named(bill),
                      "the bill's vendor is not this supplier's FreshBooks vendor")
