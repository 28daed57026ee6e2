"""The emulator playing suppliers that answer our purchase orders with invoices.

Owns what a supplier does with an 850 of ours once it has received it: per purchase order, an 810 invoicing it
(BIG04 = our BEG03), dropped into the supplier's inbound folder in an interchange of its own (``PartnerDesk.drop``:
its control numbers, version and delimiters), and the record of every answer (``SupplierAnswer``) so a test or a
demo knows what was seeded. Reads the 850 with the emulator's own envelope reader (``envelope``), never with
``freshcleo_pipeline.x12``.

Not every order is invoiced as ordered. The variant is drawn from ``sha256(f"{seed}:{po_number}")`` against the
answer mix (``DEFAULT_ANSWER_MIX``: ``match`` 60 %, ``price`` 15 %, ``short`` 10 %, ``none`` 15 %), so the same PO
number always gets the same treatment whatever the order of uploads (``answer_variant_for``):

- ``match``: one IT1 per PO1, mirroring line number, quantity, unit, unit price, product id, PID descriptions and
  line TXI; TDS = Σ quantity x price + taxes (the order's AMT*TT when the order added up);
- ``price``: as ``match`` but the first line's unit price is 0.50 higher; its tax is billed as ordered (the
  difference is the price alone) and TDS includes the higher price;
- ``short``: the last line is not invoiced (nor its taxes); a one-line order is invoiced one unit short instead,
  and with a single unit it is invoiced as ordered (recorded as ``match``);
- ``none``: no invoice (recorded, with no file).

Conservative choices, not facts about any supplier: the invoice is written at receipt (the moment the 997 is
decided, before any ``ack_delay``); only original (BEG01 ``00``) and replacement (``05``) orders are invoiced, never
a cancellation (``01``); a PO number is answered once per supplier, so a resent or replaced order is not invoiced
twice; an order whose set or group the partner rejects (structurally, or by ``reject_rate``) is not invoiced;
terms are net 30 from the invoice date; the invoice number is ``<PARTNER>-INV-<6 digits>`` drawn from the seed and
the PO number (bumped on a collision), so it does not depend on upload order.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from freshcleo_pipeline.sandbox.cleo.clock import SandboxClock
from freshcleo_pipeline.sandbox.cleo.config import SandboxPartner
from freshcleo_pipeline.sandbox.cleo.envelope import check_interchange
from freshcleo_pipeline.sandbox.cleo.partner_documents import Item, PartnerDesk, invoice_810_body, money
from freshcleo_pipeline.sandbox.cleo.replies import Segment

VARIANTS = ("match", "price", "short", "none")
DEFAULT_ANSWER_MIX: Mapping[str, float] = {"match": 0.60, "price": 0.15, "short": 0.10, "none": 0.15}
PRICE_STEP = Decimal("0.50")
_ANSWERED_PURPOSES = ("00", "05")


def checked_mix(mix: Mapping[str, float]) -> dict[str, float]:
    """The mix as shares summing to 1, in ``VARIANTS`` order; a variant it leaves out never happens."""
    unknown = sorted(set(mix) - set(VARIANTS))
    if unknown:
        raise ValueError(f"answer_mix: got variants {unknown}; expected names from {list(VARIANTS)}")
    if any(not isinstance(w, int | float) or w < 0 for w in mix.values()):
        raise ValueError(f"answer_mix: got {dict(mix)!r}; expected weights >= 0")
    whole = sum(mix.values())
    if whole <= 0:
        raise ValueError(f"answer_mix: got {dict(mix)!r}; expected at least one weight above 0")
    return {name: mix.get(name, 0) / whole for name in VARIANTS}


def answer_variant_for(po_number: str, *, seed: int = 0, mix: Mapping[str, float] = DEFAULT_ANSWER_MIX) -> str:
    """The variant a supplier plays for ``po_number``: pure, the same for the same seed, PO number and mix."""
    shares = checked_mix(mix)
    draw = int.from_bytes(hashlib.sha256(f"{seed}:{po_number}".encode()).digest()[:8], "big") / 2**64
    cumulative = 0.0
    chosen = ""
    for name in VARIANTS:
        if shares[name] <= 0:
            continue
        chosen = name
        cumulative += shares[name]
        if draw < cumulative:
            return name
    return chosen  # float rounding left the draw just above the last bound


@dataclass(frozen=True)
class SupplierAnswer:
    """One purchase order a supplier answered: its ``variant``, and (unless ``none``) the invoice and file."""

    partner_id: str
    po_number: str
    variant: str
    invoice_number: str
    file_name: str
    order_file: str  # the file of ours that carried the 850
    lines_ordered: int
    lines_invoiced: int
    total: str  # TDS as an amount ("" when not invoiced)

    def summary(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class _Order:
    purpose: str
    po_number: str
    currency: str
    items: tuple[Item, ...]
    header_taxes: tuple[Segment, ...]


@dataclass
class SupplierDesk:
    """Thread-safe: receipts arrive from the pick-up ticker and from request threads."""

    desk: PartnerDesk
    clock: SandboxClock
    enabled: bool = False
    seed: int = 0
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ANSWER_MIX))
    answers: list[SupplierAnswer] = field(default_factory=list)
    _answered: set[tuple[str, str]] = field(default_factory=set)
    _invoice_numbers: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.mix = checked_mix(self.mix)

    def variant_for(self, po_number: str) -> str:
        return answer_variant_for(po_number, seed=self.seed, mix=self.mix)

    def received(self, partner: SandboxPartner, file_name: str, content: bytes, *, refused: bool) -> list[str]:
        """A supplier received ``content``: answer each 850 in it; returns the names of the 810 files dropped."""
        if not self.enabled or partner.role != "supplier" or refused:
            return []
        checked = check_interchange(content)
        if not checked.readable or checked.ta1_code:
            return []
        dropped: list[str] = []
        for group in checked.groups:
            if group.gs01 != "PO" or group.errors:
                continue
            for result in group.sets:
                if result.st01 != "850" or not result.accepted:
                    continue
                order = _read_order(result.segments)
                if order is None or order.purpose not in _ANSWERED_PURPOSES:
                    continue
                name = self._answer(partner, file_name, order)
                if name:
                    dropped.append(name)
        return dropped

    def made(self) -> list[SupplierAnswer]:
        with self._lock:
            return list(self.answers)

    def _answer(self, partner: SandboxPartner, order_file: str, order: _Order) -> str:
        with self._lock:
            key = (partner.id, order.po_number)
            if key in self._answered:
                return ""
            self._answered.add(key)
            variant = self.variant_for(order.po_number)
            items = _played(variant, order.items)
            if variant == "short" and items == order.items:
                variant = "match"
            if variant == "none":
                self.answers.append(SupplierAnswer(partner.id, order.po_number, "none", "", "", order_file,
                                                   len(order.items), 0, ""))
                return ""
            number = self._invoice_number(partner, order.po_number)
            when = self.clock.now()
            body = invoice_810_body(partner, self.desk.config, when.strftime("%Y%m%d"), when.date(), number,
                                    order.po_number, items, currency=order.currency,
                                    header_taxes=order.header_taxes)
            total = next(s[1] for s in body if s[0] == "TDS")
            name = self.desk.drop(partner, "810", body, when)
            self.answers.append(SupplierAnswer(partner.id, order.po_number, variant, number, name, order_file,
                                               len(order.items), len(items), f"{Decimal(total).scaleb(-2):.2f}"))
            return name

    def _invoice_number(self, partner: SandboxPartner, po_number: str) -> str:
        prefix = partner.id.split("-")[0].upper()
        value = int.from_bytes(hashlib.sha256(f"{self.seed}:{partner.id}:{po_number}".encode()).digest()[:8], "big")
        serial = value % 900_000 + 100_000
        while f"{prefix}-INV-{serial}" in self._invoice_numbers:
            serial = serial + 1 if serial < 999_999 else 100_000
        number = f"{prefix}-INV-{serial}"
        self._invoice_numbers.add(number)
        return number


def _played(variant: str, items: tuple[Item, ...]) -> tuple[Item, ...]:
    if variant == "price":
        first = items[0]
        return (replace(first, unit_price=first.unit_price + PRICE_STEP), *items[1:])
    if variant == "short":
        if len(items) > 1:
            return items[:-1]
        only = items[0]
        if only.quantity > 1:
            return (replace(only, quantity=only.quantity - 1),)
    return items


def _read_order(segments: list[list[str]]) -> _Order | None:
    """BEG, CUR and the PO1 loops (PID descriptions, TXI) of one 850 set (ST … SE); None without BEG03 or PO1.

    The supplier reads what it needs to invoice; anything else in the order (N1 loops, ITD, REF) does not change
    the invoice it writes."""
    purpose = po_number = currency = ""
    items: list[Item] = []
    header_taxes: list[Segment] = []
    loop: dict[str, Any] | None = None
    drafts: list[dict[str, Any]] = []
    for segment in segments:
        tag = segment[0]
        if tag == "BEG":
            purpose, po_number = _at(segment, 1), _at(segment, 3)
        elif tag == "CUR":
            currency = _at(segment, 2)
        elif tag == "PO1":
            loop = {"segment": segment, "descriptions": [], "taxes": []}
            drafts.append(loop)
        elif tag == "PID" and loop is not None:
            if _at(segment, 5):
                loop["descriptions"].append(_at(segment, 5))
        elif tag == "TXI":
            (loop["taxes"] if loop is not None else header_taxes).append(list(segment))
        elif tag in ("CTT", "AMT", "SE"):
            loop = None
    if not po_number or not drafts:
        return None
    for index, draft in enumerate(drafts):
        po1 = draft["segment"]
        qualifier = product_id = ""
        for at in range(6, len(po1) - 1, 2):
            if po1[at] and po1[at + 1]:
                qualifier, product_id = po1[at], po1[at + 1]
                break
        try:
            quantity, price = money(_at(po1, 2), "PO102"), money(_at(po1, 4) or "0", "PO104")
        except ValueError:
            return None  # an order it cannot read is not invoiced (the 997 speaks for it)
        items.append(Item(_at(po1, 1) or str(index + 1), quantity, _at(po1, 3) or "EA", price, qualifier,
                          product_id, tuple(draft["descriptions"]), tuple(draft["taxes"])))
    try:
        sum((i.tax for i in items), Decimal(0)) + sum((money(_at(t, 2), "TXI02") for t in header_taxes), Decimal(0))
    except ValueError:
        return None
    return _Order(purpose, po_number, currency, tuple(items), tuple(header_taxes))


def _at(segment: list[str], position: int) -> str:
    return segment[position] if len(segment) > position else ""
