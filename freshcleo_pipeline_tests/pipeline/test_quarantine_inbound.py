"""Inbound never blocks itself and drops nothing without a reason: every file a partner leaves in its Cleo inbound
folder is applied, or set aside in quarantine with a reason code, against the real loopback Cleo emulator."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
import yaml
from sqlalchemy import select

from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.ledger import quarantine
from freshcleo_pipeline.ledger.schema import inbound_files, outbox
from freshcleo_pipeline.partners import PartnerDirectory, parse_partners
from freshcleo_pipeline.sandbox.httpserver import FaultRule
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.inbound import InboundSummary, poll_inbound
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

INBOUND, ARCHIVE = "acme-retail/inbound", "acme-retail/archive"
CONTENT = "/api/files/{file_id}/content"
MB = 1024 * 1024


def _context(env: SandboxEnv, *, partners: PartnerDirectory | None = None, **settings: Any) -> SyncContext:
    return SyncContext(settings=env.settings.model_copy(update=settings), ledger=env.ledger,
                       partners=partners or env.partners,
                       freshbooks=lambda: FreshBooksClient.from_settings(env.settings, env.ledger),
                       cleo=lambda: CleoClient.from_settings(env.settings))


def _poll(env: SandboxEnv, **kwargs: Any) -> InboundSummary:
    summary = poll_inbound(_context(env, **kwargs))
    assert not summary.errors, summary.errors
    return summary


def _delivered(env: SandboxEnv, dagster_instance: dg.DagsterInstance) -> dict[str, Any]:
    """Sync two days with the partners silent; one 810 delivered to acme-retail, waiting for its 997."""
    today = env.freshbooks.now().date()
    assert env.sync(today - dt.timedelta(days=1), today, dagster_instance).success
    with env.ledger.begin() as conn:
        row = conn.execute(select(outbox).where(outbox.c.partner_id == "acme-retail", outbox.c.state == "delivered",
                                                outbox.c.transaction_set == "810").limit(1)).mappings().one()
    assert row["ack_state"] in ("none", "waiting"), row["ack_state"]
    return dict(row)


def _ack_state(env: SandboxEnv, outbox_id: int) -> str:
    with env.ledger.begin() as conn:
        return str(conn.execute(select(outbox.c.ack_state).where(outbox.c.id == outbox_id)).scalar_one())


def _997(gs06: int, st02: str, *, sender: str = "ACMERETAIL", isa11: str = "U", bad_data: str = "",
         control: int = 501) -> str:
    """A 997 from acme-retail acknowledging our 810 in group ``gs06``; with ``bad_data`` it rejects it with an
    AK4 quoting that text."""
    isa = (f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*HARBORSUPPLY   *260302*1404*{isa11}*00401*"
           f"{control:09d}*0*T*>~")
    body = [f"AK1*IN*{gs06}", f"AK2*810*{st02}"]
    if bad_data:
        body += ["AK3*N1*2**8", f"AK4*2**7*{bad_data}", "AK5*R*5", "AK9*R*1*1*0"]
    else:
        body += ["AK5*A", "AK9*A*1*1*1"]
    segments = ["ST*997*0001", *body, f"SE*{len(body) + 2}*0001"]
    return (isa + f"GS*FA*{sender}*HARBORSUPPLY*20260302*1404*{control}*X*004010~" + "~".join(segments)
            + f"~GE*1*{control}~IEA*1*{control:09d}~")


def _put(env: SandboxEnv, folder: str, name: str, content: bytes) -> None:
    """Into the folder through the emulator's control API, as a partner's translator would leave it."""
    answer = requests.post(f"{env.cleo.url}/_sandbox/files", params={"folder": folder, "name": name},
                           data=content, timeout=60)
    assert answer.status_code == 201, answer.text


def _entries(env: SandboxEnv, **filters: Any) -> list[quarantine.Entry]:
    with env.ledger.begin() as conn:
        return quarantine.entries(conn, states=quarantine.STATES, stage="inbound", **filters)


def _raw(env: SandboxEnv, entry: quarantine.Entry) -> bytes | None:
    with env.ledger.begin() as conn:
        return quarantine.raw_of(conn, entry.id)


# ---- the archive never blocks the folder ----

def test_name_already_in_the_archive_keeps_both_and_the_run_goes_on(sandbox_env: Callable[..., SandboxEnv]) -> None:
    env = sandbox_env(freshbooks={"invoices": 1}, cleo={"acks": False})
    env.cleo.put_file(ARCHIVE, "997_ACME.x12", b"an older 997 the partner sent under this name")
    ack = _997(7001, "0001").encode()
    _put(env, INBOUND, "997_ACME.x12", ack)
    summary = _poll(env)
    assert summary.files["997"] == 1 and summary.unmatched_acks == 1
    archive = env.cleo.files_in(ARCHIVE)
    renamed = f"997_ACME.{hashlib.sha256(ack).hexdigest()[:12]}.x12"
    assert archive == {"997_ACME.x12": b"an older 997 the partner sent under this name", renamed: ack}
    assert env.cleo.files_in(INBOUND) == {}
    assert env.cleo.requests_to("/api/files/{file_id}/move", "POST", 409) == 1


def test_a_file_sent_again_with_the_same_bytes_is_archived_once_and_not_applied_twice(
        sandbox_env: Callable[..., SandboxEnv]) -> None:
    env = sandbox_env(freshbooks={"invoices": 1}, cleo={"acks": False})
    ack = _997(7002, "0001").encode()
    _put(env, INBOUND, "997_ACME.x12", ack)
    assert _poll(env).files["997"] == 1
    _put(env, INBOUND, "997_ACME.x12", ack)  # the partner re-sends the same file
    second = _poll(env)
    assert second.quarantined == {} and second.unmatched_acks == 0  # recorded before: not applied again
    assert env.cleo.files_in(INBOUND) == {} and env.cleo.files_in(ARCHIVE) == {"997_ACME.x12": ack}
    assert _poll(env).files == {}  # nothing left to take
    with env.ledger.begin() as conn:
        rows = conn.execute(select(inbound_files.c.state, inbound_files.c.sha256)).all()
    assert rows == [("archived", hashlib.sha256(ack).hexdigest())]


# ---- what partners' translators really write is read ----

def test_a_997_that_is_not_utf8_is_recorded_and_applied_once(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    sent = _delivered(env, dagster_instance)
    # ISA11 = 0xFF and a Latin-1 "Müller" in AK404: not UTF-8 at all.
    ack = _997(sent["gs06"], sent["st02"], isa11="\xff", bad_data="M\xfcller").encode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        ack.decode("utf-8")
    _put(env, INBOUND, "997_latin1.x12", ack)
    summary = _poll(env)
    assert summary.acks == {"rejected": 1} and _ack_state(env, sent["id"]) == "rejected"
    _poll(env)
    assert env.cleo.requests_to(CONTENT, "GET") == 1  # not downloaded again on the next poll
    with env.ledger.begin() as conn:
        row = conn.execute(select(inbound_files)).mappings().one()
    assert row["size"] == len(ack) and row["sha256"] == hashlib.sha256(ack).hexdigest()
    assert row["content"].encode("latin-1") == ack  # the bytes as received, recoverable from the ledger
    assert row["state"] == "archived" and "characters outside the character set" in row["parsed"]


def test_a_lower_case_997_is_applied(sandbox_env: Callable[..., SandboxEnv],
                                     dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    sent = _delivered(env, dagster_instance)
    _put(env, INBOUND, "997_lower.x12", _997(sent["gs06"], sent["st02"]).lower().encode())
    assert _poll(env).acks == {"accepted": 1}
    assert _ack_state(env, sent["id"]) == "accepted" and _entries(env) == []


def test_a_bom_prefixed_997_with_line_breaks_is_applied(sandbox_env: Callable[..., SandboxEnv],
                                                        dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    sent = _delivered(env, dagster_instance)
    text = _997(sent["gs06"], sent["st02"]).replace("~", "~\r\n")
    _put(env, INBOUND, "997_bom.x12", b"\xef\xbb\xbf" + text.encode())
    assert _poll(env).acks == {"accepted": 1}
    assert _ack_state(env, sent["id"]) == "accepted" and _entries(env) == []


# ---- what cannot be read is set aside with its reason and its bytes ----

def test_an_empty_file_is_quarantined_with_its_reason_and_archived(sandbox_env: Callable[..., SandboxEnv]) -> None:
    env = sandbox_env(freshbooks={"invoices": 1}, cleo={"acks": False})
    _put(env, INBOUND, "997_empty.x12", b"")
    summary = _poll(env)
    assert summary.quarantined == {"empty": 1} and summary.files == {}
    (entry,) = _entries(env)
    assert (entry.reason_code, entry.state, entry.partner_id, entry.reference, entry.item_key) == (
        "empty", "open", "acme-retail", "997_empty.x12", "cleo:acme-retail/inbound/997_empty.x12")
    assert entry.raw_size == 0 and entry.digest == hashlib.sha256(b"").hexdigest()
    assert env.cleo.files_in(INBOUND) == {} and env.cleo.files_in(ARCHIVE) == {"997_empty.x12": b""}
    with env.ledger.begin() as conn:
        assert conn.execute(select(inbound_files)).all() == []  # not recorded as an applied "unknown" file


def test_a_file_that_is_not_x12_is_quarantined_with_its_bytes(sandbox_env: Callable[..., SandboxEnv]) -> None:
    env = sandbox_env(freshbooks={"invoices": 1}, cleo={"acks": False})
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"
    _put(env, INBOUND, "invoice.pdf", pdf)
    assert _poll(env).quarantined == {"not_x12": 1}
    (entry,) = _entries(env)
    assert entry.reason_code == "not_x12" and "%PDF-1.4" in entry.reason and _raw(env, entry) == pdf
    assert env.cleo.files_in(INBOUND) == {} and list(env.cleo.files_in(ARCHIVE)) == ["invoice.pdf"]
    with env.ledger.begin() as conn:
        assert conn.execute(select(inbound_files)).all() == []


def test_binary_bytes_in_an_interchange_are_quarantined_as_undecodable(
        sandbox_env: Callable[..., SandboxEnv]) -> None:
    env = sandbox_env(freshbooks={"invoices": 1}, cleo={"acks": False})
    broken = _997(7003, "0001").encode().replace(b"AK5*A", b"AK5*\x00\x01\x02")
    _put(env, INBOUND, "997_binary.x12", broken)
    assert _poll(env).quarantined == {"undecodable": 1}
    (entry,) = _entries(env)
    assert entry.reason_code == "undecodable" and _raw(env, entry) == broken


def test_a_997_from_another_sender_is_quarantined_as_unknown_partner(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    sent = _delivered(env, dagster_instance)
    _put(env, INBOUND, "997_foreign.x12", _997(sent["gs06"], sent["st02"], sender="BOLTFAST").encode())
    assert _poll(env).quarantined == {"unknown_partner": 1}
    (entry,) = _entries(env)
    assert "ZZ:BOLTFAST" in entry.reason and "acme-retail" in entry.reason
    assert _ack_state(env, sent["id"]) != "accepted"


def test_a_file_over_the_size_cap_is_never_downloaded_and_waits_for_a_retry(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    sent = _delivered(env, dagster_instance)
    ack = _997(sent["gs06"], sent["st02"]).encode()
    padded = ack + b"\r\n" * 1500  # line breaks after the IEA: still the same 997, now over 2 KiB
    _put(env, INBOUND, "997_big.x12", padded)
    assert _poll(env, inbound_max_file_bytes=2048).quarantined == {"over_size_cap": 1}
    assert _poll(env, inbound_max_file_bytes=2048).quarantined == {}  # skipped while a person decides
    (entry,) = _entries(env)
    assert (entry.reason_code, entry.digest, entry.raw_size, entry.occurrences) == (
        "over_size_cap", f"size:{len(padded)}", len(padded), 1)
    assert env.cleo.requests_to(CONTENT, "GET") == 0 and list(env.cleo.files_in(INBOUND)) == ["997_big.x12"]

    # A person raises the cap and asks for a retry: the next poll takes the file and closes the entry.
    with env.ledger.begin() as conn:
        quarantine.request_retry(conn, entry.id)
    summary = _poll(env, inbound_max_file_bytes=4096)
    assert summary.acks == {"accepted": 1} and _ack_state(env, sent["id"]) == "accepted"
    (after,) = _entries(env)
    assert after.state == "resolved" and env.cleo.files_in(INBOUND) == {}


def test_a_quarantined_file_set_to_retrying_is_processed_from_its_bytes_and_resolved(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    sent = _delivered(env, dagster_instance)
    # The partner moved to a new ISA id before telling us: its 997 is set aside, its bytes kept, the file archived.
    _put(env, INBOUND, "997_newid.x12", _997(sent["gs06"], sent["st02"], sender="ACMEHQ").encode())
    assert _poll(env).quarantined == {"unknown_partner": 1}
    assert env.cleo.files_in(INBOUND) == {}
    (entry,) = _entries(env)

    raw = yaml.safe_load(env.settings.resolved_partners_file().read_text(encoding="utf-8"))
    for partner in raw["partners"]:
        if partner["id"] == "acme-retail":
            partner["edi"]["isa_id"] = "ACMEHQ"
    fixed = parse_partners(raw)
    with env.ledger.begin() as conn:
        quarantine.request_retry(conn, entry.id)
    summary = _poll(env, partners=fixed)
    assert summary.retried == 1 and summary.acks == {"accepted": 1}
    assert _ack_state(env, sent["id"]) == "accepted"
    (after,) = _entries(env)
    assert after.state == "resolved" and after.resolution == "processed on retry"
    with env.ledger.begin() as conn:
        assert conn.execute(select(inbound_files.c.state)).scalars().all() == ["archived"]


# ---- one partner never stops another ----

def test_one_partners_broken_folder_does_not_stop_another_partners_997(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2})  # partners answer with 997s
    today = env.freshbooks.now().date()
    assert env.sync(today - dt.timedelta(days=1), today, dagster_instance).success
    acme = env.cleo.store.folder_by_path(INBOUND)
    env.cleo.faults.add(FaultRule(kind="status", status=403, path_prefix=f"/api/folders/{acme.id}/files",
                                  method="GET", remaining=1000))
    result = env.inbound(dagster_instance)
    assert result.success
    with env.ledger.begin() as conn:
        states = conn.execute(select(outbox.c.partner_id, outbox.c.ack_state)
                              .where(outbox.c.state == "delivered")).all()
    by_partner: dict[str, set[str]] = {}
    for partner_id, state in states:
        by_partner.setdefault(partner_id, set()).add(state)
    assert by_partner["acme-retail"] <= {"none", "waiting"}  # its folder could not be read
    others = {p: s for p, s in by_partner.items() if p != "acme-retail"}
    assert others and all(s == {"accepted"} for s in others.values()), by_partner
    assert env.cleo.files_in(INBOUND)  # still there for the next poll


# ---- memory stays bounded ----

# Peak RSS comes from VmHWM: it starts afresh at exec, while ru_maxrss carries the forking test process's peak
# (which here holds the emulator and its 60 MB file).
_CHILD = """
import json, sys
from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.ledger import open_ledger
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.settings import load_settings
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.inbound import poll_inbound

settings = load_settings()
ledger = open_ledger(settings.resolved_ledger_url())
ctx = SyncContext(settings=settings, ledger=ledger, partners=load_partners(settings.resolved_partners_file()),
                  freshbooks=lambda: None, cleo=lambda: CleoClient.from_settings(settings))
summary = poll_inbound(ctx)
status = open("/proc/self/status", encoding="ascii").read().split("VmHWM:")[1]
peak_kib = int(status.split()[0])
json.dump({"quarantined": dict(summary.quarantined), "errors": summary.errors, "peak_kib": peak_kib}, sys.stdout)
"""


def test_a_60_mb_file_keeps_the_polling_process_under_400_mb(sandbox_env: Callable[..., SandboxEnv],
                                                              tmp_path: Path) -> None:
    env = sandbox_env(freshbooks={"invoices": 1}, cleo={"acks": False})
    _put(env, INBOUND, "huge.x12", b"ISA" + b"*" * (60 * MB - 3))
    child_env = {**os.environ, "FRESHCLEO_DATA_DIR": str(tmp_path / "data"),
                 "FRESHCLEO_LEDGER_URL": str(env.settings.resolved_ledger_url()), "CLEO_API_URL": env.cleo.url}
    done = subprocess.run([sys.executable, "-c", _CHILD], env=child_env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    print(f"peak RSS of the polling process: {report['peak_kib'] / 1024:.0f} MiB")
    assert report["quarantined"] == {"over_size_cap": 1} and report["errors"] == []
    assert report["peak_kib"] < 400 * 1024
    (entry,) = _entries(env)
    assert entry.raw_size == 60 * MB and _raw(env, entry) is None
    assert list(env.cleo.files_in(INBOUND)) == ["huge.x12"]


def test_a_997_of_which_nothing_can_be_applied_waits_in_quarantine_not_in_a_file_row(
        sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 30, "days": 2}, cleo={"acks": False})
    sent = _delivered(env, dagster_instance)
    # AK2 without its AK5 and no AK9: neither the set nor the group has a result, so the 997 says nothing.
    broken = _997(sent["gs06"], sent["st02"]).replace("AK5*A~AK9*A*1*1*1~", "").replace("SE*6*0001", "SE*4*0001")
    _put(env, INBOUND, "997_no_ak5.x12", broken.encode())
    summary = poll_inbound(_context(env))
    assert summary.quarantined == {"unreadable_ack": 1}
    (entry,) = _entries(env)
    assert entry.state == "open" and entry.reference == "997_no_ak5.x12" and _raw(env, entry) == broken.encode()
    assert env.cleo.files_in(INBOUND) == {} and _ack_state(env, sent["id"]) in ("none", "waiting")

    # A retry reads it again: still nothing to apply, so it is open again, seen twice, not resolved.
    with env.ledger.begin() as conn:
        quarantine.request_retry(conn, entry.id)
    poll_inbound(_context(env))
    (again,) = _entries(env)
    assert (again.id, again.state, again.occurrences) == (entry.id, "open", 2)


def test_a_retry_of_a_file_that_left_its_folder_goes_back_to_a_person(
        sandbox_env: Callable[..., SandboxEnv]) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 10, "days": 1}, cleo={"acks": False})
    _put(env, INBOUND, "997_big.x12", _997(7001, "0001").encode() + b"\r\n" * 1500)
    assert _poll(env, inbound_max_file_bytes=2048).quarantined == {"over_size_cap": 1}
    (entry,) = _entries(env)
    with env.ledger.begin() as conn:
        quarantine.request_retry(conn, entry.id)
    store = env.cleo.store
    (gone,) = store.files_in(store.folder_by_path(INBOUND))
    store.delete(gone)  # someone else removed it in Cleo before the retry ran

    _poll(env, inbound_max_file_bytes=4096)
    (after,) = _entries(env)
    assert (after.id, after.state, after.reason_code) == (entry.id, "open", "file_gone")
    assert "no longer in acme-retail/inbound" in after.reason and "over_size_cap" in after.reason
