"""The partners' own documents about our books, placed in their inbound folders when the sandbox starts.

Owns which documents the emulated partners send unprompted, given the invoices FreshBooks holds for each customer
partner (``PartnerInvoice``, read by the launcher from the FreshBooks emulator; this module reads no FreshBooks
shapes). Per customer partner, in partners.yaml order:

- two 850s whose BEG03 is the PO number of one of its invoices, with that invoice's lines (quantity, ``EA``, unit
  price, SKU, name): orders our invoices answer;
- one 850 with a PO number no invoice carries (``<its PO prefix>-OPEN-<6 digits>``, a form the FreshBooks
  generator never writes), with up to three lines of another of its invoices, one more of each: an order nobody
  has answered;
- one 820 paying two of its invoices by invoice number: one in full (RMR04 = RMR05 = the invoice's amount), one in
  part (half, to the cent); BPR02 = the sum.

Per supplier partner: one 810 whose BIG04 names a PO we never sent (``PO-UNKNOWN-<6 digits>``), with two lines of
the supplier's own items and an invoice number of its own: an invoice nothing matches.

Everything is drawn from ``random.Random(f"{seed}:{partner id}")`` and the invoices in invoice-number order, and
dated ``when``, so two starts on the same seed and books write the same files (the partner's ISA13 counter starts
at 800000001 at every start). Conservative choices: orders and remittances use invoices that are neither drafts
nor deleted (the launcher filters), a remittance prefers invoices still wholly unpaid, and order totals (AMT*TT)
are the lines' sum without our tax, as a buyer's order does not know our tax.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from freshcleo_pipeline.sandbox.cleo.config import SandboxConfig, SandboxPartner
from freshcleo_pipeline.sandbox.cleo.partner_documents import CENT, DocumentLine, PartnerDesk, RemittanceItem

#: The supplier's own items for its unsolicited invoice: (product id, description, unit price).
SUPPLIER_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("HB-M8-40", "Hex bolt M8x40", "18.40"),
    ("HN-M8", "Hex nut M8", "9.60"),
    ("FW-M8-SS", "Flat washer M8", "12.10"),
    ("LS-38-4", "Lag screw 3/8x4", "16.20"),
)


@dataclass(frozen=True)
class PartnerInvoice:
    """One of our invoices to a customer partner, as the partner knows it."""

    invoice_number: str
    po_number: str
    amount: Decimal  # the invoice's total, tax included
    outstanding: Decimal
    lines: tuple[DocumentLine, ...]


@dataclass(frozen=True)
class SeededDocument:
    """A document a partner sent at the sandbox's start. ``purpose``: answered_order | unanswered_order |
    remittance | unsolicited_invoice; ``reference``: BEG03, TRN02 or BIG02; ``refers_to``: our invoice numbers it
    names (the invoice carrying the PO number, or those paid), or the unknown PO an unsolicited invoice names."""

    partner_id: str
    kind: str
    purpose: str
    file_name: str
    reference: str
    refers_to: tuple[str, ...]
    total: str
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        found = dict(vars(self))
        found["refers_to"] = list(self.refers_to)
        return found


def seed_partner_traffic(desk: PartnerDesk, config: SandboxConfig, invoices: Mapping[str, Sequence[PartnerInvoice]],
                         *, seed: int, when: dt.datetime) -> list[SeededDocument]:
    """Send the documents of the module docstring through ``desk``; ``invoices`` by partner id (customers only).
    A customer with fewer than three invoices carrying PO numbers (or two to pay) sends what it can."""
    seeded: list[SeededDocument] = []
    for partner in config.partners:
        rng = random.Random(f"{seed}:{partner.id}")
        if partner.role == "customer":
            ordered = sorted(invoices.get(partner.id, ()), key=lambda i: i.invoice_number)
            seeded += _customer(desk, partner, ordered, rng, when)
        elif partner.role == "supplier":
            seeded.append(_supplier(desk, partner, rng, when))
    return seeded


def _prefix(partner: SandboxPartner) -> str:
    return partner.id.split("-")[0].upper()


def _po_prefix(partner: SandboxPartner, invoices: Sequence[PartnerInvoice]) -> str:
    """The prefix the customer's own PO numbers carry (``NWG`` in ``NWG-373322``), else one from its id."""
    prefixes = Counter(i.po_number.split("-")[0] for i in invoices if "-" in i.po_number)
    return min(prefixes, key=lambda p: (-prefixes[p], p)) if prefixes else _prefix(partner)


def _customer(desk: PartnerDesk, partner: SandboxPartner, invoices: list[PartnerInvoice], rng: random.Random,
              when: dt.datetime) -> list[SeededDocument]:
    out: list[SeededDocument] = []
    with_po = [i for i in invoices if i.po_number and i.lines]
    chosen = rng.sample(with_po, min(3, len(with_po)))
    for invoice in chosen[:2]:
        name = desk.send(partner, "850", when, reference=invoice.po_number, lines=invoice.lines)
        out.append(SeededDocument(partner.id, "850", "answered_order", name, invoice.po_number,
                                  (invoice.invoice_number,), f"{_worth(invoice.lines):.2f}",
                                  {"lines": len(invoice.lines)}))
    if len(chosen) == 3:
        lines = tuple(line._replace(quantity=str(Decimal(str(line.quantity)) + 1)) for line in chosen[2].lines[:3])
        po_number = f"{_po_prefix(partner, with_po)}-OPEN-{rng.randrange(100_000, 1_000_000)}"
        name = desk.send(partner, "850", when, reference=po_number, lines=lines)
        out.append(SeededDocument(partner.id, "850", "unanswered_order", name, po_number, (),
                                  f"{_worth(lines):.2f}", {"lines": len(lines)}))
    payable = [i for i in invoices if i.amount >= 2 * CENT]
    unpaid = [i for i in payable if i.outstanding == i.amount]
    pool = unpaid if len(unpaid) >= 2 else payable
    if len(pool) >= 2:
        full, part = rng.sample(pool, 2)
        half = (part.amount / 2).quantize(CENT, rounding=ROUND_HALF_UP)
        items = (RemittanceItem(full.invoice_number, full.amount, full.amount),
                 RemittanceItem(part.invoice_number, half, part.amount))
        trace = f"{_prefix(partner)}-EFT-{rng.randrange(100_000, 1_000_000)}"
        name = desk.send(partner, "820", when, reference=trace, remittance=items)
        out.append(SeededDocument(partner.id, "820", "remittance", name, trace,
                                  (full.invoice_number, part.invoice_number), f"{full.amount + half:.2f}",
                                  {"items": [{"invoice_number": i.invoice_number, "amount_paid": f"{i.amount_paid:.2f}",
                                              "invoice_total": f"{i.invoice_total:.2f}"} for i in items]}))
    return out


def _supplier(desk: PartnerDesk, partner: SandboxPartner, rng: random.Random, when: dt.datetime) -> SeededDocument:
    po_number = f"PO-UNKNOWN-{rng.randrange(100_000, 1_000_000)}"
    invoice_number = f"{_prefix(partner)}-INV-U{rng.randrange(10_000, 100_000)}"
    lines = tuple(DocumentLine(str(rng.randrange(2, 40)), "EA", price, sku, text)
                  for sku, text, price in rng.sample(SUPPLIER_ITEMS, 2))
    name = desk.send(partner, "810", when, reference=invoice_number, answers=po_number, lines=lines)
    return SeededDocument(partner.id, "810", "unsolicited_invoice", name, invoice_number, (po_number,),
                          f"{_worth(lines):.2f}", {"lines": len(lines)})


def _worth(lines: Sequence[DocumentLine]) -> Decimal:
    return sum((Decimal(str(line.quantity)) * Decimal(str(line.unit_price)) for line in lines), Decimal(0))
