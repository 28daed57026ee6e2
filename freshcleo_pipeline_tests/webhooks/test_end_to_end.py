"""Registration, the handshake and signed events end to end: the FreshBooks emulator, the real client, a real
uvicorn receiver and a real ledger, all over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect
from freshcleo_pipeline.freshbooks.webhooks import (
    SUBSCRIBED_EVENTS,
    CallbackApi,
    RegistrationReport,
    register_callbacks,
    remove_callbacks,
)
from freshcleo_pipeline.ledger import Ledger, inbox, open_ledger
from freshcleo_pipeline.ledger import callbacks as cb
from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.sandbox.freshbooks.emulator import CALLBACKS
from freshcleo_pipeline.sandbox.freshbooks.oauth import READ_SCOPES
from freshcleo_pipeline.service import BackgroundServer, build_app
from freshcleo_pipeline.settings import Settings, load_settings


@dataclass
class Setup:
    emulator: FreshBooksEmulator
    settings: Settings
    ledger: Ledger
    api: CallbackApi
    receiver_url: str

    def writes(self) -> int:
        """Callback writes the emulator has served (create, verify/resend, delete)."""
        return sum(self.emulator.requests_to(template, method) for template, method in (
            (CALLBACKS, "POST"), (CALLBACKS + "/{callback_id}", "PUT"), (CALLBACKS + "/{callback_id}", "DELETE")))

    def register(self) -> RegistrationReport:
        return register_callbacks(self.api, self.ledger, self.settings.resolved_secret_key(), self.receiver_url,
                                  wait=20)


@pytest.fixture
def setup(freshbooks_emulator: FreshBooksEmulator, tmp_path: Path) -> Iterator[Setup]:
    settings = load_settings(
        FRESHCLEO_DATA_DIR=str(tmp_path), FRESHCLEO_LEDGER_URL=f"sqlite:///{tmp_path / 'ledger.db'}",
        FRESHCLEO_SECRET_KEY=Fernet.generate_key().decode("ascii"),
        FRESHBOOKS_API_URL=freshbooks_emulator.url, FRESHBOOKS_AUTH_URL=freshbooks_emulator.url,
        # The scopes the sandbox app is registered for (webhooks need only the objects' read scopes).
        FRESHBOOKS_SCOPES=" ".join(READ_SCOPES),
        # The house budget (5/s) would make each registration of 15 callbacks take seconds.
        FRESHBOOKS_REQUESTS_PER_SECOND=200)
    ledger = open_ledger(settings.resolved_ledger_url())
    sandbox_auto_connect(settings, ledger)
    client = FreshBooksClient.from_settings(settings, ledger)
    try:
        with BackgroundServer(build_app(settings, ledger)) as server:
            yield Setup(freshbooks_emulator, settings, ledger,
                        CallbackApi(client.http, client.authenticator, client.account_id), server.url)
    finally:
        client.close()
        ledger.dispose()


def inbox_rows(ledger: Ledger) -> list[inbox.InboxRow]:
    with ledger.begin() as conn:
        return inbox.all_rows(conn)


def wait_for_rows(ledger: Ledger, count: int, timeout: float = 15.0) -> list[inbox.InboxRow]:
    deadline = time.monotonic() + timeout
    while len(rows := inbox_rows(ledger)) < count:
        assert time.monotonic() < deadline, f"{len(rows)} inbox rows, expected {count}"
        time.sleep(0.05)
    return rows


def test_register_verify_and_receive_a_signed_event(setup: Setup) -> None:
    report = setup.register()

    assert sorted(report.created) == sorted(SUBSCRIBED_EVENTS)
    assert report.unverified == []
    remote = setup.api.list()
    assert len(remote) == len(SUBSCRIBED_EVENTS) and all(c.verified for c in remote)
    with setup.ledger.begin() as conn:
        rows = cb.list_callbacks(conn, setup.api.account_id)
    assert {r.callback_id for r in rows} == {c.callback_id for c in remote}
    assert len({r.path_token for r in rows}) == len(rows)  # one receiver path per callback
    assert all(r.verified and r.has_verifier for r in rows)

    invoice_id = int(setup.emulator.create_invoice(
        customerid=setup.emulator.client_id_of("Acme Retail Stores"),
        lines=[{"name": "Widget", "qty": "2", "unit_cost": {"amount": "10.00", "code": "USD"}}])["id"])
    assert setup.emulator.wait_for_webhooks()
    [created] = wait_for_rows(setup.ledger, 1)
    assert (created.event_name, created.object_id) == ("invoice.create", str(invoice_id))
    before = len(inbox_rows(setup.ledger))
    setup.emulator.update_invoice(invoice_id, notes="changed by the end-to-end test")
    assert setup.emulator.wait_for_webhooks()

    rows_after = wait_for_rows(setup.ledger, before + 1)
    new = rows_after[before]
    assert (new.event_name, new.object_id, new.account_id) == (
        "invoice.update", str(invoice_id), setup.api.account_id)
    with setup.ledger.begin() as conn:
        update_cb = next(r for r in cb.list_callbacks(conn) if r.event == "invoice.update")
    assert new.callback_path == update_cb.path_token
    assert update_cb.last_event_at == new.received_at


def test_second_registration_changes_nothing(setup: Setup) -> None:
    setup.register()
    writes = setup.writes()
    with setup.ledger.begin() as conn:
        before = cb.list_callbacks(conn)

    report = setup.register()

    assert not report.changed
    assert setup.writes() == writes
    with setup.ledger.begin() as conn:
        assert cb.list_callbacks(conn) == before


def test_registration_repairs_a_callback_freshbooks_lost_and_remove_clears_both_sides(setup: Setup) -> None:
    setup.register()
    lost = next(c for c in setup.api.list() if c.event == "bill.update")
    setup.api.delete(lost.callback_id)

    report = setup.register()

    assert report.removed == ["bill.update"] and report.created == ["bill.update"]
    assert report.unverified == []
    assert len(setup.api.list()) == len(SUBSCRIBED_EVENTS)

    assert sorted(remove_callbacks(setup.api, setup.ledger)) == sorted(SUBSCRIBED_EVENTS)
    assert setup.api.list() == []
    with setup.ledger.begin() as conn:
        assert cb.list_callbacks(conn) == []


def test_cli_register_list_and_remove(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from freshcleo_pipeline.cli import main
    from freshcleo_pipeline.settings import get_settings

    for name, value in setup.settings.model_dump(by_alias=True).items():
        if value is not None:
            raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            monkeypatch.setenv(name, str(raw))
    get_settings.cache_clear()  # the CLI reads the environment set above
    runner = CliRunner()
    try:
        first = runner.invoke(main, ["webhooks", "register", "--url", setup.receiver_url, "--wait", "20"])
        assert first.exit_code == 0, first.output
        assert "created: invoice.create" in first.output
        again = runner.invoke(main, ["webhooks", "register", "--url", setup.receiver_url])
        assert again.exit_code == 0 and "nothing to change" in again.output

        listing = runner.invoke(main, ["webhooks", "list"])
        assert listing.exit_code == 0, listing.output
        lines = listing.output.strip().splitlines()
        assert len(lines) == len(SUBSCRIBED_EVENTS)
        assert all("verified; FreshBooks: verified; last event never" in line for line in lines)
        with setup.ledger.begin() as conn:
            tokens = [r.path_token for r in cb.list_callbacks(conn)]
        assert not any(token in listing.output for token in tokens)

        removed = runner.invoke(main, ["webhooks", "remove", "--event", "client.delete"])
        assert removed.exit_code == 0 and "removed: client.delete" in removed.output
        assert len(setup.api.list()) == len(SUBSCRIBED_EVENTS) - 1
    finally:
        get_settings.cache_clear()
