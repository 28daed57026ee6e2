"""Render + validate throughput of the X12 engine, against a segment-building floor in the same process.

The floor is a minimal hand-written 810 builder: it reads the same ``Invoice`` and ``EnvelopeParams`` objects
the mapping reads, formats each value (dates, R and N2 numbers, upper-case text for the basic character set)
and joins the same segments with the delimiters — what any writer of this 810 must do at the least, with no
tables, hygiene, adjustments or checks. Its text is asserted equal to the engine's once, so the comparison is
of the same output.

For 810s of 1, 10 and 100 lines, rounds alternate the floor and the engine (``render_interchange`` without its
self-check, then ``validate_interchange`` of the text, as the pipeline calls them) in one process; each round
gives a ratio engine/floor in sets per second, and the table shows the median over rounds, so that load from
elsewhere on a shared machine moves both sides alike. Run: ``.venv/bin/python -m benchmarks.x12_throughput
[--rounds 9] [--seconds 0.2]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from freshcleo_pipeline.documents import Address, DocumentKind, Invoice, Line, Party, SourceRef, Tax
from freshcleo_pipeline.x12 import EnvelopeParams, render_interchange, validate_interchange

DATE, TIME = dt.date(2024, 3, 11), dt.time(16, 2)
ENVELOPE = EnvelopeParams("ZZ", "NORTHWIND", "ZZ", "HARBORFOODS")
LINE_COUNTS = (1, 10, 100)


def invoice(lines: int) -> Invoice:
    items = tuple(
        Line(line_number=n, name=f"Widget {n} blue", description="10 cm, boxed", quantity=Decimal("3"),
             unit_price=Decimal("12.50"), amount=Decimal("37.50"), sku=f"WA-{n}",
             taxes=(Tax(name="Sales tax", percent=Decimal("8"), amount=Decimal("3.00")),))
        for n in range(1, lines + 1))
    return Invoice(
        source=SourceRef(kind=DocumentKind.INVOICE, account_id="a", source_id="1", version="v",
                         updated_at=dt.datetime(2024, 3, 11, tzinfo=dt.UTC)),
        invoice_number="0000412", issue_date=dt.date(2024, 3, 8), due_date=dt.date(2024, 4, 7),
        seller=Party(name="Northwind Supply"),
        bill_to=Party(name="Harbor Foods", address=Address(street="88 Pier Rd", city="Portland", province="ME",
                                                           postal_code="04101", country="US")),
        lines=items, tax_total=Decimal("3.00") * lines, total=Decimal("40.50") * lines)


# ---------------------------------------------------------------- the floor

def _r(value: Decimal) -> str:
    """R: plain digits, no trailing zeros, no leading zero before the point (the least an R writer does)."""
    text = str(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text[1:] if text.startswith("0.") else text or "0"


def _date(value: dt.date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def floor_810(doc: Invoice, env: EnvelopeParams, isa13: int, gs06: int, st02: int, date: dt.date,
              time_: dt.time) -> str:
    """The benchmark's 810 written by hand from the same objects: no tables, no hygiene, no checks.

    Written for the benchmark's invoices (USD, no PO number, an addressed bill-to, a seller without one, one
    tax per line): it is the floor for those, not a second writer.
    """
    hhmm = f"{time_.hour:02d}{time_.minute:02d}"
    control = f"{st02:04d}"
    bill_to, address = doc.bill_to, doc.bill_to.address
    body = [
        f"ST*810*{control}",
        f"BIG*{_date(doc.issue_date)}*{doc.invoice_number}*****DI*00",
        f"N1*BT*{bill_to.name.upper()}",
        f"N3*{address.street.upper()}",
        f"N4*{address.city.upper()}*{address.province}*{address.postal_code}*{address.country}",
        f"N1*RE*{doc.seller.name.upper()}",
    ]
    if doc.due_date is not None:
        body.append(f"ITD*01*3****{_date(doc.due_date)}*{(doc.due_date - doc.issue_date).days}")
    for line in doc.lines:
        body.append(f"IT1*{line.line_number}*{_r(line.quantity)}*{line.unit}*{_r(line.unit_price)}**VP*{line.sku}")
        for tax in line.taxes:
            body.append(f"TXI*ST*{_r(tax.amount)}*{_r(tax.percent)}")
        body.append(f"PID*F****{line.name.upper()}")
        body.append(f"PID*F****{line.description.upper()}")
    body.append(f"TDS*{int(doc.total * 100)}")
    body.append(f"CTT*{len(doc.lines)}")
    body.append(f"SE*{len(body) + 1}*{control}")
    head = [
        f"ISA*00*{'':10}*00*{'':10}*{env.sender_qualifier}*{env.sender_id:15}*{env.receiver_qualifier}*"
        f"{env.receiver_id:15}*{date.year % 100:02d}{date.month:02d}{date.day:02d}*{hhmm}*U*00401*"
        f"{isa13:09d}*0*{env.usage}*>",
        f"GS*IN*{env.gs_sender}*{env.gs_receiver}*{_date(date)}*{hhmm}*{gs06}*X*{env.version}",
    ]
    tail = [f"GE*1*{gs06}", f"IEA*1*{isa13:09d}"]
    return "~".join(head + body + tail) + "~"


# ---------------------------------------------------------------- timing

def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second over one window of about ``seconds``."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        count += 1
    return count / elapsed


def measure(lines: int, rounds: int, seconds: float) -> dict[str, float]:
    """Median sets/s of each variant and the median of the per-round ratios engine/floor."""
    doc = invoice(lines)

    def render() -> str:
        return render_interchange([doc], ENVELOPE, interchange_control_number=1, group_control_number=1,
                                  set_control_numbers=[1], date=DATE, time=TIME, validate=False).text

    def floor() -> str:
        return floor_810(doc, ENVELOPE, 1, 1, 1, DATE, TIME)

    text = render()
    assert floor() == text, "the floor must write the engine's text"
    assert validate_interchange(text) == []

    def check() -> object:
        return validate_interchange(text)

    def both() -> object:
        return validate_interchange(render())

    variants: dict[str, Callable[[], object]] = {"floor": floor, "render": render, "validate": check,
                                                 "both": both}
    for fn in variants.values():  # warm the caches the engine keeps across documents
        fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    ratios: list[float] = []
    for _ in range(rounds):
        for name, fn in variants.items():
            samples[name].append(rate(fn, seconds))
        ratios.append(samples["both"][-1] / samples["floor"][-1])
    out = {name: statistics.median(values) for name, values in samples.items()}
    out["ratio"] = statistics.median(ratios)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.2, help="length of one timing window")
    args = parser.parse_args()
    print(f"{'810 lines':>9} {'floor':>9} {'render':>9} {'validate':>9} {'both':>9} {'both/floor':>11}"
          "  (sets/s, medians)")
    for lines in LINE_COUNTS:
        m = measure(lines, args.rounds, args.seconds)
        print(f"{lines:>9} {m['floor']:>9.0f} {m['render']:>9.0f} {m['validate']:>9.0f} {m['both']:>9.0f} "
              f"{m['ratio']:>10.3f}x")


if __name__ == "__main__":
    main()
