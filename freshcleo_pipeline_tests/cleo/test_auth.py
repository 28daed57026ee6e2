"""Refused Cleo logins are remembered in the ledger: one attempt per cool-down across every client/process.

Against the loopback emulator (with its lockout on) and a real ledger; each ``CleoClient`` stands for another
process, since nothing but the ledger is shared between them. ``ledger`` is the suite's fixture (SQLite, and
PostgreSQL when a server answers).
"""

from __future__ import annotations

import datetime as dt

import pytest

from freshcleo_pipeline.cleo.auth import CleoLoginRefusedError
from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.cleo.health import cleo_checks
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.ledger.cooldowns import LedgerLoginGuard, cleo_login_guard, cleo_login_key
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.sandbox.cleo import DEFAULT_PARTNERS_FILE
from freshcleo_pipeline.settings import Settings
from freshcleo_pipeline_tests.cleo.conftest import QUICK, emulator_settings
from freshcleo_pipeline_tests.fixtures.cleo import CleoFactory

LOGIN = "/api/authentication"
WRONG = "Wrong-Passw0rd!"


def _guard(ledger: Ledger, settings: Settings, now: list[dt.datetime] | None = None) -> LedgerLoginGuard:
    guard = cleo_login_guard(ledger, settings.resolved_cleo_api_url(), settings.resolved_cleo_username(),
                             settings.cleo_login_cooldown_seconds)
    if now is not None:
        guard.clock = lambda: now[0]
    return guard


def _client(settings: Settings, guard: LedgerLoginGuard) -> CleoClient:
    return CleoClient.from_settings(settings, policy=QUICK, guard=guard)


def test_a_refused_login_cools_down_every_process_sharing_the_ledger(cleo_emulator_factory: CleoFactory,
                                                                     ledger: Ledger) -> None:
    emulator = cleo_emulator_factory(lockout=True)
    settings = emulator_settings(emulator, cleo_password=WRONG)
    now = [dt.datetime(2026, 3, 7, 12, 0, tzinfo=dt.UTC)]
    with _client(settings, _guard(ledger, settings, now)) as first:
        with pytest.raises(CleoLoginRefusedError) as refused:
            first.upload("bolt/outbound", "x.x12", b"x")
    assert emulator.requests_to(LOGIN, "POST", 401) == 1
    message = str(refused.value)
    assert "CLEO_USERNAME/CLEO_PASSWORD" in message and "freshcleo ping" in message
    assert "2026-03-07 12:15:00 UTC" in message and WRONG not in message

    # Ten more "processes" (retries, schedules, overlapping runs) inside the cool-down: no login reaches Cleo.
    for minute in range(10):
        now[0] = dt.datetime(2026, 3, 7, 12, minute, 30, tzinfo=dt.UTC)
        with _client(settings, _guard(ledger, settings, now)) as other:
            with pytest.raises(CleoLoginRefusedError) as again:
                other.list_files("bolt/inbound")
        assert "Cleo was not contacted" in str(again.value) and "12:15:00" in str(again.value)
    assert emulator.total_requests() == 1

    # After the cool-down, one attempt again; refused again, it starts a new cool-down.
    now[0] = dt.datetime(2026, 3, 7, 12, 15, 1, tzinfo=dt.UTC)
    with _client(settings, _guard(ledger, settings, now)) as later:
        with pytest.raises(CleoLoginRefusedError) as last:
            later.authenticate()
    assert emulator.requests_to(LOGIN, "POST", 401) == 2
    assert "12:30:01" in str(last.value)


def test_the_cool_down_is_per_tenant_and_user_and_ends_on_success(cleo_emulator_factory: CleoFactory,
                                                                  ledger: Ledger) -> None:
    emulator = cleo_emulator_factory()
    wrong = emulator_settings(emulator, cleo_password=WRONG)
    with _client(wrong, _guard(ledger, wrong)) as client, pytest.raises(CleoLoginRefusedError):
        client.authenticate()
    key = cleo_login_key(emulator.url, wrong.resolved_cleo_username())
    assert WRONG not in key
    other_user = emulator_settings(emulator, cleo_username="someone-else", cleo_password=WRONG)
    assert _guard(ledger, other_user).check() is None  # another user is not cooled down by this one
    assert _guard(ledger, wrong).check() is not None

    # `freshcleo ping` after fixing the password: reported, one attempt allowed, success ends the cool-down.
    right = emulator_settings(emulator)
    checks = cleo_checks(right, load_partners(DEFAULT_PARTNERS_FILE), guard=_guard(ledger, right))
    auth = checks[0]
    assert auth.ok and "ended the login cool-down" in auth.detail
    assert _guard(ledger, right).check() is None
    with _client(right, _guard(ledger, right)) as client:
        client.authenticate()
    assert emulator.requests_to(LOGIN, "POST", 401) == 1


def test_ping_during_a_cool_down_with_the_password_still_wrong_says_so_and_extends_it(
        cleo_emulator_factory: CleoFactory, ledger: Ledger) -> None:
    emulator = cleo_emulator_factory(lockout=True)
    wrong = emulator_settings(emulator, cleo_password=WRONG)
    with _client(wrong, _guard(ledger, wrong)) as client, pytest.raises(CleoLoginRefusedError):
        client.authenticate()
    checks = cleo_checks(wrong, load_partners(DEFAULT_PARTNERS_FILE), guard=_guard(ledger, wrong))
    assert [(c.name, c.ok) for c in checks] == [("cleo authentication", False)]
    assert "a login cool-down was in force until" in checks[0].detail and WRONG not in checks[0].line()
    assert emulator.requests_to(LOGIN, "POST", 401) == 2  # ping's one attempt, no loop
    paused = _guard(ledger, wrong).check()
    assert paused is not None


def test_a_zero_cool_down_records_nothing(cleo_emulator_factory: CleoFactory, ledger: Ledger) -> None:
    emulator = cleo_emulator_factory()
    settings = emulator_settings(emulator, cleo_password=WRONG, cleo_login_cooldown_seconds=0)
    for _ in range(2):
        with _client(settings, _guard(ledger, settings)) as client, pytest.raises(CleoLoginRefusedError) as exc:
            client.authenticate()
        assert "cool-down" not in str(exc.value)
    assert emulator.requests_to(LOGIN, "POST", 401) == 2
