"""Matching partner documents with what we sent and what FreshBooks holds. Pure: no I/O, no ledger, no Dagster.

The caller finds the documents (the 850 we delivered, the FreshBooks bill, invoice or client) and hands them
in; a match returns a ``MatchResult``: a status, the ``Difference``s field by field, and JSON-native detail.

**A supplier's invoice (810)** is compared with the purchase order we sent (the 850 delivered, column
``sent``) and with the FreshBooks bill as it is now (column ``freshbooks``); the two may differ when the bill
changed after sending, and each difference shows both. Compared: currency (exactly); the lines, paired by line
number, then by SKU, then by position among the rest (two lines whose SKUs are both given and differ never
pair) — a line only on their side or only on ours is a difference; on each paired line the quantity, unit price
and line amount; then tax total and total. The bill's vendor is checked by the caller (``vendor_ok``).
``matched`` means every compared figure is within tolerance of every version of ours present and the vendor is
not known to be wrong; ``mismatched`` means at least one difference; ``unmatched`` means there was nothing to
compare with (no purchase order sent and no bill with that number).

**A customer's purchase order (850)** is ``answered`` when an invoice carries its PO number (its figures are
compared in the same way, as information: ``detail["differs"]``), else ``unanswered``. **A customer's
remittance (820)** is ``reported``: per item, FreshBooks' total, paid and outstanding beside what they say
they paid, and whether FreshBooks does not yet show the payment. Nothing is written anywhere.

**Tolerance** (``partners.Tolerance``, per partner): a figure matches when the absolute difference is at most
the tolerance — ``amount`` for money (unit price, line amount, tax total, total, remittance amounts),
``quantity`` for a line's quantity. Zero means equal as numbers (12.5 equals 12.50). Currency, line presence
and the vendor have no tolerance.
"""

from freshcleo_pipeline.matching.customer import InvoiceStanding, match_customer_order, match_remittance
from freshcleo_pipeline.matching.results import Difference, MatchResult, money_text, quantity_text
from freshcleo_pipeline.matching.supplier import match_supplier_invoice

__all__ = [
    "Difference",
    "InvoiceStanding",
    "MatchResult",
    "match_customer_order",
    "match_remittance",
    "match_supplier_invoice",
    "money_text",
    "quantity_text",
]
