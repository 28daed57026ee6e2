"""Partners' own documents are read into data and answered once: a 997 (or 999, TA1) per group, through the
outbox, against the real loopback Cleo emulator and real Dagster runs of the inbound job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner

from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.cli import main as cli
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.ledger import outbox, partner_documents
from freshcleo_pipeline.partners import PartnerDirectory
from freshcleo_pipeline.sandbox.httpserver import FaultRule
from freshcleo_pipeline.settings import get_settings
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.inbound import poll_inbound
from freshcleo_pipeline.sync.trace import find, trace
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv


def _acks_in(env: SandboxEnv, partner_id: str, kind: str) -> dict[str, str]:
    folder = env.partners.get(partner_id).cleo.outbound
    return {name: content.decode("latin-1") for name, content in env.cleo.files_in(folder).items()
            if name.startswith(f"{partner_id}_{kind}_")}


def _all_rows(env: SandboxEnv) -> list[partner_documents.PartnerDocumentRow]:
    with env.ledger.begin() as conn:
        return partner_documents.listing(conn)


def _ok(result: Any) -> None:
    assert result.success


def test_an_inbound_850_gets_exactly_one_997_across_reruns_and_a_failed_upload(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"invoices": 1})
    env.cleo.send_partner_document("acme-retail", "850", reference="ACME-PO-1")
    # Cleo refuses the upload of our 997 in the first run (an answer, so nothing was stored): kept, not sent.
    env.cleo.faults.add(FaultRule("status", status=403, path_prefix="/api/folders/", method="POST", rate=1.0))
    _ok(env.inbound(dagster_instance))
    assert _acks_in(env, "acme-retail", "997") == {}
    with env.ledger.begin() as conn:
        (stored,) = outbox.acks_sent(conn, partner_id="acme-retail")
    assert (stored.ack_kind, stored.status, stored.state, stored.sent_at) == ("997", "A", "failed", None)

    env.cleo.faults.clear()
    _ok(env.inbound(dagster_instance))  # the re-run sends what the first one stored
    _ok(env.inbound(dagster_instance))  # and a further run sends nothing more
    (text,) = _acks_in(env, "acme-retail", "997").values()
    assert f"AK1*PO*{stored.their_gs06}~AK2*850*0001~AK5*A~AK9*A*1*1*1~" in text
    assert "*ZZ*HARBORSUPPLY   *ZZ*ACMERETAIL     *" in text
    with env.ledger.begin() as conn:
        (sent,) = outbox.acks_sent(conn, partner_id="acme-retail")
    assert sent.state == "delivered" and sent.sent_at is not None and sent.isa13 == stored.isa13

    # The partner read our 997 and did not answer it with one of its own.
    (received,) = env.cleo.acknowledgments_received
    assert (received.partner_id, received.kind, received.groups[0]["status"]) == ("acme-retail", "997", "A")
    assert not [r for r in env.cleo.ack_records if r.file_name.startswith("acme-retail_997_")]
    assert not [n for n in env.cleo.files_in("acme-retail/inbound") if n.startswith("997_")]

    # The next 997 lands in Cleo but the answer is lost: the folder is looked at, not uploaded to twice.
    env.cleo.send_partner_document("acme-retail", "850", reference="ACME-PO-2")
    env.cleo.faults.add(FaultRule("lost_response", path_prefix="/api/folders/", method="POST", remaining=1))
    _ok(env.inbound(dagster_instance))
    _ok(env.inbound(dagster_instance))
    assert len(_acks_in(env, "acme-retail", "997")) == 2 and len(env.cleo.acknowledgments_received) == 2
    with env.ledger.begin() as conn:
        assert [a.state for a in outbox.acks_sent(conn, partner_id="acme-retail")] == ["delivered", "delivered"]


def test_a_5010_partner_gets_a_999_and_syntax_errors_are_rejected_with_details(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"invoices": 1})
    env.cleo.send_partner_document("northwind-grocers", "850", broken=True)
    env.cleo.send_partner_document("acme-retail", "850", broken=True)
    _ok(env.inbound(dagster_instance))

    (text_999,) = _acks_in(env, "northwind-grocers", "999").values()
    assert "|X|005010X231A1~ST|999|0001~AK1|PO|" in text_999
    assert "AK2|850|0001~IK3|BEG|2||8~IK4|5|373|8|20261399~IK5|R|5~AK9|R|1|1|0~" in text_999
    assert _acks_in(env, "northwind-grocers", "997") == {}
    (text_997,) = _acks_in(env, "acme-retail", "997").values()
    assert "AK2*850*0001~AK3*BEG*2**8~AK4*5*373*8*20261399~AK5*R*5~AK9*R*1*1*0~" in text_997

    rows = _all_rows(env)
    assert sorted((r.partner_id, r.status) for r in rows) == [("acme-retail", "unreadable"),
                                                              ("northwind-grocers", "unreadable")]
    assert all("BEG05" in r.reason and "20261399" in r.reason for r in rows)


def test_partner_810_and_850_are_recorded_and_traced_by_their_number(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance,
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = sandbox_env(freshbooks={"invoices": 1})
    env.cleo.send_partner_document("bolt-fasteners", "810", reference="BOLT-INV-1", answers="BILL-0042")
    env.cleo.send_partner_document("acme-retail", "850", reference="ACME-PO-9")
    _ok(env.inbound(dagster_instance))

    rows = {r.reference: r for r in _all_rows(env)}
    with env.ledger.begin() as conn:
        matches = find(conn, "BOLT-INV-1")
        by_isa = find(conn, f"acme-retail:{rows['ACME-PO-9'].isa13}")
    invoice, order = rows["BOLT-INV-1"], rows["ACME-PO-9"]
    assert (invoice.partner_id, invoice.transaction_set, invoice.status, invoice.currency, invoice.total) == (
        "bolt-fasteners", "810", "read", "USD", "246.00")
    assert invoice.document_date is not None and invoice.body["po_number"] == "BILL-0042"
    assert len(invoice.body["lines"]) == 2 and invoice.body["seller"]["name"] == "BOLT-FASTENERS"
    assert (order.partner_id, order.transaction_set, order.status, order.total) == (
        "acme-retail", "850", "read", "246.00")
    assert matches == [("x12_810", "bolt-fasteners", invoice.source_id)]
    assert by_isa == [("x12_850", "acme-retail", order.source_id)]

    lines = "\n".join(trace(env.ledger, *matches[0]).lines())
    assert "810 from partner bolt-fasteners" in lines and "read: BOLT-INV-1" in lines and "USD 246.00" in lines
    assert "997 A in bolt-fasteners_997_" in lines and "997 A sent to bolt-fasteners as" in lines
    assert "received from bolt-fasteners: BOLT-INV-1" in lines

    # `freshcleo trace <their PO number>`, as an operator runs it
    monkeypatch.setenv("FRESHCLEO_DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setenv("FRESHCLEO_LEDGER_URL", env.settings.resolved_ledger_url())
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["trace", "ACME-PO-9"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "850 from partner acme-retail" in result.output and "ACME-PO-9" in result.output


def test_acknowledgment_none_sends_no_997_but_a_requested_ta1_still_goes(
        sandbox_env: Callable[..., SandboxEnv]) -> None:
    env = sandbox_env(freshbooks={"invoices": 1})
    raw = env.partners.model_dump(mode="json")
    for partner in raw["partners"]:
        if partner["id"] == "acme-retail":
            partner["acknowledgment"] = "none"
    partners = PartnerDirectory.model_validate(raw)
    assert partners.get("acme-retail").acknowledgment_kind == "none"
    env.cleo.send_partner_document("acme-retail", "850", reference="ACME-PO-2")
    env.cleo.send_partner_document("acme-retail", "850", reference="ACME-PO-3", ta1=True)
    ctx = SyncContext(settings=env.settings, ledger=env.ledger, partners=partners,
                      freshbooks=lambda: FreshBooksClient.from_settings(env.settings, env.ledger),
                      cleo=lambda: CleoClient.from_settings(env.settings))
    summary = poll_inbound(ctx)
    assert not summary.errors, summary.errors
    assert summary.partner_documents == {"850 read": 2} and summary.acks_sent == {"TA1": 1}
    assert _acks_in(env, "acme-retail", "997") == {}
    (ta1,) = _acks_in(env, "acme-retail", "TA1").values()
    assert "~TA1*800000002*" in ta1 and "*A*000~IEA*0*" in ta1
