"""Sample documents for the X12 tests: the reference sheet's illustrative 810, 850 and 820 (§5-§7)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from freshcleo_pipeline.documents import (
    Address,
    DocumentKind,
    Invoice,
    Line,
    Party,
    PurchaseOrder,
    Purpose,
    Remittance,
    RemittanceItem,
    SourceRef,
    Tax,
)
from freshcleo_pipeline.x12 import EnvelopeParams

UPDATED = dt.datetime(2024, 3, 11, 16, 0, tzinfo=dt.UTC)
DATE = dt.date(2024, 3, 11)
TIME = dt.time(16, 2)


def source(kind: DocumentKind, source_id: str = "1234") -> SourceRef:
    return SourceRef(kind=kind, account_id="acct", source_id=source_id, version="v1", updated_at=UPDATED)


def envelope(**overrides: object) -> EnvelopeParams:
    params: dict[str, object] = {
        "sender_qualifier": "ZZ", "sender_id": "NORTHWIND", "receiver_qualifier": "ZZ",
        "receiver_id": "HARBORFOODS",
    }
    params.update(overrides)
    return EnvelopeParams(**params)  # type: ignore[arg-type]


def invoice(**overrides: object) -> Invoice:
    """Invoice 0000412: 10 x 12.50 taxed 8 %, 1 x 20.00, 10 % discount, total 139.50 (reference §5)."""
    fields: dict[str, object] = {
        "source": source(DocumentKind.INVOICE),
        "invoice_number": "0000412",
        "po_number": "PO-7781",
        "issue_date": dt.date(2024, 3, 8),
        "due_date": dt.date(2024, 4, 7),
        "seller": Party(name="Northwind Supply"),
        "bill_to": Party(name="Harbor Foods", address=Address(street="88 Pier Rd", city="Portland",
                                                              province="Maine", postal_code="04101",
                                                              country="United States")),
        "lines": (
            Line(line_number=1, name="Widget A blue 10 cm", quantity=Decimal("10"), unit_price=Decimal("12.50"),
                 amount=Decimal("125.00"), sku="WA-10-BLU",
                 taxes=(Tax(name="Sales tax", percent=Decimal("8"), amount=Decimal("9.00")),)),
            Line(line_number=2, name="Setup fee", quantity=Decimal("1"), unit_price=Decimal("20.00"),
                 amount=Decimal("20.00"), sku="SETUP"),
        ),
        "discount_percent": Decimal("10"),
        "discount_amount": Decimal("14.50"),
        "tax_total": Decimal("9.00"),
        "total": Decimal("139.50"),
    }
    fields.update(overrides)
    return Invoice(**fields)  # type: ignore[arg-type]


def purchase_order(**overrides: object) -> PurchaseOrder:
    """Bill 412: one line 2 x 40.00 (reference §6)."""
    fields: dict[str, object] = {
        "source": source(DocumentKind.BILL, "412"),
        "po_number": "412",
        "issue_date": dt.date(2024, 3, 1),
        "buyer": Party(name="Northwind Supply"),
        "seller": Party(name="Acme Packaging"),
        "lines": (Line(line_number=1, name="Pallet wrap", quantity=Decimal("2"), unit_price=Decimal("40.00"),
                       amount=Decimal("80.00")),),
        "total": Decimal("80.00"),
    }
    fields.update(overrides)
    return PurchaseOrder(**fields)  # type: ignore[arg-type]


def remittance(**overrides: object) -> Remittance:
    """Payment 7720 of 39.50 against invoice 0000412 (reference §7)."""
    fields: dict[str, object] = {
        "source": source(DocumentKind.PAYMENT, "7720"),
        "payment_date": dt.date(2024, 3, 11),
        "amount": Decimal("39.50"),
        "method": "Check",
        "trace_number": "7720",
        "payer": Party(name="Harbor Foods"),
        "payee": Party(name="Northwind Supply"),
        "items": (RemittanceItem(reference_number="0000412", document_date=dt.date(2024, 3, 8),
                                 amount_paid=Decimal("39.50"), document_total=Decimal("139.50")),),
    }
    fields.update(overrides)
    return Remittance(**fields)  # type: ignore[arg-type]


__all__ = ["DATE", "TIME", "Purpose", "envelope", "invoice", "purchase_order", "remittance", "source"]
