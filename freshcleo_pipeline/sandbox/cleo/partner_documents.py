"""The emulator playing partners that send us business documents, and taking the acknowledgments we send back.

Owns two things of the partner's side:

- ``PartnerDesk.send``: a customer's 850 (purchase order), a supplier's 810 (an invoice answering a purchase
  order of ours) or either's 820 (a remittance), complete enough to read (N1 parties, dates, lines, totals), in
  the partner's version and delimiters, dropped into its inbound folder. Options: ``ta1`` sets ISA14 = 1 (the
  partner asks for a TA1), ``broken`` puts an impossible date in the beginning segment (a syntax error our
  997/999 must reject with AK3/AK4), ``reference`` chooses the document's number (BEG03, BIG02, TRN02),
  ``answers`` the PO number an 810 answers (BIG04) or the invoice an 820 pays, ``lines`` the order's or
  invoice's lines (``DocumentLine``), ``remittance`` the invoices an 820 pays (``RemittanceItem``: RMR04 paid,
  RMR05 the invoice's total; BPR02 their sum), ``total`` the document's total when it should not be the lines'
  or items' sum (taxes, or a total that disagrees on purpose). Without ``lines`` the document carries two fixed
  lines (10 EA at 12.50, 4 CA at 30.25). ``PartnerDesk.drop`` writes any body the same way (the supplier
  answers of ``partner_play`` use it).
- ``PartnerDesk.took_acknowledgment``: a 997, 999 or TA1 we upload to a partner's outbound folder is recorded
  (what it says, per group) and never answered: an acknowledgment is not acknowledged.

Written by hand from the standard, independent of ``freshcleo_pipeline.x12`` (the code under test). The partner's
own control numbers start at 800000001 (ISA13) and 8001 (GS06) at every start, apart from the acknowledgment
desk's. Product ids are written with qualifier ``VP`` (the vendor's part number, our SKU), units default to
``EA``, and an 810's terms are net 30 from its date: choices of the emulator, not facts about any partner.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple

from freshcleo_pipeline.sandbox.cleo.config import SandboxConfig, SandboxPartner
from freshcleo_pipeline.sandbox.cleo.replies import Envelope, Segment, TransactionSet
from freshcleo_pipeline.sandbox.cleo.store import Store

_ISA12 = {"004010": "00401", "005010": "00501"}
_GS01 = {"850": "PO", "810": "IN", "820": "RA"}
_ROLE_SENDS = {"customer": ("850", "820"), "supplier": ("810", "820")}
_FIRST_ISA13 = 800000000
_FIRST_GS06 = 8000
NET_DAYS = 30
CENT = Decimal("0.01")


class DocumentLine(NamedTuple):
    """One line of a partner's 850 or 810: quantity, unit (``EA`` when empty), unit price, product id (``VP``),
    description (PID*F)."""

    quantity: Decimal | str | int
    unit: str
    unit_price: Decimal | str | int
    product_id: str
    description: str


class RemittanceItem(NamedTuple):
    """One invoice an 820 pays: our invoice number (RMR02), the amount paid (RMR04), the invoice's total (RMR05)."""

    invoice_number: str
    amount_paid: Decimal | str | int
    invoice_total: Decimal | str | int


@dataclass(frozen=True)
class Item:
    """A line as written: IT1/PO1 elements, the PID descriptions and the TXI segments of its loop."""

    number: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    qualifier: str = ""
    product_id: str = ""
    descriptions: tuple[str, ...] = ()
    taxes: tuple[Segment, ...] = ()

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price

    @property
    def tax(self) -> Decimal:
        return sum((money(t[2], "TXI02") for t in self.taxes if len(t) > 2 and t[2]), Decimal(0))


@dataclass
class AcknowledgmentReceived:
    """An acknowledgment we uploaded to a partner's outbound folder, as the partner read it."""

    partner_id: str
    file_name: str
    kind: str  # 997 | 999 | TA1
    isa13: str  # ours
    groups: list[dict[str, str]] = field(default_factory=list)  # AK1 group, AK9 code, set results
    ta1: list[str] = field(default_factory=list)  # TA101..TA105


@dataclass
class PartnerDesk:
    config: SandboxConfig
    store: Store
    received: list[AcknowledgmentReceived] = field(default_factory=list)
    _isa13: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, partner: SandboxPartner, kind: str, when: dt.datetime, *, reference: str = "",
             answers: str = "", ta1: bool = False, broken: bool = False,
             lines: Sequence[DocumentLine | tuple[object, ...]] | None = None,
             remittance: Sequence[RemittanceItem | tuple[object, ...]] | None = None,
             total: Decimal | str | int | None = None) -> str:
        """Drop one business document from ``partner`` into its inbound folder; returns the file name."""
        allowed = _ROLE_SENDS.get(partner.role, ())
        if kind not in allowed:
            raise ValueError(f"kind: got {kind!r} for {partner.role} {partner.id!r}; expected one of {list(allowed)}")
        if lines is not None and kind == "820":
            raise ValueError("lines: an 820 has no lines; expected remittance items for it")
        if remittance is not None and kind != "820":
            raise ValueError(f"remittance: got items for an {kind}; expected them for an 820 only")
        items = _items(lines) if lines is not None else DEFAULT_ITEMS
        paid = _remittance(remittance) if remittance is not None else None
        stated = money(total, "total") if total is not None else None
        with self._lock:
            number = self._isa13.get(partner.id, _FIRST_ISA13) + 1 - _FIRST_ISA13
        date = "20261399" if broken else when.strftime("%Y%m%d")
        reference = reference or f"{partner.identity.gs_id[:6]}-{kind}-{number:04d}"
        if kind == "850":
            body = order_850_body(partner, self.config, date, reference, items, stated)
        elif kind == "810":
            body = invoice_810_body(partner, self.config, date, when.date(), reference, answers or "PO-UNKNOWN",
                                    items, total=stated)
        else:
            body = remittance_820_body(partner, self.config, date, reference, answers, paid, stated)
        return self.drop(partner, kind, body, when, ta1=ta1)

    def drop(self, partner: SandboxPartner, kind: str, body: list[Segment], when: dt.datetime, *,
             ta1: bool = False) -> str:
        """One interchange from ``partner`` holding one ``kind`` set with ``body`` (between ST and SE), under the
        partner's next control numbers, into its inbound folder; returns the file name."""
        with self._lock:
            control = self._isa13.get(partner.id, _FIRST_ISA13) + 1
            self._isa13[partner.id] = control
        gs06 = _FIRST_GS06 + control - _FIRST_ISA13
        isa12 = _ISA12.get(partner.version, "00401")
        envelope = Envelope(partner.identity, self.config.company, "T", isa12, partner.element, partner.component,
                            partner.repetition, partner.segment)
        isa = envelope.isa(control, when)
        isa[14] = "1" if ta1 else "0"
        st = TransactionSet(kind, "0001", body)
        segments: list[Segment] = [isa, ["GS", _GS01[kind], partner.identity.gs_id, self.config.company.gs_id,
                                         when.strftime("%Y%m%d"), when.strftime("%H%M"), str(gs06), "X",
                                         partner.version]]
        segments += [["ST", st.st01, st.st02], *st.body, ["SE", str(len(st.body) + 2), st.st02]]
        segments += [["GE", "1", str(gs06)], ["IEA", "1", f"{control:09d}"]]
        name = f"{kind}_{partner.id}_{control:09d}.x12"
        self.store.put(self.store.folder_by_path(partner.inbound), name, envelope.write(segments).encode("latin-1"),
                       when)
        return name

    def took_acknowledgment(self, partner: SandboxPartner, file_name: str, content: bytes) -> bool:
        """True (and recorded) when an uploaded file is an acknowledgment: the caller must not answer it."""
        read = _acknowledgment(content)
        if read is None:
            return False
        read.partner_id, read.file_name = partner.id, file_name
        with self._lock:
            self.received.append(read)
        return True


def _acknowledgment(content: bytes) -> AcknowledgmentReceived | None:
    """What an acknowledgment interchange says; None for anything else (business documents, unreadable text)."""
    text = content.decode("latin-1").lstrip("\ufeff \r\n")
    if not text.startswith("ISA") or len(text) < 106:
        return None
    element, terminator = text[3], text[105]
    segments = [s.strip("\r\n").split(element) for s in text.split(terminator) if s.strip("\r\n")]
    isa13 = segments[0][13] if len(segments[0]) > 13 else ""
    groups = [s for s in segments if s[0] == "GS"]
    ta1s = [s for s in segments if s[0] == "TA1"]
    if groups and any(g[1:2] != ["FA"] for g in groups):
        return None
    if not groups and not ta1s:
        return None
    kind = next((s[1] for s in segments if s[0] == "ST" and len(s) > 1), "TA1")
    found = AcknowledgmentReceived("", "", kind, isa13, ta1=ta1s[0][1:] if ta1s else [])
    current: dict[str, str] | None = None
    for segment in segments:
        if segment[0] == "AK1":
            current = {"functional_id": _at(segment, 1), "gs06": _at(segment, 2), "sets": "", "notes": ""}
            found.groups.append(current)
        elif current is None:
            continue
        elif segment[0] in ("AK5", "IK5"):
            current["sets"] += _at(segment, 1)
        elif segment[0] in ("AK3", "IK3", "AK4", "IK4"):
            current["notes"] += element.join(segment) + terminator
        elif segment[0] == "AK9":
            current["status"] = _at(segment, 1)
    return found


def _at(segment: list[str], position: int) -> str:
    return segment[position] if len(segment) > position else ""


def money(value: object, where: str) -> Decimal:
    """A decimal from text, an int or a Decimal; never a float (money is exact from first to last)."""
    if isinstance(value, float) or isinstance(value, bool):
        raise ValueError(f"{where}: got the float {value!r}; expected a decimal string or Decimal")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{where}: got {value!r}; expected a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{where}: got {value!r}; expected a finite decimal number")
    return number


def decimal_text(value: Decimal) -> str:
    """An R element: plain notation, no exponent (``1E+1`` is not X12)."""
    return f"{value:f}"


def cents(value: Decimal) -> str:
    """An N2 element (TDS01): the amount in cents, half-up."""
    return str(int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def _items(lines: Iterable[DocumentLine | tuple[object, ...]]) -> tuple[Item, ...]:
    found: list[Item] = []
    for index, raw in enumerate(lines):
        if len(raw) != 5:
            raise ValueError(f"lines[{index}]: got {raw!r}; expected (quantity, unit, unit price, product id, "
                             "description)")
        quantity, unit, price, product_id, description = raw
        found.append(Item(str(index + 1), money(quantity, f"lines[{index}].quantity"), str(unit or "EA"),
                          money(price, f"lines[{index}].unit_price"), "VP" if product_id else "", str(product_id),
                          (str(description),) if description else ()))
    if not found:
        raise ValueError("lines: got none; expected at least one (the PO1/IT1 loop is mandatory)")
    return tuple(found)


def _remittance(items: Iterable[RemittanceItem | tuple[object, ...]]) -> tuple[RemittanceItem, ...]:
    found: list[RemittanceItem] = []
    for index, raw in enumerate(items):
        if len(raw) != 3:
            raise ValueError(f"remittance[{index}]: got {raw!r}; expected (invoice number, amount paid, total)")
        number, paid, total = raw
        if not str(number):
            raise ValueError(f"remittance[{index}].invoice_number: got {number!r}; expected our invoice number")
        found.append(RemittanceItem(str(number), money(paid, f"remittance[{index}].amount_paid"),
                                    money(total, f"remittance[{index}].invoice_total")))
    if not found:
        raise ValueError("remittance: got none; expected at least one item (RMR)")
    return tuple(found)


DEFAULT_ITEMS = _items([("10", "EA", "12.50", "WIDGET-1", "Blue widget"),
                        ("4", "CA", "30.25", "BOLT-7", "Bolts, case")])


def _item_segments(tag: str, item: Item) -> list[Segment]:
    head: Segment = [tag, item.number, decimal_text(item.quantity), item.unit, decimal_text(item.unit_price)]
    if item.product_id:
        head += ["", item.qualifier or "VP", item.product_id]
    return [head, *(["PID", "F", "", "", "", text] for text in item.descriptions), *(list(t) for t in item.taxes)]


def order_850_body(partner: SandboxPartner, config: SandboxConfig, date: str, po_number: str,
                   items: Sequence[Item], total: Decimal | None = None) -> list[Segment]:
    """A customer's purchase order: BEG, N1*BY (the customer), N1*SE (us), PO1/PID lines, CTT, AMT*TT."""
    us, them = config.company, partner.identity
    out: list[Segment] = [["BEG", "00", "SA", po_number, "", date],
                          ["N1", "BY", partner.id.upper(), "92", them.isa_id.strip()],
                          ["N1", "SE", us.gs_id, "92", us.isa_id.strip()]]
    for item in items:
        out += _item_segments("PO1", item)
    worth = total if total is not None else sum((i.amount + i.tax for i in items), Decimal(0))
    return [*out, ["CTT", str(len(items))], ["AMT", "TT", f"{worth:.2f}"]]


def invoice_810_body(partner: SandboxPartner, config: SandboxConfig, date: str, issued: dt.date,
                     invoice_number: str, po_number: str, items: Sequence[Item], *, currency: str = "",
                     header_taxes: Sequence[Segment] = (), total: Decimal | None = None) -> list[Segment]:
    """A supplier's invoice: BIG (date, number, BIG04 the PO it answers), CUR when not USD, N1*RE (the supplier),
    N1*BT (us), ITD net 30, IT1/PID/TXI lines, TDS (lines + taxes, in cents), header TXI, CTT."""
    us, them = config.company, partner.identity
    out: list[Segment] = [["BIG", date, invoice_number, "", po_number]]
    if currency and currency != "USD":
        out.append(["CUR", "SE", currency])
    out += [["N1", "RE", partner.id.upper(), "92", them.isa_id.strip()],
            ["N1", "BT", us.gs_id, "92", us.isa_id.strip()],
            ["ITD", "01", "3", "", "", "", (issued + dt.timedelta(days=NET_DAYS)).strftime("%Y%m%d"), str(NET_DAYS)]]
    for item in items:
        out += _item_segments("IT1", item)
    taxes = sum((i.tax for i in items), Decimal(0)) + sum(
        (money(t[2], "TXI02") for t in header_taxes if len(t) > 2 and t[2]), Decimal(0))
    worth = total if total is not None else sum((i.amount for i in items), Decimal(0)) + taxes
    return [*out, ["TDS", cents(worth)], *(list(t) for t in header_taxes), ["CTT", str(len(items))]]


def remittance_820_body(partner: SandboxPartner, config: SandboxConfig, date: str, trace: str, answers: str,
                        items: Sequence[RemittanceItem] | None, total: Decimal | None = None) -> list[Segment]:
    """A remittance: BPR (BPR02 = Σ paid, credit, ACH, BPR16 the date), TRN, N1*PR (the payer), N1*PE (us), ENT,
    one RMR*IV per invoice (RMR04 paid, RMR05 the invoice's total). Without items: one RMR paying ``answers``
    (an unknown invoice when empty) in full for the fixed lines' worth."""
    if items is None:
        worth = sum((i.amount for i in DEFAULT_ITEMS), Decimal(0))
        rmrs: list[Segment] = [["RMR", "IV", answers or "INV-UNKNOWN", "PI", f"{worth:.2f}", f"{worth:.2f}"]]
    else:
        worth = sum((money(i.amount_paid, "amount_paid") for i in items), Decimal(0))
        rmrs = [["RMR", "IV", i.invoice_number, "", f"{money(i.amount_paid, 'amount_paid'):.2f}",
                 f"{money(i.invoice_total, 'invoice_total'):.2f}"] for i in items]
    paid = total if total is not None else worth
    return [["BPR", "I", f"{paid:.2f}", "C", "ACH", "", "", "", "", "", "", "", "", "", "", "", date],
            ["TRN", "1", trace], ["N1", "PR", partner.id.upper()], ["N1", "PE", config.company.gs_id],
            ["ENT", "1"], *rmrs]
