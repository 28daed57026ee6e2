"""Partner guides as data: every sandbox partner has one; the renderer follows it (party and store ids, product
ids, the bill number, the credit-memo convention) and a requirement it cannot meet is named."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import yaml

from freshcleo_pipeline.documents import Line, Party, Purpose, Tax
from freshcleo_pipeline.ledger import quarantine
from freshcleo_pipeline.partners import PartnerDirectory, PartnerGuide, load_partners
from freshcleo_pipeline.sync.render import follow_guide, guide_of
from freshcleo_pipeline.x12 import render_interchange, validate_interchange
from freshcleo_pipeline.x12.guide import CreditMemoConvention, Guide, Requirement, unmet, unmet_in_interchange
from freshcleo_pipeline.x12.tokens import tokenize
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv
from freshcleo_pipeline_tests.x12.samples import DATE, TIME, envelope, invoice, purchase_order, remittance

SANDBOX = Path(__file__).parents[2] / "freshcleo_pipeline" / "sandbox" / "data" / "partners.yaml"


@pytest.fixture(scope="module")
def directory() -> PartnerDirectory:
    return load_partners(SANDBOX)


def _render(document: object, guide: Guide) -> str:
    text = render_interchange([document], envelope(), interchange_control_number=17,  # type: ignore[list-item]
                              group_control_number=17, set_control_numbers=[1], date=DATE, time=TIME,
                              guide=guide).text
    assert validate_interchange(text) == []
    return text


def _segments(text: str, tag: str) -> list[tuple[str, ...]]:
    return [tuple(s.elements) for s in tokenize(text).segments if s.tag == tag]


def _set_unmet(text: str, set_id: str, guide: Guide) -> list[str]:
    body = [(s.tag, s.elements) for s in tokenize(text).segments if s.tag not in ("ISA", "GS", "GE", "IEA")]
    return [str(u) for u in unmet(set_id, body, guide)]


def test_every_sandbox_partner_has_a_guide_with_requirements(directory: PartnerDirectory) -> None:
    for partner in directory.partners:
        assert partner.guide != PartnerGuide(), partner.id
        assert partner.guide.requires and partner.guide.party_ids, partner.id
        guide_of(partner)  # the X12 layer accepts every rule


def test_retailer_810_carries_bill_to_and_ship_to_ids_and_product_ids(directory: PartnerDirectory) -> None:
    acme = directory.get("acme-retail")
    doc = follow_guide(invoice(bill_to=Party(name="Acme Retail Stores", source_id="5001")), acme.guide)
    text = _render(doc, guide_of(acme))
    n1 = {s[0]: s for s in _segments(text, "N1")}
    assert n1["BT"][2:] == ("92", "ACME0001")
    assert n1["ST"][2:] == ("92", "STORE0042")  # the store number, as the guide maps the client
    assert [s[5:7] for s in _segments(text, "IT1")] == [("VN", "WA-10-BLU"), ("VN", "SETUP")]
    assert _set_unmet(text, "810", guide_of(acme)) == []


def test_850_carries_po1_product_ids_and_the_bill_number(directory: PartnerDirectory) -> None:
    bolt = directory.get("bolt-fasteners")
    doc = purchase_order(
        bill_number="BF-48213", seller=Party(name="Bolt Fasteners Inc."),
        lines=(Line(line_number=1, description="Hex nut M8 (HN-M8)", sku="HN-M8", quantity=Decimal("2"),
                    unit_price=Decimal("30.00"), amount=Decimal("60.00")),
               Line(line_number=2, description="Freight and handling", quantity=Decimal("1"),
                    unit_price=Decimal("20.00"), amount=Decimal("20.00"))))
    text = _render(follow_guide(doc, bolt.guide), guide_of(bolt))
    assert _segments(text, "REF") == [("IV", "BF-48213")]
    assert [s[5:7] for s in _segments(text, "PO1")] == [("VP", "HN-M8"), ("VP", "FREIGHT")]
    assert {s[0]: s for s in _segments(text, "N1")}["SE"][2:] == ("92", "BOLT-0815")
    assert _set_unmet(text, "850", guide_of(bolt)) == []


def test_a_document_that_cannot_meet_its_guide_is_named_with_the_element(directory: PartnerDirectory) -> None:
    acme = directory.get("acme-retail")
    # An invoice for a client the guide has no ids for, one line without a SKU.
    doc = follow_guide(invoice(bill_to=Party(name="Someone Else"),
                               lines=(*invoice().lines[:1], invoice().lines[1].model_copy(update={"sku": ""}))),
                       acme.guide)
    text = _render(doc, guide_of(acme))
    problems = _set_unmet(text, "810", guide_of(acme))
    assert any("810:N1*BT:N104" in p and "N104 is empty" in p for p in problems)
    assert any("810:N1*ST:N104" in p and "no N1*ST segment" in p for p in problems)
    assert any("810:IT1:IT107" in p for p in problems) and sum("IT1:IT107" in p for p in problems) == 1


def test_guide_requirement_text_is_checked() -> None:
    assert str(Requirement.parse("820:REF*CK:REF02")) == "820:REF*CK:REF02"
    with pytest.raises(ValueError, match="expected <set>"):
        Requirement.parse("810:N1*ST:REF02")
    with pytest.raises(ValueError, match="product_id_qualifier"):
        Guide(product_id_qualifier="XX")


def _credit_memo() -> object:
    """Invoice 0000412 as FreshBooks holds a credit memo: every amount negative."""
    base = invoice()
    lines = tuple(line.model_copy(update={
        "quantity": -line.quantity, "amount": -line.amount,
        "taxes": tuple(Tax(name=t.name, percent=t.percent, amount=-t.amount) for t in line.taxes)})
        for line in base.lines)
    return invoice(is_credit_memo=True, lines=lines, discount_amount=-base.discount_amount,
                   tax_total=-base.tax_total, total=-base.total)


def test_credit_memo_cr_with_positive_amounts() -> None:
    text = _render(_credit_memo(), Guide(credit_memo=CreditMemoConvention.CR_POSITIVE))
    assert _segments(text, "BIG")[0][6:8] == ("CR", "00")
    assert _segments(text, "TDS") == [("13950",)]
    assert [s[1] for s in _segments(text, "IT1")] == ["10", "1"]
    assert [s[1] for s in _segments(text, "TXI")] == ["9"]
    assert _segments(text, "SAC")[0][4] == "1450"


def test_credit_memo_di_with_negative_amounts() -> None:
    text = _render(_credit_memo(), Guide(credit_memo=CreditMemoConvention.DI_NEGATIVE))
    assert _segments(text, "BIG")[0][6] == "DI"
    assert _segments(text, "TDS") == [("-13950",)]
    assert [s[1] for s in _segments(text, "IT1")] == ["-10", "-1"]


def test_820_names_the_counterparty_and_the_check_number(directory: PartnerDirectory) -> None:
    acme = directory.get("acme-retail")
    doc = follow_guide(remittance(payer=Party(name="Acme Retail Stores"), check_number="CHK 000912"), acme.guide)
    text = _render(doc, guide_of(acme))
    assert {s[0]: s for s in _segments(text, "N1")}["PR"][2:] == ("92", "ACME0001")
    assert _segments(text, "REF") == [("CK", "CHK 000912")]
    assert _set_unmet(text, "820", guide_of(acme)) == []


def test_820_reversal_reads_as_a_reversal() -> None:
    text = _render(remittance(purpose=Purpose.CANCEL, trace_number="7720R1", corrects_trace="7720"), Guide())
    assert _segments(text, "BPR")[0][:3] == ("I", "39.5", "D")
    assert _segments(text, "TRN") == [("1", "7720R1")]
    assert _segments(text, "REF") == [("TN", "7720")]
    assert [s[3] for s in _segments(text, "RMR")] == ["-39.5"]


def test_what_the_sandbox_partners_receive_meets_their_guides(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 8, "invoices": 60, "days": 3})
    today = env.freshbooks.now().date()
    assert env.sync(today - dt.timedelta(days=3), today, dagster_instance).success
    seen: dict[str, set[str]] = {}
    for partner in env.partners.partners:
        for content in env.cleo.files_in(partner.cleo.outbound).values():
            text = content.decode()
            assert validate_interchange(text, charset=partner.charset) == []
            assert unmet_in_interchange(text, guide_of(partner)) == [], partner.id  # the standard, then the guide
            seen.setdefault(partner.id, set()).update(s.tag for s in tokenize(text).segments)
    acme_810s = [c.decode() for n, c in env.cleo.files_in(env.partners.get("acme-retail").cleo.outbound).items()
                 if "810" in n]
    assert acme_810s
    for text in acme_810s:  # the retailer's 810: its ids for the bill-to and the store, its product ids
        n1 = {s[0]: s for s in _segments(text, "N1")}
        assert n1["BT"][2:] == ("92", "ACME0001") and n1["ST"][2:] == ("92", "STORE0042")
        assert all(s[5] == "VN" and s[6] for s in _segments(text, "IT1"))
    bolt_850s = [c.decode() for n, c in env.cleo.files_in(env.partners.get("bolt-fasteners").cleo.outbound).items()
                 if "850" in n]
    assert bolt_850s
    for text in bolt_850s:  # the supplier's 850: product ids on every line and the bill number
        assert all(s[5] == "VP" and s[6] for s in _segments(text, "PO1"))
        assert [r for r in _segments(text, "REF") if r[0] == "IV"]
    with env.ledger.begin() as conn:
        assert quarantine.entries(conn, stage="review") == []


def test_a_document_that_cannot_meet_its_guide_is_held_back_and_named(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    env = sandbox_env(freshbooks={"seed": 8, "invoices": 40, "days": 2})
    raw = yaml.safe_load(env.settings.resolved_partners_file().read_text(encoding="utf-8"))
    for partner in raw["partners"]:
        if partner["id"] == "acme-retail":
            partner["guide"]["ship_to"] = {}  # the guide still demands the store number; nothing provides it
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    env = dataclasses.replace(env, settings=env.settings.model_copy(update={"partners_file": path}),
                              partners=load_partners(path))
    today = env.freshbooks.now().date()
    assert env.sync(today - dt.timedelta(days=2), today, dagster_instance).success
    acme = env.partners.get("acme-retail").cleo.outbound
    assert not [n for n in env.cleo.files_in(acme) if "810" in n]  # no 810 went out without its store number
    with env.ledger.begin() as conn:
        held = [e for e in quarantine.entries(conn, stage="review", limit=1000) if e.reason_code == "guide_unmet"]
    assert held and all(e.partner_id == "acme-retail" and e.kind == "invoice" for e in held)
    assert all(e.field == "810:N1*ST:N104" and "no N1*ST segment" in e.reason for e in held)


    # The guide is fixed and a person retries the entries: the held-back invoices are rendered again and delivered.
    for partner in raw["partners"]:
        if partner["id"] == "acme-retail":
            partner["guide"]["ship_to"] = {"Acme Retail Stores": "STORE0042"}
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    env = dataclasses.replace(env, partners=load_partners(path))
    with env.ledger.begin() as conn:
        for entry in held:
            quarantine.request_retry(conn, entry.id)
    assert env.sync(today, today, dagster_instance).success
    with env.ledger.begin() as conn:
        assert [e for e in quarantine.entries(conn, stage="review") if e.reason_code == "guide_unmet"] == []
    delivered = [c.decode() for n, c in env.cleo.files_in(acme).items() if "810" in n]
    numbers = {s[1] for text in delivered for s in _segments(text, "BIG")}
    assert {e.reference for e in held} <= numbers
