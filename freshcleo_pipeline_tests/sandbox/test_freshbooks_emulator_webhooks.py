"""The FreshBooks emulator's webhooks: callback CRUD, verification handshake, signed event delivery.

Signatures are checked with the reference's own algorithm written out here, not with the emulator's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.sandbox.freshbooks.webhooks import signature

Tokens = Callable[..., dict[str, Any]]
VERIFIER = "scADVVi5QuKuj5qTjVkbJNYQe7V7USpGd"


def reference_signature(verifier: str, raw_body: bytes) -> str:
    """Reference §16.4, verbatim in substance."""
    fields = dict(urllib.parse.parse_qsl(raw_body.decode("utf-8"), keep_blank_values=True))
    message = json.dumps({k: str(v) for k, v in fields.items()})
    mac = hmac.new(verifier.encode("utf-8"), message.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


@pytest.mark.parametrize(("body", "expected"), [
    (b"name=invoice.create&object_id=1234567&account_id=6BApk&business_id=6543&identity_id=1234&user_id=1",
     "/S03vyYmI7CekM4YXBHUhs9o5rnMtqGLrW3aA8S9gPc="),
    (b"account_id=6BApk&name=invoice.create&object_id=1234567&business_id=6543&identity_id=1234&user_id=1",
     "A6b7yZaQFoVDU3houO1Jmm9KdE8iVBR3/h5e8DV+lbY="),
    (b"name=payment.create&object_id=7720&account_id=xK9pQ&business_id=77001&identity_id=2001&user_id=1",
     "CHANAb1PC0MWd20iPrH9lCDlUqnxUJRBJ1+z/KI18BE="),
    (b"name=client.update&object_id=5001&account_id=xK9pQ&system=https%3A%2F%2Fnorthwind.freshbooks.com"
     b"&note=Caf%C3%A9+%22A%22&user_id=1", "wUvGXNFrP+lZ0cdWgHxhqjpdtNS/NUnucl9axeYwT8U="),
])
def test_reference_vectors_reproduce(body: bytes, expected: str) -> None:
    fields = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    assert signature(VERIFIER, fields) == expected


def test_compact_json_is_not_the_signed_form() -> None:
    fields = [("name", "invoice.create"), ("object_id", "1234567"), ("account_id", "6BApk"),
              ("business_id", "6543"), ("identity_id", "1234"), ("user_id", "1")]
    assert signature(VERIFIER, fields) != "ENwe/8MKygI95fsgnoIq4e1NnxOVl/8jdAncDoXm2/k="
    digest = base64.b64decode(signature(VERIFIER, fields))
    assert digest.hex() == "fd2d37bf262623b09e90ce185c11d486cf68e6b9ccb6a18bad6dda03c4bd80f7"


class Receiver:
    """A real HTTP endpoint on loopback that records every POST (raw body and headers)."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._arrived:
                    receiver.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
                    receiver._arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/freshbooks/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10) -> list[tuple[bytes, dict[str, str]]]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count and time.monotonic() < deadline:
                self._arrived.wait(0.05)
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


class Events:
    def __init__(self, emulator: FreshBooksEmulator, access_token: str) -> None:
        self.base = f"{emulator.url}/events/account/{emulator.account_id}/events/callbacks"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"


@pytest.fixture
def events(freshbooks_emulator: FreshBooksEmulator, freshbooks_tokens: Tokens) -> Events:
    return Events(freshbooks_emulator, freshbooks_tokens(freshbooks_emulator)["access_token"])


def register(events: Events, receiver: Receiver, event: str) -> tuple[int, str]:
    """Create a callback, read the verifier the emulator POSTs, verify it; returns (callback id, verifier)."""
    before = len(receiver.received)
    created = events.session.post(events.base, json={"callback": {"event": event, "uri": receiver.url}},
                                  timeout=10)
    assert created.status_code == 200, created.text
    callback = created.json()["response"]["result"]["callback"]
    assert callback["verified"] is False
    assert "verifier" not in callback
    body, headers = receiver.wait_for(before + 1)[before]
    fields = urllib.parse.parse_qsl(body.decode())
    assert [name for name, _ in fields] == ["user_id", "name", "verifier", "object_id", "account_id", "system"]
    form = dict(fields)
    assert form["name"] == "callback.verify"
    assert form["object_id"] == str(callback["callbackid"])
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    verified = events.session.put(f"{events.base}/{callback['callbackid']}",
                                  json={"callback": {"verifier": form["verifier"]}}, timeout=10)
    assert verified.json()["response"]["result"]["callback"]["verified"] is True
    return callback["callbackid"], form["verifier"]


def test_events_are_signed_form_posts_that_verify_with_the_reference(
        freshbooks_emulator: FreshBooksEmulator, events: Events, receiver: Receiver) -> None:
    _, verifier = register(events, receiver, "invoice.create")
    seen = len(receiver.received)
    made = freshbooks_emulator.create_invoice(customerid=freshbooks_emulator.client_id_of("Acme Retail Stores"))
    body, headers = receiver.wait_for(seen + 1)[seen]
    fields = urllib.parse.parse_qsl(body.decode())
    assert fields == [("name", "invoice.create"), ("object_id", str(made["id"])),
                      ("account_id", freshbooks_emulator.account_id),
                      ("business_id", str(freshbooks_emulator.business_id)),
                      ("identity_id", str(freshbooks_emulator.identity_id)), ("user_id", "1")]
    assert headers["x-freshbooks-hmac-sha256"] == reference_signature(verifier, body)
    assert headers["x-freshbooks-hmac-sha256"] != reference_signature(verifier + "x", body)


def test_parent_subscriptions_unverified_callbacks_and_bill_payments(
        freshbooks_emulator: FreshBooksEmulator, events: Events, receiver: Receiver) -> None:
    register(events, receiver, "payment")
    unverified = events.session.post(events.base, json={"callback": {"event": "invoice", "uri": receiver.url}},
                                     timeout=10)
    assert unverified.status_code == 200
    freshbooks_emulator.wait_for_webhooks()
    seen = len(receiver.received)
    invoice = freshbooks_emulator.create_invoice(customerid=freshbooks_emulator.client_id_of("Northwind Grocers"),
                                                 lines=[{"name": "x", "qty": 1, "unit_cost": "10"}])
    payment = freshbooks_emulator.create_payment(invoiceid=invoice["id"], amount="4")
    freshbooks_emulator.update_payment(payment["id"], note="corrected")
    freshbooks_emulator.delete_payment(payment["id"])
    bill = freshbooks_emulator.create_bill(vendorid=freshbooks_emulator.vendor_id_of("Coastal Packaging LLC"),
                                           lines=[{"description": "Wrap", "quantity": 1, "unit_cost": "9"}])
    freshbooks_emulator.create_bill_payment(billid=bill["id"], amount="9")
    assert freshbooks_emulator.wait_for_webhooks()
    names = [dict(urllib.parse.parse_qsl(body.decode()))["name"] for body, _ in receiver.received[seen:]]
    assert names == ["payment.create", "payment.update", "payment.delete"]


def test_callback_crud_and_errors(events: Events, receiver: Receiver, freshbooks_emulator: FreshBooksEmulator,
                                  freshbooks_tokens: Tokens) -> None:
    ident, _ = register(events, receiver, "invoice.update")
    wrong = events.session.put(f"{events.base}/{ident}", json={"callback": {"verifier": "nope"}}, timeout=10)
    assert wrong.status_code == 422
    assert set(wrong.json()) == {"errno", "message", "details"}
    bad = events.session.post(events.base, json={"callback": {"event": "invoice.explode", "uri": "not a url"}},
                              timeout=10)
    assert bad.status_code == 422
    assert "event: Value error, Unrecognized event." in bad.json()["details"]
    listed = events.session.get(events.base, params={"search[event]": "invoice.update"}, timeout=10).json()
    assert [c["callbackid"] for c in listed["response"]["result"]["callbacks"]] == [ident]
    seen = len(receiver.received)
    resent = events.session.put(f"{events.base}/{ident}", json={"callback": {"resend": True}}, timeout=10)
    assert resent.status_code == 200
    assert dict(urllib.parse.parse_qsl(receiver.wait_for(seen + 1)[seen][0].decode()))["name"] == "callback.verify"
    assert events.session.delete(f"{events.base}/{ident}", timeout=10).status_code == 204
    gone = events.session.get(f"{events.base}/{ident}", timeout=10)
    assert gone.status_code == 404
    assert gone.json() == {"errno": 404, "message": "Requested resource could not be found."}
    anonymous = requests.get(events.base, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["errno"] == 401
    narrow = freshbooks_tokens(freshbooks_emulator, scope="user:profile:read user:bills:read")["access_token"]
    denied = requests.post(events.base, json={"callback": {"event": "invoice.create", "uri": receiver.url}},
                           headers={"Authorization": f"Bearer {narrow}"}, timeout=10)
    assert denied.status_code == 403


def test_delivery_waits_for_the_configured_delay(freshbooks_emulator_factory: Callable[..., FreshBooksEmulator],
                                                 freshbooks_tokens: Tokens, receiver: Receiver) -> None:
    emulator = freshbooks_emulator_factory(webhook_delay=0.8)
    events = Events(emulator, freshbooks_tokens(emulator)["access_token"])
    register(events, receiver, "client")
    seen = len(receiver.received)
    started = time.monotonic()
    emulator.update("clients", emulator.client_id_of("Blue Heron Cafe"), {"note": "Deliver before 9am"})
    receiver.wait_for(seen + 1)
    assert time.monotonic() - started >= 0.75
    assert dict(urllib.parse.parse_qsl(receiver.received[seen][0].decode()))["name"] == "client.update"
    # The emulator records the answer's status once the receiver's response is back, just after it arrives.
    deadline = time.monotonic() + 5
    while True:
        deliveries = requests.get(f"{emulator.url}/_sandbox/freshbooks/webhooks", timeout=10).json()["deliveries"]
        if deliveries[-1]["status"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert deliveries[-1]["status"] == 200
    assert all("verifier" not in d for d in deliveries)
