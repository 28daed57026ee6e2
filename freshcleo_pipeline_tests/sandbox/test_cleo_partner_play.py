"""The emulated partners send documents of their own: suppliers invoice our 850s, partners send richer 850s, 820s
and 810s, and the launcher seeds the partners' traffic from the FreshBooks books."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from freshcleo_pipeline.sandbox.cleo import DEFAULT_PARTNERS_FILE, CleoEmulator
from freshcleo_pipeline.sandbox.cleo.partner_play import answer_variant_for
from freshcleo_pipeline.sandbox.freshbooks.store import Query
from freshcleo_pipeline.sandbox.launcher import Sandbox, start_sandbox
from freshcleo_pipeline_tests.cleo.interchanges import segments
from freshcleo_pipeline_tests.fixtures.cleo import CleoFactory
from freshcleo_pipeline_tests.sandbox.test_cleo_emulator import Api, content_of

BOLT_OUT, BOLT_IN = "bolt/outbound", "bolt/inbound"
ANCHOR = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
#: (quantity, unit, unit price, product id, description) of the orders we send in these tests.
ORDER_LINES = [("10", "EA", "18.40", "HB-M8-40", "Hex bolt M8x40"), ("4", "BX", "9.60", "HN-M8", "Hex nut M8"),
               ("25", "EA", "12.10", "FW-M8-SS", "Flat washer M8")]


def po_set(po_number: str, st02: str, *, purpose: str = "00",
           lines: Sequence[tuple[str, str, str, str, str]] = ORDER_LINES, element: str = "*") -> list[str]:
    """One 850 set (ST … SE) as our pipeline writes them, joined with ``element``."""
    body = [["BEG", purpose, "SA", po_number, "", "20261120"], ["N1", "BY", "HARBOR SUPPLY CO."],
            ["N1", "SE", "BOLT FASTENERS INC.", "92", "BOLT-0815"]]
    for number, (qty, unit, price, sku, text) in enumerate(lines, start=1):
        body += [["PO1", str(number), qty, unit, price, "", "VP", sku], ["PID", "F", "", "", "", text]]
    total = sum(Decimal(q) * Decimal(p) for q, _, p, _, _ in lines)
    body += [["CTT", str(len(lines))], ["AMT", "TT", f"{total:.2f}"]]
    segs = [["ST", "850", st02], *body, ["SE", str(len(body) + 2), st02]]
    return [element.join(s) for s in segs]


def order_interchange(sets: list[list[str]], *, control: int = 41, receiver: str = "BOLTFAST", version: str = "004010",
                      element: str = "*", isa12: str = "00401", isa11: str = "U") -> bytes:
    """Our interchange to the supplier holding ``sets`` (each from ``po_set``) in one PO group."""
    e = element
    isa = e.join(["ISA", "00", " " * 10, "00", " " * 10, "ZZ", f"{'HARBORSUPPLY':<15}", "ZZ", f"{receiver:<15}",
                  "261120", "1200", isa11, isa12, f"{control:09d}", "0", "T", ">" if e == "*" else ":"])
    parts = [isa, e.join(["GS", "PO", "HARBORSUPPLY", receiver, "20261120", "1200", str(control), "X", version])]
    for st in sets:
        parts += st
    parts += [e.join(["GE", str(len(sets)), str(control)]), e.join(["IEA", "1", f"{control:09d}"])]
    return ("~".join(parts) + "~").encode("ascii")


def po_numbers_by_variant(emulator: CleoEmulator) -> dict[str, str]:
    """A PO number for each answer variant, found by asking the emulator's own pure draw."""
    found: dict[str, str] = {}
    for n in range(1, 500):
        found.setdefault(emulator.answer_variant_for(f"PO-T-{n:04d}"), f"PO-T-{n:04d}")
        if len(found) == 4:
            return found
    raise AssertionError(f"variants found: {found}")


def invoices_in(api: Api, folder: str) -> dict[str, list[list[str]]]:
    """BIG04 → the 810's segments, for every 810 in ``folder``."""
    found: dict[str, list[list[str]]] = {}
    for resource in api.files(folder):
        segs = segments(content_of(api, resource))
        if ["ST", "810"] in [s[:2] for s in segs]:
            big = next(s for s in segs if s[0] == "BIG")
            found[big[4]] = segs
    return found


def tagged(segs: list[list[str]], tag: str) -> list[list[str]]:
    return [s for s in segs if s[0] == tag]


# ---- suppliers answer our 850s ----

def test_a_supplier_invoices_our_orders_by_their_variant(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=0, supplier_answers=True, seed=11)
    po = po_numbers_by_variant(emulator)
    api = Api(emulator)
    sets = [po_set(po[v], f"{i:04d}") for i, v in enumerate(("match", "price", "short", "none"), start=1)]
    assert api.upload(BOLT_OUT, "FRESHCLEO_bolt_850_000000041.x12", order_interchange(sets)).status_code == 201

    invoices = invoices_in(api, BOLT_IN)
    assert sorted(invoices) == sorted([po["match"], po["price"], po["short"]])  # `none`: no invoice at all
    assert len(api.files(BOLT_IN)) == 4  # the three invoices and the 997 for the interchange

    ordered = [["IT1", str(n), q, u, p, "", "VP", sku] for n, (q, u, p, sku, _) in enumerate(ORDER_LINES, start=1)]
    match = invoices[po["match"]]
    assert tagged(match, "IT1") == ordered
    assert [s[5] for s in tagged(match, "PID")] == [line[4] for line in ORDER_LINES]
    assert tagged(match, "TDS") == [["TDS", "52490"]] and tagged(match, "CTT") == [["CTT", "3"]]
    big = tagged(match, "BIG")[0]
    assert big[2].startswith("BOLT-INV-") and big[4] == po["match"]
    assert [s[:2] for s in tagged(match, "N1")] == [["N1", "RE"], ["N1", "BT"]]
    itd = tagged(match, "ITD")[0]
    assert itd[7] == "30" and dt.datetime.strptime(itd[6], "%Y%m%d") - dt.datetime.strptime(big[1], "%Y%m%d") == \
        dt.timedelta(days=30)

    price = invoices[po["price"]]
    assert tagged(price, "IT1")[0][4] == "18.90" and tagged(price, "IT1")[1:] == ordered[1:]
    assert tagged(price, "TDS") == [["TDS", "52990"]]  # 524.90 + 10 x 0.50

    short = invoices[po["short"]]
    assert tagged(short, "IT1") == ordered[:2] and tagged(short, "CTT") == [["CTT", "2"]]
    assert tagged(short, "TDS") == [["TDS", "22240"]]  # 184.00 + 38.40

    made = {a.variant: a for a in emulator.supplier_answers_made()}
    assert sorted(made) == ["match", "none", "price", "short"]
    assert made["none"].file_name == "" and made["none"].invoice_number == ""
    assert made["price"].po_number == po["price"] and made["price"].total == "529.90"
    assert {made[v].file_name for v in ("match", "price", "short")} == {f["name"] for f in api.files(BOLT_IN)
                                                                        if f["name"].startswith("810_")}
    assert all(a.partner_id == "bolt-fasteners" and a.order_file == "FRESHCLEO_bolt_850_000000041.x12"
               for a in made.values())
    answers = requests.get(f"{emulator.url}/_sandbox/answers", timeout=5).json()["supplier_answers"]
    assert sorted(a["variant"] for a in answers) == ["match", "none", "price", "short"]
    stats = requests.get(f"{emulator.url}/_sandbox/stats", timeout=5).json()
    assert len(stats["supplier_answers"]) == 4 and stats["partner_documents_seeded"] == []


def test_the_answer_is_its_own_interchange_under_the_suppliers_control_numbers(
        cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=0, supplier_answers=True, answer_mix={"match": 1})
    api = Api(emulator)
    api.upload(BOLT_OUT, "two.x12", order_interchange([po_set("PO-A-1", "0001"), po_set("PO-A-2", "0002")]))
    names = sorted(f["name"] for f in api.files(BOLT_IN) if f["name"].startswith("810_"))
    assert names == ["810_bolt-fasteners_800000001.x12", "810_bolt-fasteners_800000002.x12"]
    segs = segments(emulator.files_in(BOLT_IN)[names[0]])
    isa, gs = segs[0], segs[1]
    assert (isa[6].strip(), isa[8].strip(), isa[13]) == ("BOLTFAST", "HARBORSUPPLY", "800000001")
    assert gs[:4] == ["GS", "IN", "BOLTFAST", "HARBORSUPPLY"] and gs[8] == "004010"
    se = tagged(segs, "SE")[0]
    st_at = next(i for i, s in enumerate(segs) if s[0] == "ST")
    assert int(se[1]) == next(i for i, s in enumerate(segs) if s[0] == "SE") - st_at + 1
    assert tagged(segs, "IEA") == [["IEA", "1", "800000001"]]


def test_an_order_is_invoiced_once_a_cancellation_never_and_a_refused_interchange_not_at_all(
        cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(pickup_delay=0, supplier_answers=True, answer_mix={"match": 1})
    api = Api(emulator)
    api.upload(BOLT_OUT, "first.x12", order_interchange([po_set("PO-B-1", "0001")], control=51))
    api.upload(BOLT_OUT, "again.x12", order_interchange([po_set("PO-B-1", "0001")], control=52))
    api.upload(BOLT_OUT, "cancel.x12", order_interchange([po_set("PO-B-2", "0001", purpose="01")], control=53))
    broken = order_interchange([po_set("PO-B-3", "0001")], control=54).replace(b"IEA*1*000000054", b"IEA*1*9")
    api.upload(BOLT_OUT, "broken.x12", broken)  # the partner answers a TA1 and invoices nothing
    assert sorted(invoices_in(api, BOLT_IN)) == ["PO-B-1"]
    assert [a.po_number for a in emulator.supplier_answers_made()] == ["PO-B-1"]


def test_suppliers_answer_nothing_unless_asked_and_customers_never(cleo_emulator_factory: CleoFactory) -> None:
    quiet = cleo_emulator_factory(pickup_delay=0)
    Api(quiet).upload(BOLT_OUT, "quiet.x12", order_interchange([po_set("PO-C-1", "0001")]))
    assert [n for n in quiet.files_in(BOLT_IN) if n.startswith("810_")] == []
    assert quiet.supplier_answers_made() == []

    playing = cleo_emulator_factory(pickup_delay=0, supplier_answers=True, answer_mix={"match": 1})
    to_acme = order_interchange([po_set("PO-C-2", "0001")], receiver="ACMERETAIL")
    Api(playing).upload("acme-retail/outbound", "acme.x12", to_acme)
    assert [n for n in playing.files_in("acme-retail/inbound") if n.startswith("810_")] == []


def test_a_5010_supplier_with_pipe_delimiters_reads_our_order_and_answers_in_its_own(
        tmp_path: Path, cleo_emulator_factory: CleoFactory) -> None:
    raw = yaml.safe_load(DEFAULT_PARTNERS_FILE.read_text(encoding="utf-8"))
    bolt = next(p for p in raw["partners"] if p["id"] == "bolt-fasteners")
    bolt.update({"x12_version": "005010", "delimiters": {"element": "|", "component": ":", "repetition": "^",
                                                         "segment": "~"}})
    partners = tmp_path / "partners.yaml"
    partners.write_text(yaml.safe_dump(raw), encoding="utf-8")
    emulator = cleo_emulator_factory(partners_file=partners, pickup_delay=0, supplier_answers=True,
                                     answer_mix={"short": 1})
    order = order_interchange([po_set("PO-D-1", "0001", element="|")], element="|", version="005010",
                              isa12="00501", isa11="^")
    Api(emulator).upload(BOLT_OUT, "pipes.x12", order)
    (name,) = [n for n in emulator.files_in(BOLT_IN) if n.startswith("810_")]
    content = emulator.files_in(BOLT_IN)[name]
    assert content[3:4] == b"|" and b"*" not in content
    segs = segments(content)
    assert segs[0][12] == "00501" and tagged(segs, "GS")[0][8] == "005010"
    assert tagged(segs, "BIG")[0][4] == "PO-D-1" and len(tagged(segs, "IT1")) == 2


def test_answer_variant_for_is_pure_and_follows_the_mix() -> None:
    numbers = [f"PO-{n}" for n in range(4000)]
    drawn = [answer_variant_for(n, seed=3) for n in numbers]
    assert drawn == [answer_variant_for(n, seed=3) for n in numbers]
    shares = {v: drawn.count(v) / len(drawn) for v in ("match", "price", "short", "none")}
    assert abs(shares["match"] - 0.60) < 0.04 and abs(shares["none"] - 0.15) < 0.03
    assert abs(shares["price"] - 0.15) < 0.03 and abs(shares["short"] - 0.10) < 0.03
    assert drawn != [answer_variant_for(n, seed=4) for n in numbers]  # the seed matters
    assert {answer_variant_for(n, mix={"price": 2, "none": 0}) for n in numbers[:50]} == {"price"}
    for bad in ({"late": 1.0}, {"match": -1.0}, {"match": 0.0}):
        with pytest.raises(ValueError, match="answer_mix"):
            answer_variant_for("PO-1", mix=bad)


# ---- richer partner documents ----

def test_a_customer_order_with_given_lines_and_a_remittance_with_given_items(cleo_emulator: CleoEmulator) -> None:
    name = cleo_emulator.send_partner_document("acme-retail", "850", reference="ACME-PO-77",
                                               lines=[("3", "EA", "36.80", "CB-181210", "Corrugated box"),
                                                      ("25", "", "64.00", "", "Work light LED")])
    segs = segments(cleo_emulator.files_in("acme-retail/inbound")[name])
    assert tagged(segs, "BEG")[0][3] == "ACME-PO-77"
    assert tagged(segs, "PO1") == [["PO1", "1", "3", "EA", "36.80", "", "VP", "CB-181210"],
                                   ["PO1", "2", "25", "EA", "64.00"]]
    assert tagged(segs, "CTT") == [["CTT", "2"]] and tagged(segs, "AMT") == [["AMT", "TT", "1710.40"]]

    name = cleo_emulator.send_partner_document("northwind-grocers", "820", reference="NWG-EFT-1",
                                               remittance=[("0000004", "9786.84", "9786.84"),
                                                           ("0000017", Decimal("100.00"), "14750.56")])
    segs = segments(cleo_emulator.files_in("northwind/inbound")[name])
    assert tagged(segs, "RMR") == [["RMR", "IV", "0000004", "", "9786.84", "9786.84"],
                                   ["RMR", "IV", "0000017", "", "100.00", "14750.56"]]
    assert tagged(segs, "BPR")[0][2] == "9886.84" and tagged(segs, "TRN")[0][2] == "NWG-EFT-1"

    name = cleo_emulator.send_partner_document("bolt-fasteners", "810", reference="BOLT-INV-9", answers="PO-9",
                                               lines=[("2", "EA", "18.40", "HB-M8-40", "Hex bolt")], total="40.00")
    segs = segments(cleo_emulator.files_in(BOLT_IN)[name])
    assert tagged(segs, "BIG")[0][2:] == ["BOLT-INV-9", "", "PO-9"] and tagged(segs, "TDS") == [["TDS", "4000"]]
    with pytest.raises(ValueError, match="remittance"):
        cleo_emulator.send_partner_document("acme-retail", "850", remittance=[("1", "1", "1")])
    with pytest.raises(ValueError, match="float"):
        cleo_emulator.send_partner_document("acme-retail", "850", lines=[(1.5, "EA", "1", "", "")])


def test_the_defaults_and_options_of_send_are_unchanged(cleo_emulator: CleoEmulator) -> None:
    name = cleo_emulator.send_partner_document("acme-retail", "850", reference="ACME-PO-1", ta1=True)
    segs = segments(cleo_emulator.files_in("acme-retail/inbound")[name])
    assert segs[0][14] == "1"
    assert tagged(segs, "PO1") == [["PO1", "1", "10", "EA", "12.50", "", "VP", "WIDGET-1"],
                                   ["PO1", "2", "4", "CA", "30.25", "", "VP", "BOLT-7"]]
    assert tagged(segs, "AMT") == [["AMT", "TT", "246.00"]]
    name = cleo_emulator.send_partner_document("acme-retail", "820", answers="0000004")
    assert tagged(segments(cleo_emulator.files_in("acme-retail/inbound")[name]), "RMR") == [
        ["RMR", "IV", "0000004", "PI", "246.00", "246.00"]]
    name = cleo_emulator.send_partner_document("bolt-fasteners", "810", broken=True)
    assert tagged(segments(cleo_emulator.files_in(BOLT_IN)[name]), "BIG")[0][1] == "20261399"


def test_the_control_api_sends_lines_and_remittance_items(cleo_emulator: CleoEmulator) -> None:
    sent = requests.post(f"{cleo_emulator.url}/_sandbox/partner-send", timeout=5, json={
        "partner": "acme-retail", "kind": "820", "reference": "ACME-EFT-9",
        "remittance": [["0000004", "10.00", "20.00"],
                       {"invoice_number": "0000006", "amount_paid": "5.00", "invoice_total": "5.00"}]})
    assert sent.status_code == 201, sent.text
    segs = segments(cleo_emulator.files_in("acme-retail/inbound")[sent.json()["name"]])
    assert tagged(segs, "BPR")[0][2] == "15.00" and len(tagged(segs, "RMR")) == 2
    sent = requests.post(f"{cleo_emulator.url}/_sandbox/partner-send", timeout=5, json={
        "partner": "acme-retail", "kind": "850", "lines": [["2", "EA", "5.00", "AK-100", "Anchor kit"]]})
    assert sent.status_code == 201, sent.text
    wrong = requests.post(f"{cleo_emulator.url}/_sandbox/partner-send", timeout=5, json={
        "partner": "acme-retail", "kind": "850", "lines": [["2", "EA"]]})
    assert wrong.status_code == 422 and "lines[0]" in wrong.json()["message"]


# ---- the launcher seeds the partners' traffic ----

@pytest.fixture
def partners_file(tmp_path: Path) -> Path:
    path = tmp_path / "partners.yaml"
    path.write_text(DEFAULT_PARTNERS_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def started(partners_file: Path, **options: Any) -> Sandbox:
    return start_sandbox(partners_file=partners_file, seed=7, invoices=120, days=10.0, anchor=ANCHOR,
                         webhook_delay=0.0, pickup_delay=None, **options)


def inbound_files(sandbox: Sandbox) -> dict[str, bytes]:
    return {f"{p.inbound}/{name}": content for p in sandbox.cleo.config.partners
            for name, content in sandbox.cleo.files_in(p.inbound).items()}


def books(sandbox: Sandbox) -> list[dict[str, Any]]:
    store = sandbox.freshbooks.store
    return [store.render("invoices", p, frozenset()) for p in store.select("invoices", Query(vis=frozenset({0, 2})))]


def test_the_launcher_seeds_orders_remittances_and_an_unmatched_invoice_from_the_books(partners_file: Path) -> None:
    sandbox = started(partners_file)
    try:
        invoices = {i["invoice_number"]: i for i in books(sandbox)}
        po_numbers = {i["po_number"] for i in invoices.values() if i.get("po_number")}
        seeded = sandbox.seeded_partner_documents
        files = inbound_files(sandbox)
        folders = {p.id: p.inbound for p in sandbox.cleo.config.partners}
        assert len(files) == len(seeded) and all(f"{folders[d.partner_id]}/{d.file_name}" in files for d in seeded)
        for partner, organization in (("acme-retail", "Acme Retail Stores"),
                                      ("northwind-grocers", "Northwind Grocers")):
            mine = [d for d in seeded if d.partner_id == partner]
            assert sorted(d.purpose for d in mine) == ["answered_order", "answered_order", "remittance",
                                                       "unanswered_order"]
            for doc in mine:
                segs = segments(files[f"{folders[partner]}/{doc.file_name}"])
                if doc.purpose == "answered_order":
                    (number,) = doc.refers_to
                    invoice = invoices[number]
                    assert invoice["organization"] == organization and invoice["v3_status"] != "draft"
                    assert tagged(segs, "BEG")[0][3] == invoice["po_number"] == doc.reference
                    assert len(tagged(segs, "PO1")) == doc.details["lines"] > 0
                elif doc.purpose == "unanswered_order":
                    assert tagged(segs, "BEG")[0][3] == doc.reference and doc.reference not in po_numbers
                else:
                    rmrs = tagged(segs, "RMR")
                    assert [r[2] for r in rmrs] == list(doc.refers_to)
                    full, part = (invoices[r[2]] for r in rmrs)
                    assert full["organization"] == part["organization"] == organization
                    assert rmrs[0][4] == rmrs[0][5] == full["amount"]["amount"]
                    assert rmrs[1][5] == part["amount"]["amount"]
                    assert Decimal(0) < Decimal(rmrs[1][4]) < Decimal(part["amount"]["amount"])
                    assert Decimal(tagged(segs, "BPR")[0][2]) == Decimal(rmrs[0][4]) + Decimal(rmrs[1][4])
        (unsolicited,) = [d for d in seeded if d.partner_id == "bolt-fasteners"]
        segs = segments(files[f"bolt/inbound/{unsolicited.file_name}"])
        big = tagged(segs, "BIG")[0]
        assert big[4].startswith("PO-UNKNOWN-") and big[4] not in po_numbers and big[2] == unsolicited.reference
        assert len(tagged(segs, "IT1")) == 2 and unsolicited.purpose == "unsolicited_invoice"
        stats = requests.get(f"{sandbox.cleo.url}/_sandbox/stats", timeout=5).json()
        assert [d["file_name"] for d in stats["partner_documents_seeded"]] == [d.file_name for d in seeded]
        assert sandbox.cleo.suppliers.enabled  # the launcher's suppliers answer our 850s
    finally:
        sandbox.stop()


def test_two_starts_on_one_seed_and_anchor_seed_the_same_files(partners_file: Path) -> None:
    first = started(partners_file)
    try:
        once = inbound_files(first)
    finally:
        first.stop()
    second = started(partners_file)
    try:
        assert inbound_files(second) == once
        assert min(n.rsplit("_", 1)[1] for n in once) == "800000001.x12"
    finally:
        second.stop()
    quiet = started(partners_file, partner_traffic=False)
    try:
        assert inbound_files(quiet) == {} and quiet.seeded_partner_documents == []
    finally:
        quiet.stop()
