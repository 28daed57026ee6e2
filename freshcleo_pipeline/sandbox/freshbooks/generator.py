"""Deterministic, lazy books of Harbor Supply Co., a distributor: the documents the emulator starts with.

Owns what the seed produces. A compact index (one row of arrays per document: id, ``updated`` instant,
visibility, who it belongs to, how it was paid) is built up front in one pass over a seeded stream; the
full document (lines, addresses, amounts) is derived from ``(seed, kind, position)`` only when asked, so
memory and page latency stay flat from a few dozen to 100,000+ invoices. Edits made later live in the
store, never here. Returned records are shared (cached): copy them before changing anything.
"""

from __future__ import annotations

import random
import uuid
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import accumulate
from typing import Any

from freshcleo_pipeline.sandbox.freshbooks import catalog, compute, times

Record = dict[str, Any]

INVOICE_BASE = 100_001
PAYMENT_BASE = 200_001
BILL_BASE = 300_001
BILL_PAYMENT_BASE = 400_001
CLIENT_BASE = 5_001
VENDOR_BASE = 301
ITEM_BASE = 610
ESTIMATE_BASE = 600_001  # none are generated; estimates exist only once created

DAY_US = 86_400 * times.MICRO
_QTYS = (1, 2, 3, 4, 5, 6, 10, 12, 20, 24, 25, 36, 48, 50, 100)
_PARTNER_PO_PREFIX = {"Acme Retail Stores": "ACME", "Northwind Grocers": "NWG"}

# Invoice payment states in the index.
DRAFT, UNPAID, PARTIAL, PAID = 0, 1, 2, 3


@dataclass
class Index:
    """Per-kind arrays, position-aligned. ``owner`` is the client/vendor position (invoices, bills) or the
    parent document position (payments, bill payments)."""

    stamps: array[int]
    created: array[int]
    vis: bytearray
    owner: array[int]
    state: bytearray  # invoices/bills: payment state; payments: sequence number within the parent
    first_child: array[int]  # invoices/bills: position of the first payment, -1 if none
    children: bytearray  # invoices/bills: number of payments

    @classmethod
    def empty(cls) -> Index:
        return cls(array("q"), array("q"), bytearray(), array("i"), bytearray(), array("i"), bytearray())


def _index_document(parent: Index, payments: Index, position: int, *, updated: int, created: int, vis: int,
                    owner: int, state: int, pays: Sequence[int]) -> None:
    """Append an invoice or bill to its index, and its payments (at the given moments) to theirs."""
    parent.stamps.append(updated)
    parent.created.append(created)
    parent.vis.append(vis)
    parent.owner.append(owner)
    parent.state.append(state)
    parent.first_child.append(len(payments.stamps) if pays else -1)
    parent.children.append(len(pays))
    for sequence, moment in enumerate(pays):
        payments.stamps.append(moment)
        payments.created.append(moment)
        payments.vis.append(0)
        payments.owner.append(position)
        payments.state.append(sequence)


def _chooser(weights: list[float]) -> Callable[[float], int]:
    cumulative = list(accumulate(weights))
    total = cumulative[-1]
    return lambda u: min(bisect_right(cumulative, u * total), len(weights) - 1)


class Books:
    """The generated books for one (seed, size, history, clock-at-start)."""

    def __init__(self, *, seed: int, invoices: int, bills: int, days: float, now_us: int,
                 account_id: str) -> None:
        if invoices < 0 or bills < 0:
            raise ValueError(f"invoices/bills: got {invoices}/{bills}; expected counts >= 0")
        if days <= 0:
            raise ValueError(f"days: got {days}; expected a positive span of history")
        self.seed = seed
        self.account_id = account_id
        self.now_us = now_us
        self.start_us = now_us - int(days * DAY_US)
        self.invoices = Index.empty()
        self.payments = Index.empty()
        self.bills = Index.empty()
        self.bill_payments = Index.empty()
        self._index_invoices(invoices)
        self._index_bills(bills)
        self.invoice = lru_cache(maxsize=512)(self._invoice)
        self.invoice_total = lru_cache(maxsize=8192)(self._invoice_total)
        self.bill = lru_cache(maxsize=512)(self._bill)
        self.bill_total = lru_cache(maxsize=8192)(self._bill_total)

    # ---- index (one pass, a fixed number of draws per document so a larger book extends a smaller) ----

    def _times(self, i: int, n: int, r: list[float], paid_count: int) -> tuple[int, list[int], int]:
        span = self.now_us - self.start_us
        created = self.start_us + int(span * (i + r[1]) / n)
        remaining = self.now_us - created
        pays: list[int] = []
        if paid_count:
            first = created + int(remaining * (0.05 + 0.65 * r[5]))
            pays.append(first)
            if paid_count == 2:
                pays.append(first + int((self.now_us - first) * 0.8 * r[6]))
        updated = max([created, *pays])
        if r[7] < 0.35:  # edited after creation
            updated = max(updated, created + int(remaining * 0.6 * r[8]))
        return created, pays, updated

    def _index_invoices(self, n: int) -> None:
        rng = random.Random(f"{self.seed}:index:invoices")
        choose = _chooser([c.weight for c in catalog.CLIENTS])
        inv, pay = self.invoices, self.payments
        for i in range(n):
            r = [rng.random() for _ in range(10)]
            vis = 1 if r[9] < 0.02 else 2 if r[9] < 0.05 else 0
            if r[2] < 0.06:
                state = DRAFT
            elif vis == 1:
                state = UNPAID
            else:
                state = UNPAID if r[3] < 0.4 else PARTIAL if r[3] < 0.6 else PAID
            count = 0 if state in (DRAFT, UNPAID) else 2 if state == PAID and r[4] < 0.3 else 1
            created, pays, updated = self._times(i, n, r, count)
            if vis == 1:  # the deletion is the last change
                updated = max(updated, created + int((self.now_us - created) * (0.5 + 0.5 * r[8])))
            _index_document(inv, pay, i, updated=updated, created=created, vis=vis, owner=choose(r[0]),
                            state=state, pays=pays)

    def _index_bills(self, n: int) -> None:
        rng = random.Random(f"{self.seed}:index:bills")
        choose = _chooser([v.weight for v in catalog.VENDORS])
        bill, pay = self.bills, self.bill_payments
        for i in range(n):
            r = [rng.random() for _ in range(10)]
            vis = 1 if r[9] < 0.02 else 2 if r[9] < 0.04 else 0
            state = UNPAID if vis == 1 or r[3] < 0.35 else PARTIAL if r[3] < 0.5 else PAID
            count = 0 if state == UNPAID else 2 if state == PAID and r[4] < 0.25 else 1
            created, pays, updated = self._times(i, n, r, count)
            # Paying a bill does not move its updated_at (see the emulator's docstring): only edits do.
            updated = created
            if r[7] < 0.3 or vis == 1:
                updated = created + int((self.now_us - created) * 0.6 * r[8])
            _index_document(bill, pay, i, updated=updated, created=created, vis=vis, owner=choose(r[0]),
                            state=state, pays=pays)

    # ---- static cast ----

    def client(self, pos: int) -> Record:
        spec = catalog.CLIENTS[pos]
        rng = random.Random(f"{self.seed}:client:{pos}")
        signup = self.start_us - int(rng.uniform(30, 900) * DAY_US)
        updated = self.start_us + int((self.now_us - self.start_us) * rng.random()) if rng.random() < 0.5 \
            else signup
        return {
            "id": CLIENT_BASE + pos, "organization": spec.organization, "fname": spec.fname,
            "lname": spec.lname, "email": spec.email, "currency_code": spec.currency_code, "language": "en",
            "p_street": spec.street, "p_street2": "", "p_city": spec.city, "p_province": spec.province,
            "p_code": spec.code, "p_country": spec.country, "s_street": "", "s_street2": "", "s_city": "",
            "s_province": "", "s_code": "", "s_country": "", "bus_phone": f"207555{1000 + pos:04d}",
            "mob_phone": "", "home_phone": None, "fax": "", "note": None, "vat_name": None, "vat_number": None,
            "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "level": 0, "role": "client",
            "username": spec.email.split("@")[0], "num_logins": 0, "last_login": None,
            "allow_late_fees": False, "allow_late_notifications": True, "vis_state": spec.vis_state,
            "created_us": signup, "updated_us": updated,
        }

    def vendor(self, pos: int) -> Record:
        spec = catalog.VENDORS[pos]
        rng = random.Random(f"{self.seed}:vendor:{pos}")
        created = self.start_us - int(rng.uniform(30, 900) * DAY_US)
        return {
            "vendorid": VENDOR_BASE + pos, "vendor_name": spec.vendor_name, "account_number": spec.account_number,
            "currency_code": spec.currency_code, "is_1099": False, "language": "en", "note": None,
            "phone": f"617555{2000 + pos:04d}", "primary_contact_email": spec.email,
            "primary_contact_first_name": spec.contact_first, "primary_contact_last_name": spec.contact_last,
            "street": spec.street, "street2": None, "city": spec.city, "province": spec.province,
            "postal_code": spec.postal_code, "country": spec.country, "website": spec.email.split("@")[1],
            "tax_defaults": [], "vis_state": spec.vis_state, "created_us": created, "updated_us": created,
        }

    def item(self, pos: int) -> Record:
        spec = catalog.ITEMS[pos]
        rng = random.Random(f"{self.seed}:item:{pos}")
        updated = self.start_us - int(rng.uniform(1, 400) * DAY_US)
        return {
            "id": ITEM_BASE + pos, "name": spec.name, "description": spec.description, "sku": spec.sku,
            "qty": "1", "inventory": None, "tax1": 0, "tax2": 0, "unit_cost": spec.unit_cost,
            "currency_code": "USD", "vis_state": 0, "updated_us": updated,
        }

    # ---- lazy documents ----

    def _invoice(self, pos: int) -> Record:
        idx = self.invoices
        spec = catalog.CLIENTS[idx.owner[pos]]
        rng = random.Random(f"{self.seed}:invoice:{pos}")
        created, updated = idx.created[pos], idx.stamps[pos]
        factor = Decimal("1.35") if spec.currency_code == "CAD" else Decimal(1)
        lines = []
        for n in range(1 + int(49 * rng.random() ** 3)):
            item = catalog.ITEMS[rng.randrange(len(catalog.ITEMS))]
            taxes = spec.taxes if item.taxable else ()
            lines.append({
                "lineid": n + 1, "type": 0, "name": item.name, "description": item.description,
                "qty": str(rng.choice(_QTYS)),
                "unit_cost": str(compute.cents(Decimal(item.unit_cost) * factor)),
                "taxName1": taxes[0][0] if taxes else None, "taxAmount1": taxes[0][1] if taxes else "0",
                "taxNumber1": None,
                "taxName2": taxes[1][0] if len(taxes) > 1 else None,
                "taxAmount2": taxes[1][1] if len(taxes) > 1 else "0",
                "compounded_tax": False, "expenseid": 0, "date": None, "updated_us": created,
            })
        prefix = _PARTNER_PO_PREFIX.get(spec.organization)
        if prefix:
            po_number: str | None = f"{prefix}-{rng.randrange(100_000, 999_999)}"
        else:
            po_number = f"PO-{rng.randrange(1000, 99_999)}" if rng.random() < 0.4 else None
        discount = rng.choice(("2", "5", "10")) if rng.random() < 0.2 else "0"
        state = idx.state[pos]
        status = 1 if state == DRAFT else 3 if rng.random() < 0.3 else 2
        edited = updated > created and idx.children[pos] == 0
        return {
            "id": INVOICE_BASE + pos, "invoice_number": f"{pos + 1:07d}", "customerid": CLIENT_BASE + idx.owner[pos],
            "ownerid": 1, "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "create_date": times.eastern_date(created).isoformat(), "due_offset_days": spec.terms_days,
            "currency_code": spec.currency_code, "language": "en", "template": "clean-grouped",
            "po_number": po_number, "discount_value": discount,
            "notes": "Revised quantities per buyer request." if edited else None,
            "terms": f"Net {spec.terms_days}", "description": "", "status": status,
            "fname": spec.fname, "lname": spec.lname, "organization": spec.organization,
            "street": spec.street, "city": spec.city, "province": spec.province, "code": spec.code,
            "country": spec.country, "vat_name": None, "vat_number": None, "estimateid": 0, "parent": 0,
            "sentid": 0 if status == 1 else 1, "show_attachments": False, "ext_archive": 0, "auto_bill": False,
            "deposit_status": "none", "vis_state": idx.vis[pos], "created_us": created, "updated_us": updated,
            "version_us": updated, "lines": lines,
        }

    def _invoice_total(self, pos: int) -> Decimal:
        record = self.invoice(pos)
        return compute.invoice_totals(record["lines"], record["discount_value"]).amount

    def payment(self, pos: int) -> Record:
        idx = self.payments
        parent, seq = idx.owner[pos], idx.state[pos]
        invoice = self.invoice(parent)
        total = self.invoice_total(parent)
        rng = random.Random(f"{self.seed}:payment:{pos}")
        # The split belongs to the invoice, so both payments of a fully paid invoice add up to its total.
        split = random.Random(f"{self.seed}:payment-split:{parent}").random()
        share = compute.cents(total * Decimal(str(round(0.2 + 0.6 * split, 2))))
        count = self.invoices.children[parent]
        if self.invoices.state[parent] == PARTIAL:
            amount = share
        elif count == 1:
            amount = total
        else:
            amount = share if seq == 0 else total - share
        kind = rng.choice(catalog.PAYMENT_TYPES)
        return {
            "id": PAYMENT_BASE + pos, "invoiceid": invoice["id"], "clientid": invoice["customerid"],
            "creditid": None, "amount": str(amount), "_currency": invoice["currency_code"],
            "date": times.eastern_date(idx.stamps[pos]).isoformat(), "type": kind,
            "note": f"{kind} {rng.randrange(10_000, 99_999)}", "orderid": None, "overpaymentid": None,
            "gateway": None, "transactionid": None, "from_credit": False, "bulk_paymentid": None,
            "send_client_notification": None, "vis_state": idx.vis[pos], "updated_us": idx.stamps[pos],
        }

    def _bill(self, pos: int) -> Record:
        idx = self.bills
        spec = catalog.VENDORS[idx.owner[pos]]
        rng = random.Random(f"{self.seed}:bill:{pos}")
        lines = []
        for n in range(1 + int(19 * rng.random() ** 2)):
            item = catalog.ITEMS[rng.randrange(len(catalog.ITEMS))]
            freight = not item.taxable
            lines.append({
                "id": (BILL_BASE + pos) * 100 + n, "list_index": n + 1,
                "description": f"{item.name} ({item.sku})" if not freight else "Freight and handling",
                "quantity": "1" if freight else str(rng.choice(_QTYS) * 4),
                "unit_cost": str(compute.cents(Decimal(item.unit_cost) * Decimal("0.6"))),
                "categoryid": catalog.CATEGORIES[1 if freight else 0].categoryid,
                "tax_name1": "GST" if spec.currency_code == "CAD" else None,
                "tax_percent1": "5" if spec.currency_code == "CAD" else None, "tax_authorityid1": None,
                "tax_name2": None, "tax_percent2": None, "tax_authorityid2": None, "compounded_tax": False,
            })
        created = idx.created[pos]
        return {
            "id": BILL_BASE + pos, "vendorid": VENDOR_BASE + idx.owner[pos],
            "bill_number": f"{spec.account_number.split('-')[0]}-{rng.randrange(10_000, 99_999)}",
            "issue_date": times.eastern_date(created).isoformat(), "due_offset_days": rng.choice((15, 30, 45)),
            "currency_code": spec.currency_code, "language": "en", "attachment": None, "overall_category": None,
            "overall_description": f"Stock order from {spec.vendor_name}", "vis_state": idx.vis[pos],
            "created_us": created, "updated_us": idx.stamps[pos], "lines": lines,
        }

    def _bill_total(self, pos: int) -> Decimal:
        return sum((compute.bill_line_totals(line).total for line in self.bill(pos)["lines"]), compute.ZERO)

    def bill_payment(self, pos: int) -> Record:
        idx = self.bill_payments
        parent, seq = idx.owner[pos], idx.state[pos]
        bill = self.bill(parent)
        total = self.bill_total(parent)
        rng = random.Random(f"{self.seed}:bill_payment:{pos}")
        split = random.Random(f"{self.seed}:bill-payment-split:{parent}").random()
        share = compute.cents(total * Decimal(str(round(0.3 + 0.4 * split, 2))))
        if self.bills.state[parent] == PARTIAL:
            amount = share
        elif self.bills.children[parent] == 1:
            amount = total
        else:
            amount = share if seq == 0 else total - share
        kind = rng.choice(catalog.BILL_PAYMENT_TYPES)
        return {
            "id": BILL_PAYMENT_BASE + pos, "billid": bill["id"], "amount": str(amount),
            "_currency": bill["currency_code"], "paid_date": times.eastern_date(idx.stamps[pos]).isoformat(),
            "payment_type": kind, "note": f"{kind} {rng.randrange(1000, 9999)}", "matched_with_expense": False,
            "vis_state": idx.vis[pos], "updated_us": idx.stamps[pos],
        }
