"""Normalized business documents: the contract between FreshBooks normalization and the X12 mappings.

Owns the shapes (Invoice, PurchaseOrder, Remittance and their parts). Does no I/O and knows neither
FreshBooks' JSON nor X12 syntax. Money is ``Decimal`` throughout; a float never enters these models.
Free text is kept as FreshBooks gave it: cleaning it for X12 is the X12 layer's job, and it reports what it
changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DocumentKind(StrEnum):
    """The FreshBooks document types the product turns into EDI."""

    INVOICE = "invoice"
    BILL = "bill"
    PAYMENT = "payment"
    BILL_PAYMENT = "bill_payment"


#: The X12 transaction set each kind maps to.
TRANSACTION_SET: dict[DocumentKind, str] = {
    DocumentKind.INVOICE: "810",
    DocumentKind.BILL: "850",
    DocumentKind.PAYMENT: "820",
    DocumentKind.BILL_PAYMENT: "820",
}


class Purpose(StrEnum):
    """Why a document is sent: first time, as a replacement of a delivered version, or to cancel it."""

    ORIGINAL = "original"
    REPLACE = "replace"
    CANCEL = "cancel"


def _no_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError(f"money must be a decimal string or Decimal, not the float {value!r}")
    return value


Amount = Annotated[Decimal, Field(max_digits=18, decimal_places=6)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(_Model):
    street: str = ""
    street2: str = ""
    city: str = ""
    province: str = ""  # state or province code as FreshBooks holds it
    postal_code: str = ""
    country: str = ""

    @property
    def is_empty(self) -> bool:
        return not any((self.street, self.street2, self.city, self.province, self.postal_code, self.country))


class Party(_Model):
    """A business on a document: customer, vendor, or ourselves."""

    name: str
    source_id: str = ""  # FreshBooks client or vendor id, when the party comes from FreshBooks
    edi_id: str = ""  # the id the trading partner knows this party by (N104), when configured
    contact: str = ""
    email: str = ""
    phone: str = ""
    address: Address = Address()


class Tax(_Model):
    name: str
    percent: Decimal
    amount: Amount

    _v = field_validator("percent", "amount", mode="before")(_no_float)


class Line(_Model):
    line_number: int = Field(ge=1)
    name: str = ""
    description: str = ""
    quantity: Decimal
    unit_price: Amount
    amount: Amount  # extended amount as the source computed it (quantity x unit price)
    unit: str = "EA"
    sku: str = ""
    taxes: tuple[Tax, ...] = ()

    _v = field_validator("quantity", "unit_price", "amount", mode="before")(_no_float)


class SourceRef(_Model):
    """Where a document came from, for the audit trail."""

    kind: DocumentKind
    account_id: str
    source_id: str  # the FreshBooks id (invoiceid, billid, paymentid…) as a string
    version: str  # content hash of the source payload; changes whenever FreshBooks content changes
    updated_at: dt.datetime  # UTC, aware

    @field_validator("updated_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("updated_at must be timezone-aware (UTC)")
        return value.astimezone(dt.UTC)


class Invoice(_Model):
    """A FreshBooks invoice, as it goes out in an 810."""

    doc_type: Literal["invoice"] = "invoice"
    source: SourceRef
    purpose: Purpose = Purpose.ORIGINAL
    is_credit_memo: bool = False
    invoice_number: str
    po_number: str = ""
    issue_date: dt.date
    due_date: dt.date | None = None
    currency: str = "USD"
    seller: Party  # ourselves, the remit-to
    bill_to: Party
    ship_to: Party | None = None
    lines: tuple[Line, ...]
    discount_percent: Decimal = Decimal("0")
    discount_amount: Amount = Decimal("0")
    tax_total: Amount = Decimal("0")
    total: Amount  # what FreshBooks says the invoice amount is
    notes: str = ""
    terms: str = ""

    _v = field_validator("discount_amount", "tax_total", "total", "discount_percent", mode="before")(_no_float)


class PurchaseOrder(_Model):
    """A FreshBooks bill, as it goes out to the supplier in an 850."""

    doc_type: Literal["purchase_order"] = "purchase_order"
    source: SourceRef
    purpose: Purpose = Purpose.ORIGINAL
    po_number: str
    bill_number: str = ""  # the vendor's own number for the bill (their invoice number), when FreshBooks has it
    issue_date: dt.date
    due_date: dt.date | None = None
    currency: str = "USD"
    buyer: Party  # ourselves
    seller: Party  # the vendor
    lines: tuple[Line, ...]
    tax_total: Amount = Decimal("0")
    total: Amount
    notes: str = ""

    _v = field_validator("tax_total", "total", mode="before")(_no_float)


class RemittanceItem(_Model):
    """One invoice (or bill) settled by a payment."""

    reference_number: str  # the invoice or bill number the payee knows
    source_id: str = ""  # FreshBooks invoice or bill id
    document_date: dt.date | None = None
    amount_paid: Amount
    document_total: Amount | None = None

    _v = field_validator("amount_paid", "document_total", mode="before")(_no_float)


class Remittance(_Model):
    """A payment (customer → us) or bill payment (us → supplier), as it goes out in an 820."""

    doc_type: Literal["remittance"] = "remittance"
    source: SourceRef
    purpose: Purpose = Purpose.ORIGINAL
    payment_date: dt.date
    amount: Amount
    currency: str = "USD"
    method: str = ""  # FreshBooks payment type ("Check", "ACH", "Credit Card", …)
    trace_number: str  # a reference unique to the payment (TRN02)
    check_number: str = ""  # the check or EFT reference FreshBooks holds for the payment (REF*CK), if any
    # On a reversal or a resend of a delivered payment: the trace number of the first 820 sent for it, which
    # every later 820 of the payment names (REF*TN) so a receiver can tie them together.
    corrects_trace: str = ""
    payer: Party
    payee: Party
    items: tuple[RemittanceItem, ...]
    notes: str = ""

    _v = field_validator("amount", mode="before")(_no_float)


BusinessDocument = Invoice | PurchaseOrder | Remittance


def content_version(payload: object) -> str:
    """A stable hash of a JSON-able payload: the 'content version' in idempotency keys."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
