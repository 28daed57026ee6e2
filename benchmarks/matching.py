"""The matching stage in a big book: ``match_partner_documents`` over 2,000 partner documents, in a ledger holding
10,000 and then 100,000 FreshBooks documents, so that its cost per partner document shows and whether it grows with
the book.

Run: ``python -m benchmarks.matching [--books 10000 100000] [--partner-documents 2000] [--seed 7]
[--ledger-url URL]``.

The book is written straight into the ledger through the ledger's own operations, not by running the pipeline
against the emulators (a 100,000-document backfill takes far longer than the stage it would feed): per document a
FreshBooks snapshot (``snapshots.save_snapshots``: a raw payload with ``amount``, ``paid``, ``outstanding``) and
its normalized ``Invoice`` or ``PurchaseOrder`` built with the models and stored as ``sync/route`` stores them
(``model_dump(mode="json")`` through ``snapshots.save_documents``); the routed ones (a partner's client or vendor)
enqueued, rendered into interchanges of up to 100 sets and delivered (``outbox.enqueue``, ``create_interchange``,
``mark_delivered``; the interchange's text is a stub, matching never reads it). One version per document. 80% of the
book are invoices, 20% bills; 60% of each routed to the sandbox's four partners, the rest unrouted; most invoices
carry a customer PO number. Then the partners' documents (``inbound.record`` files of 50 sets,
``partner_documents.record`` with the models' JSON as ``sync/partner_documents`` stores it): 40% suppliers' 810s
(answering delivered bills' PO numbers, one in five a price off, one in ten naming no PO of ours), 40% customers'
850s (seven in ten carrying the PO number of an invoice of theirs, the rest a PO no invoice carries), 20% customers'
820s naming two or three of their invoices.

The book is built in one process and the stage measured in another (fresh, so its peak RSS is the stage's and not
the build's), run as the inbound job runs it: FreshBooks read-only (the default), ``RECHECK_DAYS`` of 30. The first
pass matches every partner document; the second finds none new and checks the open results again. SQL statements
and their time are counted by a ``before_cursor_execute``/``after_cursor_execute`` listener on the ledger's engine
and split by the lookup that issued them. With ``--ledger-url`` (PostgreSQL) the database must be one the
benchmark may empty: every ledger table is truncated before each book.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.pipeline_day import SPAWN, peak_rss_mb

ACCOUNT = "bench01"
CUSTOMERS = {"acme-retail": ("Acme Retail Stores", 101), "northwind-grocers": ("Northwind Grocers", 102)}
SUPPLIERS = {"bolt-fasteners": ("Bolt Fasteners Inc.", 201), "coastal-packaging": ("Coastal Packaging LLC", 202)}
ITEMS = [("Hex bolt M8x40", "HB-M8-40", "EA"), ("Corrugated box 18x12x10", "CB-181210", "EA"),
         ("Stretch wrap 18in", "SW-18", "RL"), ("Pallet, heat-treated", "PL-HT48", "EA"),
         ("Wood screw #10 2in", "WS-10-2", "BX"), ("Packing tape 3in", "PT-3", "RL")]
INTERCHANGE_SIZE = 100
BATCH = 2000

# Which lookup a statement belongs to, by a piece of its text (first match wins; see ledger/partner_matches.py).
LOOKUPS = [
    ("to_check", "LEFT OUTER JOIN partner_matches"),
    ("invoice_with_po", "documents.po_number ="),
    ("sent_document", "JOIN documents ON documents.id = outbox.document_id"),
    ("party_of (clients, vendors)", "max(source_snapshots.id)"),
    ("invoice_payloads_by_number", "FROM source_snapshots"),
    ("invoice_payloads_by_number", "documents.reference IN"),
    ("current_document", "FROM documents"),
    ("record result + trails", "partner_matches"),
    ("record result + trails", "audit_events"),
]


# ---- the book ----

def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _party(name: str, source_id: str = "", city: str = "Portland") -> dict[str, Any]:
    return {"name": name, "source_id": source_id, "email": f"ap@{name.split()[0].lower()}.example",
            "address": {"street": "12 Harbor Road", "city": city, "province": "ME", "postal_code": "04101",
                        "country": "US"}}


def _lines(rng: random.Random) -> list[dict[str, Any]]:
    lines = []
    for number in range(1, rng.randint(1, 5) + 1):
        name, sku, unit = rng.choice(ITEMS)
        quantity, price = Decimal(rng.randint(1, 40)), _money(rng, 2, 300)
        lines.append({"line_number": number, "name": name, "description": f"{name}, lot {rng.randint(100, 999)}",
                      "quantity": quantity, "unit_price": price, "amount": quantity * price, "unit": unit,
                      "sku": sku})
    return lines


def _total(lines: list[dict[str, Any]]) -> Decimal:
    return sum((line["amount"] for line in lines), Decimal(0))


def _version(payload: Any) -> str:
    return hashlib.sha256(repr(payload).encode()).hexdigest()[:32]


def _book_documents(rng: random.Random, first: int, count: int, n: int, start: dt.datetime) -> list[dict[str, Any]]:
    """The FreshBooks side: documents first..first+count of n (invoices and bills over a year from ``start``),
    each a raw payload and its normalized model."""
    from freshcleo_pipeline.documents import Invoice, PurchaseOrder

    us = _party("Harbor Supply Co.")
    out = []
    for i in range(first, first + count):
        issued = (start + dt.timedelta(minutes=525_600 * i // n)).date()
        updated = dt.datetime(issued.year, issued.month, issued.day, 12, tzinfo=dt.UTC)
        lines = _lines(rng)
        total = _total(lines)
        routed = rng.random() < 0.6
        if i % 5:  # invoices
            source_id = str(1_000_000 + i)
            partner = rng.choice(sorted(CUSTOMERS)) if routed else None
            name, client = CUSTOMERS[partner] if partner else (f"Walk-in client {i % 997}", 5000 + i % 997)
            po = f"{name.split()[0][:4].upper()}-PO-{i:07d}" if rng.random() < 0.9 else ""
            number = f"INV-{i:07d}"
            paid = total if rng.random() < 0.5 else Decimal(0)
            payload = {"id": int(source_id), "invoiceid": int(source_id), "invoice_number": number,
                       "customerid": client, "organization": name, "po_number": po, "create_date": str(issued),
                       "amount": {"amount": str(total), "code": "USD"}, "paid": {"amount": str(paid), "code": "USD"},
                       "outstanding": {"amount": str(total - paid), "code": "USD"}, "vis_state": 0,
                       "lines": [{"name": ln["name"], "qty": str(ln["quantity"]),
                                  "unit_cost": {"amount": str(ln["unit_price"])}} for ln in lines]}
            model: Any = Invoice(source=dict(kind="invoice", account_id=ACCOUNT, source_id=source_id,
                                             version=_version(payload), updated_at=updated),
                                 invoice_number=number, po_number=po, issue_date=issued,
                                 due_date=issued + dt.timedelta(days=30), seller=us,
                                 bill_to=_party(name, str(client)), lines=lines, total=total, terms="Net 30")
            kind, reference, transaction_set = "invoice", number, "810"
        else:  # bills: our purchase orders, the PO number is the bill id (BEG03)
            source_id = str(10_000_000 + i)
            partner = rng.choice(sorted(SUPPLIERS)) if routed else None
            name, vendor = SUPPLIERS[partner] if partner else (f"Local vendor {i % 211}", 7000 + i % 211)
            payload = {"id": int(source_id), "billid": int(source_id), "bill_number": f"V{i:07d}",
                       "vendorid": vendor, "vendor_name": name, "issue_date": str(issued),
                       "amount": {"amount": str(total), "code": "USD"}, "vis_state": 0,
                       "lines": [{"description": ln["description"], "quantity": str(ln["quantity"]),
                                  "unit_cost": {"amount": str(ln["unit_price"])}} for ln in lines]}
            model = PurchaseOrder(source=dict(kind="bill", account_id=ACCOUNT, source_id=source_id,
                                              version=_version(payload), updated_at=updated),
                                  po_number=source_id, bill_number=f"V{i:07d}", issue_date=issued,
                                  due_date=issued + dt.timedelta(days=30), buyer=us,
                                  seller=_party(name, str(vendor)), lines=lines, total=total)
            kind, reference, transaction_set = "bill", source_id, "850"
        out.append({"kind": kind, "source_id": source_id, "issued": issued, "updated": updated, "payload": payload,
                    "model": model, "partner": partner, "reference": reference, "total": total,
                    "transaction_set": transaction_set})
    return out


def _save_book(ledger: Any, docs: list[dict[str, Any]], isa13: Counter[str]) -> None:
    from sqlalchemy import select

    from freshcleo_pipeline.ledger import outbox, snapshots
    from freshcleo_pipeline.ledger.schema import documents, source_snapshots

    with ledger.begin() as conn:
        snapshots.save_snapshots(conn, [{
            "kind": d["kind"], "account_id": ACCOUNT, "source_id": d["source_id"], "version": d["model"].source.version,
            "updated_at": d["updated"], "partition_date": d["issued"], "vis_state": 0, "payload": d["payload"]}
            for d in docs], run_id="bench-build")
        ids = dict(((k, s), i) for k, s, i in conn.execute(
            select(source_snapshots.c.kind, source_snapshots.c.source_id, source_snapshots.c.id)
            .where(source_snapshots.c.source_id.in_([d["source_id"] for d in docs]))).all())
        snapshots.save_documents(conn, [{
            "snapshot_id": ids[(d["kind"], d["source_id"])], "kind": d["kind"], "account_id": ACCOUNT,
            "source_id": d["source_id"], "version": d["model"].source.version, "partition_date": d["issued"],
            "reference": d["reference"], "status": "routed" if d["partner"] else "unrouted",
            "reason": "" if d["partner"] else "no trading partner for this client or vendor",
            "partner_id": d["partner"], "transaction_set": d["transaction_set"] if d["partner"] else None,
            "currency": "USD", "total": str(d["total"]), "body": d["model"].model_dump(mode="json"),
            "warnings": []} for d in docs], run_id="bench-build")
        document_ids = dict(((k, s), i) for k, s, i in conn.execute(
            select(documents.c.kind, documents.c.source_id, documents.c.id)
            .where(documents.c.source_id.in_([d["source_id"] for d in docs]))).all())
        routed = [d for d in docs if d["partner"]]
        keys = {}
        for d in routed:
            key = outbox.idempotency_key(d["partner"], d["transaction_set"], d["kind"], ACCOUNT, d["source_id"],
                                         d["model"].source.version)
            keys[key] = d
        outbox.enqueue(conn, [{
            "idempotency_key": key, "partner_id": d["partner"], "transaction_set": d["transaction_set"],
            "kind": d["kind"], "account_id": ACCOUNT, "source_id": d["source_id"],
            "version": d["model"].source.version, "document_id": document_ids[(d["kind"], d["source_id"])],
            "partition_date": d["issued"], "purpose": "original", "reference": d["reference"],
            "total": str(d["total"]), "run_id": "bench-build"} for key, d in keys.items()])
        outbox_ids = dict(conn.execute(select(outbox.outbox.c.idempotency_key, outbox.outbox.c.id)
                                       .where(outbox.outbox.c.idempotency_key.in_(list(keys)))).all())
        by_file: dict[tuple[str, str], list[str]] = {}
        for key, d in keys.items():
            by_file.setdefault((d["partner"], d["transaction_set"]), []).append(key)
        for (partner, transaction_set), members in sorted(by_file.items()):
            for start in range(0, len(members), INTERCHANGE_SIZE):
                isa13[partner] += 1
                chunk = members[start:start + INTERCHANGE_SIZE]
                name = f"{partner}-{transaction_set}-{isa13[partner]:09d}.x12"
                content = f"ISA*...*{isa13[partner]:09d}~ (benchmark stub of {len(chunk)} sets)"
                interchange = outbox.create_interchange(
                    conn, partner_id=partner, transaction_set=transaction_set, usage="T", isa13=isa13[partner],
                    gs06=isa13[partner], file_name=name, content=content,
                    sha256=hashlib.sha256(content.encode()).hexdigest(),
                    total=str(sum(Decimal(keys[k]["total"]) for k in chunk)),
                    members=[(outbox_ids[k], f"{n + 1:04d}") for n, k in enumerate(chunk)], run_id="bench-build")
                outbox.mark_delivered(conn, interchange, cleo_file_id=f"cleo-{name}", receipt={"name": name},
                                      run_id="bench-build")


def _save_parties(ledger: Any) -> None:
    from freshcleo_pipeline.ledger import snapshots

    rows = [{"kind": "client", "source_id": str(client), "payload": {"id": client, "userid": client,
                                                                    "organization": name, "vis_state": 0}}
            for name, client in CUSTOMERS.values()]
    rows += [{"kind": "bill_vendor", "source_id": str(vendor), "payload": {"vendorid": vendor, "vendor_name": name,
                                                                          "vis_state": 0}}
             for name, vendor in SUPPLIERS.values()]
    with ledger.begin() as conn:
        snapshots.save_snapshots(conn, [{**r, "account_id": ACCOUNT, "version": _version(r["payload"]),
                                         "updated_at": None, "partition_date": None, "vis_state": 0}
                                        for r in rows], run_id="bench-build")


def _partner_documents(ledger: Any, rng: random.Random, m: int, bills: list[dict[str, Any]],
                       invoices: list[dict[str, Any]]) -> Counter[str]:
    """The partners' side: m documents as the inbound stage records them; returns what was seeded."""
    from freshcleo_pipeline.documents import Invoice, PurchaseOrder, Remittance
    from freshcleo_pipeline.ledger import inbound
    from freshcleo_pipeline.ledger import partner_documents as ledger_documents

    us = _party("Harbor Supply Co.")
    now = dt.datetime.now(dt.UTC)
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for d in invoices:
        by_customer.setdefault(d["partner"], []).append(d)
    seeded: Counter[str] = Counter()
    with ledger.begin() as conn:
        file_id = 0
        for i in range(m):
            if i % 50 == 0:
                content = f"benchmark partner file {i // 50}"
                file_id = inbound.record(conn, partner_id=None, folder="inbox", cleo_file_id=f"in-{i // 50}",
                                         file_name=f"in-{i // 50:05d}.x12", content=content,
                                         sha256=hashlib.sha256(content.encode()).hexdigest(), kind="x12",
                                         run_id="bench-build").id
            isa13 = f"{500_000 + i // 50:09d}"
            source = {"account_id": "", "source_id": f"{isa13}/{i % 50 + 1}/{1:04d}", "version": f"v{i}",
                      "updated_at": now}
            roll = i % 10
            if roll < 4:  # a supplier's 810
                bill = rng.choice(bills)
                partner = bill["partner"]
                name = SUPPLIERS[partner][0]
                lines = [dict(line) for line in bill["model"].model_dump()["lines"]]
                what = "810 answering a bill"
                if rng.random() < 0.2:
                    lines[0]["unit_price"] += Decimal("1.25")
                    lines[0]["amount"] = lines[0]["unit_price"] * lines[0]["quantity"]
                    what = "810 a price off"
                po = bill["source_id"]
                if rng.random() < 0.1:
                    po, what = f"X{rng.randint(1, 10**6)}", "810 naming no PO of ours"
                doc: Any = Invoice(source={**source, "kind": "invoice", "account_id": partner},
                                   invoice_number=f"{partner[:4].upper()}-{i:06d}", po_number=po,
                                   issue_date=now.date(), seller=_party(name), bill_to=us, lines=lines,
                                   total=_total(lines))
                set_id, reference = "810", doc.invoice_number
            elif roll < 8:  # a customer's 850
                partner = rng.choice(sorted(by_customer))
                invoice = rng.choice(by_customer[partner])
                po = invoice["model"].po_number
                what = "850 with an invoice's PO"
                if rng.random() < 0.3 or not po:
                    po, what = f"NEW-PO-{i:06d}", "850 no invoice carries"
                lines = [dict(line) for line in invoice["model"].model_dump()["lines"]]
                doc = PurchaseOrder(source={**source, "kind": "bill", "account_id": partner}, po_number=po,
                                    issue_date=now.date(), buyer=_party(CUSTOMERS[partner][0]), seller=us,
                                    lines=lines, total=_total(lines))
                set_id, reference = "850", po
            else:  # a customer's 820
                partner = rng.choice(sorted(by_customer))
                named = rng.sample(by_customer[partner], rng.randint(2, 3))
                items = [{"reference_number": d["reference"], "amount_paid": d["total"],
                          "document_total": d["total"]} for d in named]
                amount = sum((d["total"] for d in named), Decimal(0))
                doc = Remittance(source={**source, "kind": "payment", "account_id": partner},
                                 payment_date=now.date(), amount=amount, trace_number=f"TRN{i:08d}",
                                 payer=_party(CUSTOMERS[partner][0]), payee=us, items=items)
                set_id, reference, what = "820", doc.trace_number, "820 naming invoices"
            ledger_documents.record(conn, inbound_file_id=file_id, partner_id=partner, transaction_set=set_id,
                                    isa13=isa13, gs06=str(i % 50 + 1), st02="0001", status=ledger_documents.READ,
                                    reference=reference, document_date=now.date(), currency="USD",
                                    total=str(doc.total if set_id != "820" else doc.amount),
                                    body=doc.model_dump(mode="json"), run_id="bench-build")
            seeded[what] += 1
    return seeded


def _empty(url: str) -> None:
    """Truncate every ledger table (PostgreSQL only: SQLite books get a new file each)."""
    from sqlalchemy import text

    from freshcleo_pipeline.ledger import open_ledger
    from freshcleo_pipeline.ledger.schema import metadata

    ledger = open_ledger(url)
    with ledger.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    ledger.dispose()


def build(url: str, n: int, m: int, seed: int, out: Any) -> None:
    """Child process: the book of n FreshBooks documents, then m partner documents."""
    from freshcleo_pipeline.ledger import open_ledger

    started = time.perf_counter()
    rng = random.Random(seed)
    ledger = open_ledger(url)
    _save_parties(ledger)
    isa13: Counter[str] = Counter()
    bills: list[dict[str, Any]] = []
    invoices: list[dict[str, Any]] = []
    first = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    for start in range(0, n, BATCH):
        docs = _book_documents(rng, start, min(BATCH, n - start), n, first)
        _save_book(ledger, docs, isa13)
        # Keep what the partner documents need (a sample of the routed ones), not the whole book in memory.
        bills += [d for d in docs if d["kind"] == "bill" and d["partner"]][:40]
        invoices += [d for d in docs if d["kind"] == "invoice" and d["partner"]][:80]
    seeded = _partner_documents(ledger, rng, m, bills, invoices)
    ledger.dispose()
    out.put({"seconds": time.perf_counter() - started, "seeded": dict(seeded)})


# ---- the stage, measured ----

class _Statements:
    """Counts and times every SQL statement on the engine, by the lookup that issued it."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}
        self._started = 0.0

    def before(self, *_args: Any) -> None:
        self._started = time.perf_counter()

    def after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        label = next((label for label, piece in LOOKUPS if piece in statement), "other")
        self.count[label] += 1
        self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - self._started

    def take(self) -> tuple[dict[str, int], dict[str, float]]:
        taken = dict(self.count), dict(self.seconds)
        self.count.clear()
        self.seconds.clear()
        return taken


def _no_network() -> Any:
    raise RuntimeError("the benchmark runs the stage read-only: it must not call FreshBooks or Cleo")


def measure(url: str, out: Any) -> None:
    """Child process: two passes of ``match_partner_documents`` over the built ledger."""
    from sqlalchemy import event

    import freshcleo_pipeline
    from freshcleo_pipeline.ledger import open_ledger
    from freshcleo_pipeline.partners import load_partners
    from freshcleo_pipeline.settings import load_settings
    from freshcleo_pipeline.sync.context import SyncContext
    from freshcleo_pipeline.sync.matching import match_partner_documents

    partners_file = Path(freshcleo_pipeline.__file__).parent / "sandbox" / "data" / "partners.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(FRESHCLEO_MODE="sandbox", FRESHCLEO_DATA_DIR=tmp, FRESHCLEO_LEDGER_URL=url,
                                 FRESHCLEO_PARTNERS_FILE=str(partners_file))
        ledger = open_ledger(url)
        statements = _Statements()
        event.listen(ledger.engine, "before_cursor_execute", statements.before)
        event.listen(ledger.engine, "after_cursor_execute", statements.after)
        rss_before = peak_rss_mb()
        passes = []
        for run in ("first", "second"):
            ctx = SyncContext(settings=settings, ledger=ledger, partners=load_partners(partners_file),
                              freshbooks=_no_network, cleo=_no_network, run_id=f"bench-{run}")
            started = time.perf_counter()
            summary = match_partner_documents(ctx, ACCOUNT)
            seconds = time.perf_counter() - started
            count, spent = statements.take()
            passes.append({"seconds": seconds, "documents": sum(summary.results.values()) + len(summary.errors),
                           "results": dict(summary.results), "changed": summary.changed,
                           "errors": summary.errors[:3], "error_count": len(summary.errors),
                           "statements": count, "statement_seconds": spent})
        ledger.dispose()
    out.put({"passes": passes, "rss_before": rss_before, "rss": peak_rss_mb()})


def _in_process(target: Any, *args: Any) -> dict[str, Any]:
    queue = SPAWN.Queue()
    process = SPAWN.Process(target=target, args=(*args, queue))
    process.start()
    try:
        result: dict[str, Any] = queue.get()
    finally:
        process.join()
    if process.exitcode:
        raise SystemExit(f"{target.__name__} failed (exit code {process.exitcode})")
    return result


def _columns(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                                       enumerate(zip(r, widths, strict=True))) for r in [header, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--books", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--partner-documents", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ledger-url", default=None, help="an empty PostgreSQL ledger (truncated per book)")
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.books:
            if args.ledger_url:
                _empty(args.ledger_url)
                url = args.ledger_url
            else:
                url = f"sqlite:///{Path(tmp) / f'ledger-{n}.db'}"
            built = _in_process(build, url, n, args.partner_documents, args.seed)
            print(f"  book of {n}: built in {built['seconds']:.0f} s; {built['seeded']}", flush=True)
            measured = _in_process(measure, url)
            results.append((n, built, measured))
            for run in measured["passes"]:
                print(f"  book of {n}, {run['documents']} documents matched in {run['seconds']:.1f} s: "
                      f"{run['results']} ({run['error_count']} errors {run['errors']})", flush=True)

    backend = "PostgreSQL" if args.ledger_url else "SQLite"
    print(f"matching: {args.partner_documents} partner documents against books of "
          f"{', '.join(f'{n:,}' for n in args.books)} FreshBooks documents ({backend} ledger, read-only)")
    header = ["", *[f"book {n:,}" for n, _, _ in results]]
    rows: list[list[str]] = []
    for index, name in ((0, "first pass (all new)"), (1, "second pass (open re-checked)")):
        runs = [m["passes"][index] for _, _, m in results]
        rows.append([f"{name}: documents", *[str(r["documents"]) for r in runs]])
        rows.append(["  wall time", *[f"{r['seconds']:.1f} s" for r in runs]])
        rows.append(["  documents/s", *[f"{r['documents'] / r['seconds']:.0f}" for r in runs]])
        rows.append(["  ms per document", *[f"{1000 * r['seconds'] / max(r['documents'], 1):.2f}" for r in runs]])
        rows.append(["  SQL statements per document",
                     *[f"{sum(r['statements'].values()) / max(r['documents'], 1):.1f}" for r in runs]])
    first = [m["passes"][0] for _, _, m in results]
    labels = sorted({label for r in first for label in r["statements"]},
                    key=lambda label: -max(r["statement_seconds"].get(label, 0.0) for r in first))
    for label in labels:
        rows.append([f"  1st pass {label}: ms per call (calls)",
                     *[f"{1000 * r['statement_seconds'].get(label, 0.0) / max(r['statements'].get(label, 0), 1):.2f}"
                       f" ({r['statements'].get(label, 0)})" for r in first]])
    rows.append(["peak RSS of the stage's process",
                 *[f"{m['rss']:.0f} MB (before {m['rss_before']:.0f})" for _, _, m in results]])
    print(_columns(header, rows))


if __name__ == "__main__":
    main()
