"""The token vault on both backends: encryption at rest, secret-free reprs, single-flight refresh, needs_reauth."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.ledger.schema import oauth_tokens
from freshcleo_pipeline.ledger.tokens import (
    NEEDS_REAUTH,
    InvalidGrantError,
    NeedsReauthorizationError,
    TokenCipher,
    TokenSet,
    TokenVault,
    store_rotated,
    try_acquire_lease,
)

KEY = Fernet.generate_key()
NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC)


def pair(n: int) -> TokenSet:
    return TokenSet(access_token=f"access-secret-{n}", refresh_token=f"refresh-secret-{n}",
                    expires_at=NOW + dt.timedelta(hours=12), scope="user:profile:read user:invoices:read")


def vault(ledger: Ledger, **kwargs: object) -> TokenVault:
    return TokenVault(ledger, KEY, provider="freshbooks", poll_interval=0.01, **kwargs)  # type: ignore[arg-type]


def test_tokens_are_encrypted_at_rest_and_never_in_reprs(ledger: Ledger) -> None:
    stored = vault(ledger).save_new_grant(pair(1), account_id="xK9pQ", business_id="77001",
                                          business_uuid="3f2b")
    with ledger.begin() as conn:
        row = conn.execute(select(oauth_tokens)).mappings().one()
    raw = " ".join(str(v) for v in row.values())
    assert "access-secret-1" not in raw and "refresh-secret-1" not in raw
    assert Fernet(KEY).decrypt(row["access_token_enc"].encode()).decode() == "access-secret-1"
    assert stored.tokens is not None and stored.tokens.access_token == "access-secret-1"
    for text in (repr(stored), repr(stored.tokens), repr(vault(ledger)), str(stored)):
        assert "secret-1" not in text
    assert stored.scopes == {"user:profile:read", "user:invoices:read"}


def test_a_wrong_key_is_a_clear_error_without_the_token(sqlite_ledger: Ledger) -> None:
    vault(sqlite_ledger).save_new_grant(pair(1), account_id="xK9pQ")
    other = TokenVault(sqlite_ledger, Fernet.generate_key(), provider="freshbooks")
    with pytest.raises(Exception, match="FRESHCLEO_SECRET_KEY") as info:
        other.load()
    assert "secret-1" not in str(info.value)


def test_concurrent_refreshes_call_the_provider_once(ledger: Ledger) -> None:
    vault(ledger).save_new_grant(pair(1), account_id="xK9pQ")
    calls: list[str] = []
    gate = threading.Event()

    def refresher(refresh_token: str) -> TokenSet:
        calls.append(refresh_token)
        gate.wait(0.3)  # hold the lease long enough for every other thread to queue up behind it
        return pair(2)

    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            own = vault(ledger)  # one vault per thread, as separate clients would have
            seen = own.require().generation
            grant = own.refresh(seen, refresher)
            assert grant.tokens is not None
            results.append(grant.tokens.access_token)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert calls == ["refresh-secret-1"]
    assert results == ["access-secret-2"] * 6
    grant = vault(ledger).require()
    assert grant.generation == 2 and grant.lease_until is None and grant.state == "active"


def test_a_stale_generation_adopts_the_newer_pair_without_calling(sqlite_ledger: Ledger) -> None:
    v = vault(sqlite_ledger)
    v.save_new_grant(pair(1), account_id="xK9pQ")
    v.refresh(1, lambda _token: pair(2))

    def must_not_run(_token: str) -> TokenSet:
        raise AssertionError("refreshed a generation that was already rotated")

    grant = v.refresh(1, must_not_run)
    assert grant.tokens is not None and grant.tokens.refresh_token == "refresh-secret-2"


def test_invalid_grant_marks_needs_reauth_once_and_never_loops(ledger: Ledger) -> None:
    v = vault(ledger)
    v.save_new_grant(pair(1), account_id="xK9pQ")
    calls = []

    def rejected(_token: str) -> TokenSet:
        calls.append(1)
        raise InvalidGrantError("freshbooks", "POST", "/auth/oauth/token", 400, "invalid_grant")

    with pytest.raises(NeedsReauthorizationError, match="freshcleo connect freshbooks"):
        v.refresh(1, rejected)
    assert calls == [1]
    with ledger.begin() as conn:
        row = conn.execute(select(oauth_tokens)).mappings().one()
    assert row["state"] == NEEDS_REAUTH and row["refresh_token_enc"] is None
    with pytest.raises(NeedsReauthorizationError):
        v.refresh(1, rejected)
    assert calls == [1]  # the dead grant is not tried again
    # connecting again revives the connection
    assert v.save_new_grant(pair(9), account_id="xK9pQ").state == "active"


def test_invalid_grant_rereads_the_vault_and_uses_a_pair_rotated_elsewhere(sqlite_ledger: Ledger) -> None:
    v = vault(sqlite_ledger)
    v.save_new_grant(pair(1), account_id="xK9pQ")

    def rotated_elsewhere(_token: str) -> TokenSet:
        # Another installation re-connected while we were refreshing: our token is dead, theirs is good.
        vault(sqlite_ledger).save_new_grant(pair(5), account_id="xK9pQ")
        raise InvalidGrantError("freshbooks", "POST", "/auth/oauth/token", 400, "invalid_grant")

    grant = v.refresh(1, rotated_elsewhere)
    assert grant.tokens is not None and grant.tokens.access_token == "access-secret-5"
    assert grant.state == "active"


def test_a_failed_refresh_frees_the_lease_and_keeps_the_pair(sqlite_ledger: Ledger) -> None:
    v = vault(sqlite_ledger)
    v.save_new_grant(pair(1), account_id="xK9pQ")

    def down(_token: str) -> TokenSet:
        raise ConnectionError("token endpoint unreachable")

    with pytest.raises(ConnectionError):
        v.refresh(1, down)
    grant = v.require()
    assert grant.lease_until is None and grant.state == "active" and grant.generation == 1
    assert v.refresh(1, lambda _token: pair(2)).generation == 2


def test_an_expired_lease_of_a_crashed_process_is_taken_over(sqlite_ledger: Ledger) -> None:
    clock = [NOW]
    v = vault(sqlite_ledger, clock=lambda: clock[0], lease=dt.timedelta(seconds=30))
    v.save_new_grant(pair(1), account_id="xK9pQ")
    with sqlite_ledger.begin() as conn:  # a process took the lease and died
        assert try_acquire_lease(conn, "freshbooks", "default", 1, NOW + dt.timedelta(seconds=30), NOW)
    clock[0] = NOW + dt.timedelta(seconds=31)
    assert v.refresh(1, lambda _token: pair(2)).generation == 2


def test_a_lease_taken_over_during_a_slow_refresh_waits_for_the_new_holder(sqlite_ledger: Ledger) -> None:
    clock = [NOW]
    holder_b: list[dt.datetime] = []

    def b_finishes(_seconds: float) -> None:
        # the process that took the lease over completes its refresh while A waits
        with sqlite_ledger.begin() as conn:
            store_rotated(conn, TokenCipher(KEY), "freshbooks", "default", 1, pair(2), clock[0])

    a = vault(sqlite_ledger, clock=lambda: clock[0], lease=dt.timedelta(seconds=30), sleep=b_finishes)
    a.save_new_grant(pair(1), account_id="xK9pQ")

    def slow_then_rejected(_token: str) -> TokenSet:
        clock[0] = NOW + dt.timedelta(seconds=31)  # A's call outlived its lease…
        with sqlite_ledger.begin() as conn:  # …B took the lease over and spent the token first
            holder_b.append(clock[0] + dt.timedelta(seconds=30))
            assert try_acquire_lease(conn, "freshbooks", "default", 1, holder_b[0], clock[0])
        raise InvalidGrantError("freshbooks", "POST", "/auth/oauth/token", 400, "invalid_grant")

    grant = a.refresh(1, slow_then_rejected)
    assert grant.generation == 2 and grant.state == "active"
    assert grant.tokens is not None and grant.tokens.access_token == "access-secret-2"
