"""The receiver over real HTTP: verified events are stored and answered fast; everything else is refused
with its own status and nothing stored."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator

import pytest
import requests

from freshcleo_pipeline.freshbooks.webhooks import SIGNATURE_HEADER, encode_form, sign_fields
from freshcleo_pipeline.ledger import callbacks as cb
from freshcleo_pipeline.ledger import inbox
from freshcleo_pipeline_tests.webhooks.conftest import ACCOUNT, MAX_BODY, VERIFIER, Receiver

FORM = "application/x-www-form-urlencoded"


def event(object_id: str = "31008", name: str = "invoice.update", **extra: str) -> dict[str, str]:
    return {"name": name, "object_id": object_id, "account_id": ACCOUNT, "business_id": "77001",
            "identity_id": "2001", "user_id": "1", **extra}


def post(receiver: Receiver, fields: dict[str, str], *, signature: str | None = "sign", token: str | None = None,
         content_type: str = FORM, body: bytes | None = None) -> requests.Response:
    headers = {"Content-Type": content_type}
    if signature == "sign":
        signature = sign_fields(VERIFIER, fields)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    data = encode_form(fields) if body is None else body
    return requests.post(receiver.hook(token), data=data, headers=headers, timeout=10)


def stored(receiver: Receiver) -> list[inbox.InboxRow]:
    with receiver.ledger.begin() as conn:
        return inbox.all_rows(conn)


def test_verified_event_is_stored_and_answered_fast(receiver: Receiver) -> None:
    fields = event()
    started = time.perf_counter()
    response = post(receiver, fields)
    elapsed = time.perf_counter() - started

    assert response.status_code == 200, response.text
    assert elapsed < 1.0
    [row] = stored(receiver)
    assert (row.event_name, row.object_id, row.account_id, row.callback_path) == (
        "invoice.update", "31008", ACCOUNT, receiver.token)
    assert response.json() == {"inbox_id": row.id, "duplicate_of": None}
    assert abs(row.received_at - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=30)
    with receiver.ledger.begin() as conn:
        callback = cb.get_by_path(conn, receiver.token)
    assert callback is not None and callback.last_event_at == row.received_at


def test_the_same_event_delivered_again_is_recorded_as_a_duplicate(receiver: Receiver) -> None:
    first = post(receiver, event())
    second = post(receiver, event())
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate_of"] == first.json()["inbox_id"]
    with receiver.ledger.begin() as conn:
        assert [r.id for r in inbox.rows_after(conn, 0, 10)] == [first.json()["inbox_id"]]


def test_forged_signature_is_refused(receiver: Receiver) -> None:
    fields = event()
    response = post(receiver, fields, signature=sign_fields("a-guessed-verifier", fields))
    assert response.status_code == 401
    assert stored(receiver) == []


def test_replay_with_a_changed_field_is_refused(receiver: Receiver) -> None:
    genuine = event("31008")
    signature = sign_fields(VERIFIER, genuine)
    assert post(receiver, genuine, signature=signature).status_code == 200
    response = post(receiver, event("31009"), signature=signature)
    assert response.status_code == 401
    assert [r.object_id for r in stored(receiver)] == ["31008"]


def test_reordered_fields_under_the_original_signature_are_refused(receiver: Receiver) -> None:
    genuine = event()
    reordered = dict(reversed(list(genuine.items())))
    assert post(receiver, reordered, signature=sign_fields(VERIFIER, genuine)).status_code == 401
    assert stored(receiver) == []


def test_unsigned_event_is_refused(receiver: Receiver) -> None:
    response = post(receiver, event(), signature=None)
    assert response.status_code == 401
    assert "X-FreshBooks-Hmac-SHA256" in response.json()["error"]
    assert stored(receiver) == []


def test_oversized_body_is_refused(receiver: Receiver) -> None:
    fields = event(padding="x" * MAX_BODY)
    response = post(receiver, fields)
    assert response.status_code == 413
    assert stored(receiver) == []


def test_oversized_body_without_a_declared_length_is_cut_off_while_reading(receiver: Receiver) -> None:
    fields = event(padding="x" * (4 * MAX_BODY))
    body = encode_form(fields)

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to refuse up front
        for start in range(0, len(body), 512):
            yield body[start:start + 512]

    response = requests.post(receiver.hook(), data=chunks(), timeout=10,
                             headers={"Content-Type": FORM, SIGNATURE_HEADER: sign_fields(VERIFIER, fields)})
    assert response.status_code == 413
    assert stored(receiver) == []


def test_malformed_body_is_refused(receiver: Receiver) -> None:
    body = b"name=invoice.update&object_id&account_id=" + ACCOUNT.encode()
    response = post(receiver, {}, body=body, signature="AAAA")
    assert response.status_code == 400
    assert stored(receiver) == []


def test_wrong_content_type_is_refused(receiver: Receiver) -> None:
    fields = event()
    response = requests.post(receiver.hook(), json=fields, timeout=10,
                             headers={SIGNATURE_HEADER: sign_fields(VERIFIER, fields)})
    assert response.status_code == 415
    assert stored(receiver) == []


def test_unknown_path_and_foreign_account_are_refused(receiver: Receiver) -> None:
    assert post(receiver, event(), token="no-such-callback").status_code == 404
    foreign = {**event(), "account_id": "ZZZZZ"}
    assert post(receiver, foreign).status_code == 404
    assert stored(receiver) == []


def test_event_for_a_callback_without_a_confirmed_verifier_is_refused(receiver: Receiver) -> None:
    pending = cb.new_path_token()
    with receiver.ledger.begin() as conn:
        cb.add_callback(conn, path_token=pending, account_id=ACCOUNT, event="bill.create", uri="u",
                        now=dt.datetime.now(dt.UTC))
    assert post(receiver, event(name="bill.create"), token=pending).status_code == 401
    assert stored(receiver) == []


def test_refusals_log_no_secrets(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        fields = event()
        post(receiver, fields, signature=sign_fields("wrong", fields))
        post(receiver, fields)
    text = caplog.text
    assert "signature does not verify" in text
    assert VERIFIER not in text and receiver.token not in text
    assert sign_fields(VERIFIER, fields) not in text


def test_healthz(receiver: Receiver) -> None:
    response = requests.get(f"{receiver.url}/healthz", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def verify_form(callback_id: str, verifier: str) -> dict[str, str]:
    return {"user_id": "1", "name": "callback.verify", "verifier": verifier, "object_id": callback_id,
            "account_id": ACCOUNT, "system": "https://northwind.freshbooks.com"}


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def callback(receiver: Receiver, token: str) -> cb.CallbackRow:
    with receiver.ledger.begin() as conn:
        row = cb.get_by_path(conn, token)
    assert row is not None
    return row


def test_handshake_stores_the_verifier_encrypted_and_confirms_it_off_the_request(receiver: Receiver) -> None:
    pending = cb.new_path_token()
    with receiver.ledger.begin() as conn:
        cb.add_callback(conn, path_token=pending, account_id=ACCOUNT, event="bill.create", uri="u",
                        now=dt.datetime.now(dt.UTC))
        cb.set_callback_id(conn, pending, "2002")
    receiver.confirmations.accept = "fresh-verifier-2002"

    response = post(receiver, verify_form("2002", "fresh-verifier-2002"), signature=None, token=pending)

    assert response.status_code == 200
    wait_for(lambda: callback(receiver, pending).verified)
    row = callback(receiver, pending)
    assert cb.reveal_verifier(row, receiver.key) == "fresh-verifier-2002"
    assert row.verifier_enc is not None and "fresh-verifier-2002" not in row.verifier_enc
    assert receiver.confirmations.calls == [(ACCOUNT, "2002", "fresh-verifier-2002")]
    assert stored(receiver) == []
    signed = event(name="bill.create")
    ok = requests.post(receiver.hook(pending), data=encode_form(signed), timeout=10, headers={
        "Content-Type": FORM, SIGNATURE_HEADER: sign_fields("fresh-verifier-2002", signed)})
    assert ok.status_code == 200


def test_forged_handshake_cannot_replace_a_confirmed_verifier(receiver: Receiver) -> None:
    receiver.confirmations.accept = None  # FreshBooks refuses a verifier it did not issue
    response = post(receiver, verify_form("2001", "attacker-chosen"), signature=None)
    assert response.status_code == 200
    wait_for(lambda: len(receiver.confirmations.calls) == 1)
    time.sleep(0.1)
    row = callback(receiver, receiver.token)
    assert row.verified and cb.reveal_verifier(row, receiver.key) == VERIFIER


def test_handshake_for_another_callback_id_is_refused(receiver: Receiver) -> None:
    response = post(receiver, verify_form("9999", "whatever"), signature=None)
    assert response.status_code == 401
    assert receiver.confirmations.calls == []


def test_oauth_redirect_without_a_grant_is_answered_with_the_reason(receiver: Receiver) -> None:
    denied = requests.get(f"{receiver.url}/oauth/freshbooks/callback",
                          params={"error": "access_denied", "error_description": "the user said no"}, timeout=10)
    assert denied.status_code == 400 and "the user said no" in denied.text
    incomplete = requests.get(f"{receiver.url}/oauth/freshbooks/callback", params={"state": "s"}, timeout=10)
    assert incomplete.status_code == 400 and "code" in incomplete.text
