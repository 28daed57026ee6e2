"""The accounting object kinds the emulator serves: paths, envelope keys, scopes, filters, writable fields.

Owns the table that makes each kind configuration rather than code; nothing here touches data or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Zone = Literal["eastern", "utc"]


@dataclass(frozen=True)
class Kind:
    name: str  # plural, as in the list envelope and the control API
    singular: str
    path: str  # below /accounting/account/{account_id}/
    scope: str  # read scope; the write scope is the same with ":write"
    id_field: str
    stamp: str | None  # the rendered ``updated`` field, None when the object has no timestamp
    zone: Zone
    updated_filter: bool  # whether search[updated_min/_max] is honoured
    event: str | None  # webhook event prefix; None when FreshBooks sends no events for it
    writable: frozenset[str]
    required: tuple[str, ...]
    http_delete: bool = False  # HTTP DELETE is documented (as the SDK uses it) only for invoices

    @property
    def write_scope(self) -> str:
        return self.scope.rsplit(":", 1)[0] + ":write"


_ADDRESS = {"fname", "lname", "organization", "street", "city", "province", "code", "country"}

INVOICES = Kind(
    "invoices", "invoice", "invoices/invoices", "user:invoices:read", "id", "updated", "eastern", True,
    "invoice",
    frozenset({"customerid", "create_date", "due_offset_days", "currency_code", "language", "template",
               "po_number", "discount_value", "notes", "terms", "description", "lines", "vat_name",
               "vat_number", "ownerid", "estimateid", "parent", "show_attachments", "auto_bill",
               "deposit_status", "invoice_number", *_ADDRESS}),
    ("customerid", "create_date"), http_delete=True)
PAYMENTS = Kind(
    "payments", "payment", "payments/payments", "user:payments:read", "id", "updated", "eastern", True,
    "payment", frozenset({"invoiceid", "amount", "date", "type", "note", "transactionid", "gateway"}),
    ("invoiceid", "amount", "date"))
BILLS = Kind(
    "bills", "bill", "bills/bills", "user:bills:read", "id", "updated_at", "utc", False, "bill",
    frozenset({"vendorid", "bill_number", "issue_date", "due_offset_days", "currency_code", "language",
               "attachment", "overall_category", "overall_description", "lines"}),
    ("vendorid", "issue_date"))
BILL_PAYMENTS = Kind(
    "bill_payments", "bill_payment", "bill_payments/bill_payments", "user:bill_payments:read", "id", None,
    "utc", False, None, frozenset({"billid", "amount", "paid_date", "payment_type", "note"}),
    ("billid", "amount", "paid_date"))
BILL_VENDORS = Kind(
    "bill_vendors", "bill_vendor", "bill_vendors/bill_vendors", "user:bill_vendors:read", "vendorid",
    "updated_at", "utc", False, "bill_vendor",
    frozenset({"vendor_name", "account_number", "currency_code", "is_1099", "language", "note", "phone",
               "primary_contact_email", "primary_contact_first_name", "primary_contact_last_name", "street",
               "street2", "city", "province", "postal_code", "country", "website", "tax_defaults"}),
    ("vendor_name",))
CLIENTS = Kind(
    "clients", "client", "users/clients", "user:clients:read", "id", "updated", "eastern", True, "client",
    frozenset({"fname", "lname", "organization", "email", "currency_code", "language", "p_street",
               "p_street2", "p_city", "p_province", "p_code", "p_country", "s_street", "s_street2", "s_city",
               "s_province", "s_code", "s_country", "bus_phone", "mob_phone", "home_phone", "fax", "note",
               "vat_name", "vat_number", "allow_late_fees", "allow_late_notifications", "username"}),
    ())
# Estimates (reference §4.2 path, §2.9 scopes; fields by analogy with invoices — the estimate field table is not in
# the reference): the status is computed (always 1, draft, for estimates created over the API) and never set.
ESTIMATES = Kind(
    "estimates", "estimate", "estimates/estimates", "user:estimates:read", "id", "updated", "eastern", False,
    "estimate",
    frozenset({"customerid", "create_date", "currency_code", "language", "template", "po_number",
               "discount_value", "notes", "terms", "description", "lines", "vat_name", "vat_number", "ownerid",
               "estimate_number", *_ADDRESS}),
    ("customerid", "create_date"))
ITEMS = Kind(
    "items", "item", "items/items", "user:billable_items:read", "id", "updated", "eastern", True, "item",
    frozenset({"name", "description", "sku", "qty", "inventory", "unit_cost", "tax1", "tax2"}), ("name",))

KINDS: dict[str, Kind] = {k.name: k for k in (INVOICES, PAYMENTS, BILLS, BILL_PAYMENTS, BILL_VENDORS, CLIENTS,
                                              ITEMS, ESTIMATES)}
BY_SINGULAR: dict[str, Kind] = {k.singular: k for k in KINDS.values()}

# Events a callback may subscribe to (§16.5 of the reference); a bare parent name subscribes to all three
# verbs. No bill_payment events exist.
EVENT_OBJECTS = ("bill", "bill_vendor", "category", "client", "credit_note", "estimate", "expense", "invoice",
                 "item", "payment", "project", "recurring", "service", "tax", "time_entry")
_EXTRA_VERBS = {"estimate": ("sendByEmail",), "invoice": ("sendByEmail",)}
EVENTS: frozenset[str] = frozenset(
    {obj for obj in EVENT_OBJECTS}
    | {f"{obj}.{verb}" for obj in EVENT_OBJECTS for verb in ("create", "update", "delete", *_EXTRA_VERBS.get(obj, ()))}
)
