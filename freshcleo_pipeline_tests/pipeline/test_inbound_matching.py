"""Partners' documents matched end to end, and the only writes to FreshBooks, opt-in and exactly once.

Real loopback emulators: the Cleo emulator's supplier answers each 850 we deliver with an 810 (matching, a price
off, a line short, or none, as seeded), its customers send 850s about our invoices (answered and not) and an 820,
and its supplier one invoice nothing of ours answers. Real Dagster runs of the sync and inbound jobs.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from freshcleo_pipeline.cli import main as cli
from freshcleo_pipeline.defs.runner import check_results
from freshcleo_pipeline.ledger import audit, freshbooks_writes, partner_documents
from freshcleo_pipeline.ledger import partner_matches as ledger_matches
from freshcleo_pipeline.ledger.partner_matches import MatchRow
from freshcleo_pipeline.sandbox.faults import FaultRule
from freshcleo_pipeline.sandbox.freshbooks.store import Query
from freshcleo_pipeline.sandbox.launcher import partner_invoices
from freshcleo_pipeline.settings import Settings, get_settings
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv


def _partners_file(tmp_path: Path, env_settings: Settings, changes: dict[str, dict[str, Any]]) -> Path:
    raw = yaml.safe_load(env_settings.resolved_partners_file().read_text())
    for partner in raw["partners"]:
        partner.update(changes.get(partner["id"], {}))
    path = tmp_path / "partners-opt-in.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _run_day_and_inbound(env: SandboxEnv, instance: dg.DagsterInstance) -> list[tuple[str, bool]]:
    today = dt.datetime.now(dt.UTC).date()
    assert env.sync(today - dt.timedelta(days=15), today, instance).success
    env.cleo.pickup_due()
    result = env.inbound(instance)
    assert result.success
    return check_results(result)


def _seed(env: SandboxEnv) -> list[Any]:
    return env.cleo.seed_partner_traffic(partner_invoices(env.freshbooks, env.cleo), seed=7,
                                         when=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))


def _matches(env: SandboxEnv) -> dict[tuple[str, str, str], MatchRow]:
    with env.ledger.begin() as conn:
        rows = ledger_matches.listing(conn, limit=10_000)
    return {(r.partner_id, r.transaction_set, r.reference): r for r in rows}


def test_partner_documents_match_as_seeded_and_nothing_is_written_by_default(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(cleo={"supplier_answers": True, "pickup_delay": 0})
    seeded = _seed(env)
    # Cleo picks our uploads up at once and the supplier answers at receipt: one inbound poll reads it all.
    checks = _run_day_and_inbound(env, dagster_instance)
    matches = _matches(env)

    answers = [a for a in env.cleo.supplier_answers_made() if a.variant != "none"]
    assert {a.variant for a in answers} >= {"match", "price"}, "the seed should give both kinds of answer"
    for answer in answers:
        row = matches[(answer.partner_id, "810", answer.invoice_number)]
        assert row.our_reference == answer.po_number
        if answer.variant == "match":
            assert (row.status, row.differences) == ("matched", []), row
        else:
            assert row.status == "mismatched", row
            fields = {d["field"] for d in row.differences}
            if answer.variant == "price":
                assert any(f.endswith(".unit_price") for f in fields), fields
            else:
                assert any(f.startswith("lines[") for f in fields), fields
        assert row.our_isa13 is not None and row.freshbooks_id == answer.po_number

    by_purpose = Counter(s.purpose for s in seeded)
    statuses = Counter((r.transaction_set, r.status) for r in matches.values()
                       if r.transaction_set in ("850", "820") or r.status == "unmatched")
    assert statuses[("850", "answered")] == by_purpose["answered_order"]
    assert statuses[("850", "unanswered")] == by_purpose["unanswered_order"]
    assert statuses[("820", "reported")] == by_purpose["remittance"]
    assert statuses[("810", "unmatched")] == by_purpose["unsolicited_invoice"]
    for remittance in (s for s in seeded if s.purpose == "remittance"):
        row = matches[(remittance.partner_id, "820", remittance.reference)]
        items = row.detail["items"]
        assert len(items) == 2 and all(i["found"] for i in items)
        # The seeded remittance pays one invoice in part, which FreshBooks does not show as paid yet.
        assert any(i["not_yet_paid_in_freshbooks"] for i in items)

    # Read-only by default: the opt-in writes are not even attempted, and FreshBooks saw no write at all.
    assert sum(env.freshbooks.api_writes().values()) == 0
    with env.ledger.begin() as conn:
        assert freshbooks_writes.listing(conn) == []

    # The check fails on the run that found mismatches, and passes on the next, which finds nothing new.
    assert ("no_new_mismatches", False) in checks
    again = env.inbound(dagster_instance)
    assert ("no_new_mismatches", True) in check_results(again)
    # Open results are checked again; nothing changed, so none counts as new.
    assert {k: (r.status, r.differences, r.changed_run_id) for k, r in _matches(env).items()} == {
        k: (r.status, r.differences, r.changed_run_id) for k, r in matches.items()}

    # Both trails name the match: the supplier's 810 and the FreshBooks bill it came from.
    answer = next(a for a in answers if a.variant == "price")
    row = matches[(answer.partner_id, "810", answer.invoice_number)]
    with env.ledger.begin() as conn:
        (document,) = [d for d in partner_documents.listing(conn, answer.partner_id)
                       if d.reference == answer.invoice_number]
        theirs = audit.trail(conn, kind=partner_documents.trail_kind("810"), account_id=answer.partner_id,
                             source_id=document.source_id)
        bill = [e for e in audit.trail(conn, kind="bill", account_id=env.freshbooks.account_id,
                                       source_id=answer.po_number) if e.event.startswith("partner_810")]
    assert "match_mismatched" in [e.event for e in theirs]
    assert bill and bill[-1].detail["their_reference"] == answer.invoice_number


def test_opted_in_writes_happen_once_across_reruns_and_never_echo_back(
        tmp_path: Path, sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    probe = sandbox_env()
    partners = _partners_file(tmp_path, probe.settings, {
        "bolt-fasteners": {"create_bills": True}, "acme-retail": {"orders_become": "estimate"}})
    env = sandbox_env(cleo={"supplier_answers": True, "pickup_delay": 0}, settings={
        "FRESHCLEO_PARTNERS_FILE": str(partners), "FRESHCLEO_FRESHBOOKS_READ_ONLY": "false"})
    seeded = _seed(env)
    _run_day_and_inbound(env, dagster_instance)
    _run_day_and_inbound(env, dagster_instance)  # a re-run and a backfill of the same days
    assert env.inbound(dagster_instance).success

    unsolicited = [s for s in seeded if s.purpose == "unsolicited_invoice" and s.partner_id == "bolt-fasteners"]
    unanswered_acme = [s for s in seeded if s.purpose == "unanswered_order" and s.partner_id == "acme-retail"]
    assert unsolicited and unanswered_acme
    writes = env.freshbooks.api_writes()
    assert writes == Counter({"bills": len(unsolicited), "estimates": len(unanswered_acme)}), writes
    bills = {b["bill_number"]: b for b in (env.freshbooks.get("bills", i) for i in _ids(env, "bill")) if b}
    for invoice in unsolicited:
        bill = bills[invoice.reference]
        assert str(bill["vendorid"]) == str(env.freshbooks.vendor_id_of("Bolt Fasteners Inc."))
        row = _matches(env)[("bolt-fasteners", "810", invoice.reference)]
        assert (row.status, row.freshbooks_kind, row.freshbooks_id) == ("unmatched", "bill", str(bill["id"]))
        assert row.detail["freshbooks_write"]["state"] == "created"
        # The bill is ours: synced back from FreshBooks, it is never sent to the supplier as an 850.
        assert not [k for k in env.outbound_sets() if k[1] == "850" and k[2] == str(bill["id"])]
        with env.ledger.begin() as conn:
            events = [e.event for e in audit.trail(conn, kind="bill", account_id=env.freshbooks.account_id,
                                                   source_id=str(bill["id"]))]
        assert "created_by_freshcleo" in events and "from_partner" in events, events
    # The partners send the same documents again under new control numbers: nothing is created twice.
    env.cleo.send_partner_document("acme-retail", "850", reference=unanswered_acme[0].reference)
    env.cleo.send_partner_document("bolt-fasteners", "810", reference=unsolicited[0].reference,
                                   answers=unsolicited[0].refers_to[0])
    assert env.inbound(dagster_instance).success
    assert env.freshbooks.api_writes() == writes
    with env.ledger.begin() as conn:
        again = [r for r in ledger_matches.listing(conn) if r.reference in
                 (unanswered_acme[0].reference, unsolicited[0].reference)]
    assert len(again) == 4 and sorted(r.detail["freshbooks_write"]["state"] for r in again) == [
        "created", "created", "skipped", "skipped"], [r.detail for r in again]
    others = [r for k, r in _matches(env).items() if k[0] not in ("bolt-fasteners", "acme-retail")]
    assert others and not [r for r in others if "freshbooks_write" in r.detail], \
        "a partner that did not opt in gets nothing written, not even an attempt"


def _ids(env: SandboxEnv, kind: str) -> list[int]:
    with env.ledger.begin() as conn:
        return [int(w.freshbooks_id) for w in freshbooks_writes.listing(conn, state=freshbooks_writes.CREATED)
                if w.kind == kind and w.freshbooks_id]


def test_a_bill_whose_answer_is_lost_is_found_not_created_twice_and_an_issued_draft_carries_the_po(
        tmp_path: Path, sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    probe = sandbox_env()
    partners = _partners_file(tmp_path, probe.settings, {
        "bolt-fasteners": {"create_bills": True}, "northwind-grocers": {"orders_become": "draft_invoice"}})
    env = sandbox_env(cleo={"supplier_answers": True, "pickup_delay": 0}, settings={
        "FRESHCLEO_PARTNERS_FILE": str(partners), "FRESHCLEO_FRESHBOOKS_READ_ONLY": "false"})
    seeded = _seed(env)
    # FreshBooks creates the bill, and the answer never reaches us: as if the process died after sending.
    env.freshbooks.faults.add(FaultRule("lost_response", method="POST", remaining=1,
                                        path_prefix=f"/accounting/account/{env.freshbooks.account_id}/bills/"))
    _run_day_and_inbound(env, dagster_instance)
    (invoice,) = [s for s in seeded if s.purpose == "unsolicited_invoice" and s.partner_id == "bolt-fasteners"]
    row = _matches(env)[("bolt-fasteners", "810", invoice.reference)]
    assert row.detail["freshbooks_write"]["state"] == "unknown", row.detail
    assert env.freshbooks.faults.fired, "the fault must have fired for this test to mean anything"

    _run_day_and_inbound(env, dagster_instance)  # the next poll looks before it sends again
    assert env.freshbooks.api_writes()["bills"] == 1
    row = _matches(env)[("bolt-fasteners", "810", invoice.reference)]
    assert row.detail["freshbooks_write"]["state"] == "created" and row.freshbooks_id
    bill = env.freshbooks.get("bills", int(row.freshbooks_id))
    assert bill is not None and bill["bill_number"] == invoice.reference

    # The customer's unanswered order became one draft invoice; once the user issues it, its 810 names the PO.
    (order,) = [s for s in seeded if s.purpose == "unanswered_order" and s.partner_id == "northwind-grocers"]
    drafted = _matches(env)[("northwind-grocers", "850", order.reference)]
    assert (drafted.freshbooks_kind, drafted.detail["freshbooks_write"]["state"]) == ("invoice", "created")
    assert env.freshbooks.api_writes()["invoices"] == 1
    assert not [k for k in env.outbound_sets() if k[0] == "northwind-grocers" and k[1] == "810"
                and k[2] == env.freshbooks.get("invoices", int(drafted.freshbooks_id or 0))["invoice_number"]]
    env.freshbooks.update_invoice(int(drafted.freshbooks_id or 0), action_mark_as_sent=True)
    today = dt.datetime.now(dt.UTC).date()
    assert env.sync(today, today, dagster_instance).success
    issued = env.freshbooks.get("invoices", int(drafted.freshbooks_id or 0))
    assert issued is not None
    sent = [c.decode("latin-1") for c in env.outbound_files().values() if issued["invoice_number"] in
            c.decode("latin-1")]
    assert sent and f"|{issued['invoice_number']}||{order.reference}" in sent[-1], sent


def test_the_monthly_reconciliation_agrees_with_the_ledger_and_freshbooks(
        tmp_path: Path, sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance,
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = sandbox_env(cleo={"supplier_answers": True, "pickup_delay": 0})
    _seed(env)
    _run_day_and_inbound(env, dagster_instance)
    month = dt.datetime.now(dt.UTC).date().replace(day=1)
    out = tmp_path / "reports"
    for name, value in (("FRESHCLEO_DATA_DIR", str(env.settings.data_dir)),
                        ("FRESHCLEO_LEDGER_URL", env.settings.resolved_ledger_url()),
                        ("FRESHCLEO_PARTNERS_FILE", str(env.settings.resolved_partners_file()))):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["report", "reconciliation", "--month", month.strftime("%Y-%m"),
                                          "--format", "csv", "--format", "xlsx", "--out", str(out)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    stem = f"reconciliation-{month:%Y-%m}"
    assert str(out / f"{stem}.xlsx") in result.output
    summary = pd.read_csv(out / f"{stem}-summary.csv", dtype={"Transaction set": str})
    workbook = pd.read_excel(out / f"{stem}.xlsx", sheet_name="Summary", dtype={"Transaction set": str})
    pd.testing.assert_frame_equal(summary.fillna(""), workbook.fillna(""), check_dtype=False)

    # FreshBooks' side, read from the emulator itself: the partners' invoices of the month, neither drafts nor
    # deleted, by client organization.
    expected: dict[str, tuple[int, Decimal]] = {}
    for partner in env.partners.partners:
        if partner.role.value != "customer":
            continue
        count, money = 0, Decimal(0)
        for organization in partner.match.organizations:
            client = env.freshbooks.client_id_of(organization)
            query = Query(vis=frozenset({0, 2}), predicates=(("customerid", "in", (str(client),)),))
            for position in env.freshbooks.store.select("invoices", query):
                invoice = env.freshbooks.store.render("invoices", position, frozenset())
                if invoice["status"] != 1 and invoice["create_date"].startswith(f"{month:%Y-%m}"):
                    count, money = count + 1, money + Decimal(invoice["amount"]["amount"])
        expected[partner.id] = (count, money)
    rows = summary[summary["Transaction set"] == "810"]
    found = {p: (int(g["FreshBooks documents"].sum()), Decimal(str(round(g["FreshBooks amount"].sum(), 2))))
             for p, g in rows[rows["Direction"] == "outbound"].groupby("Partner")}
    assert found == {p: v for p, v in expected.items() if v[0]}, (found, expected)

    # The ledger's side: every one of them was delivered, and the inbound counts are the match results'.
    sent = rows[rows["Direction"] == "outbound"]
    assert (sent["EDI sent"] == sent["FreshBooks documents"]).all()
    inbound = summary[summary["Direction"] == "inbound"]
    with env.ledger.begin() as conn:
        results = Counter((p, t) for p, t, _s, n in ledger_matches.counts(conn) for _ in range(n))
    for (partner_id, transaction_set), count in results.items():
        row = inbound[(inbound["Partner"] == partner_id) & (inbound["Transaction set"] == transaction_set)]
        assert int(row["Received"].sum()) == count, (partner_id, transaction_set)
