"""The Authorization Code flow against the emulator over HTTP: connect, rotation, reuse, re-authorization."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from freshcleo_pipeline.errors import AuthError
from freshcleo_pipeline.freshbooks import oauth
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.http import HttpClient
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.ledger.schema import oauth_tokens
from freshcleo_pipeline.ledger.tokens import NeedsReauthorizationError
from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.settings import Settings, load_settings

from .conftest import settings_overrides

TOKEN = "/auth/oauth/token"
CLIENTS = "/accounting/account/{account_id}/users/clients"


def test_code_flow_end_to_end(emulator: FreshBooksEmulator, settings: Settings, ledger: Ledger) -> None:
    url, state = oauth.begin_authorization(settings)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["state"] == [state] and query["response_type"] == ["code"]
    assert oauth.begin_authorization(settings)[1] != state  # a fresh random state every time
    url, state = oauth.begin_authorization(settings)

    # the user's browser: the sandbox consents and redirects to our callback
    redirect = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    assert redirect.startswith(settings.resolved_freshbooks_redirect_uri())

    identity = oauth.connect_with_redirect(settings, ledger, redirect, oauth.pending_state(settings))
    assert (identity.account_id, identity.business_id, identity.business_uuid) == (
        emulator.account_id, str(emulator.business_id), emulator.business_uuid)
    assert oauth.pending_state(settings) is None  # the state is single use

    grant = oauth.vault_for(settings, ledger).require()
    assert grant.account_id == emulator.account_id and grant.state == "active"
    assert grant.tokens is not None
    # expiry = created_at + expires_in (43200 s), i.e. about 12 h from now
    assert abs(grant.tokens.expires_at - (dt.datetime.now(dt.UTC) + dt.timedelta(hours=12))) < dt.timedelta(
        minutes=1)
    assert oauth.OAuthApp.from_settings(settings).required_scopes <= grant.scopes

    with FreshBooksClient.from_settings(settings, ledger) as client:
        assert client.clients()
    assert emulator.requests_to(TOKEN, "POST", 200) == 1
    assert emulator.refresh_count == 0


def test_a_forged_or_stale_state_is_refused_before_the_code_is_spent(
        emulator: FreshBooksEmulator, settings: Settings, sqlite_ledger: Ledger) -> None:
    url, _state = oauth.begin_authorization(settings)
    redirect = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    forged = redirect.replace("state=", "state=x")
    with pytest.raises(AuthError, match="state does not match"):
        oauth.connect_with_redirect(settings, sqlite_ledger, forged, oauth.pending_state(settings))
    assert emulator.requests_to(TOKEN, "POST") == 0
    with pytest.raises(AuthError, match="no authorization is pending"):
        oauth.connect_with_redirect(settings, sqlite_ledger, redirect, None)
    assert oauth.vault_for(settings, sqlite_ledger).load() is None


def test_a_spent_code_is_refused(emulator: FreshBooksEmulator, settings: Settings, sqlite_ledger: Ledger) -> None:
    url, state = oauth.begin_authorization(settings)
    redirect = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    oauth.connect_with_redirect(settings, sqlite_ledger, redirect, state)
    with pytest.raises(AuthError, match="invalid_grant") as info:
        oauth.connect_with_redirect(settings, sqlite_ledger, redirect, state)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(redirect).query)["code"][0]
    assert code not in str(info.value)
    assert oauth.vault_for(settings, sqlite_ledger).require().state == "active"  # first grant untouched


def test_a_bare_code_is_accepted(emulator: FreshBooksEmulator, settings: Settings, sqlite_ledger: Ledger) -> None:
    code = emulator.authorize(settings.resolved_freshbooks_redirect_uri())
    identity = oauth.connect_with_redirect(settings, sqlite_ledger, code, None)
    assert identity.account_id == emulator.account_id


def test_refresh_on_401_rotates_and_persists_before_use(
        emulator: FreshBooksEmulator, settings: Settings, connected: Ledger) -> None:
    vault = oauth.vault_for(settings, connected)
    before = vault.require()
    emulator.expire_access_tokens()
    with FreshBooksClient.from_settings(settings, connected) as client:
        assert client.clients()
        after = vault.require()
        assert after.generation == before.generation + 1
        assert before.tokens is not None and after.tokens is not None
        assert after.tokens.refresh_token != before.tokens.refresh_token
        assert client.authenticator.grant.generation == after.generation
        client.items()  # the rotated pair keeps working, no further refresh
    assert emulator.refresh_count == 1
    assert emulator.requests_to(CLIENTS, "GET", 401) == 1


def test_proactive_refresh_before_expiry_happens_once(
        freshbooks_emulator_factory: Callable[..., FreshBooksEmulator], tmp_path: Path, sqlite_ledger: Ledger) -> None:
    # tokens that live 4 minutes are always inside the 5-minute margin: refresh once, not per request
    emulator = freshbooks_emulator_factory(seed=3, invoices=250, access_token_lifetime=240)
    settings = load_settings(**settings_overrides(emulator, tmp_path))
    oauth.sandbox_auto_connect(settings, sqlite_ledger)
    with FreshBooksClient.from_settings(settings, sqlite_ledger) as client:
        invoices = client.list_all("invoices")
    assert invoices
    assert emulator.refresh_count == 1
    assert emulator.requests_to("/accounting/account/{account_id}/invoices/invoices", "GET", 401) == 0


def test_a_reused_refresh_token_leads_to_needs_reauth_without_a_retry_storm(
        emulator: FreshBooksEmulator, settings: Settings, connected: Ledger) -> None:
    vault = oauth.vault_for(settings, connected)
    stored = vault.require()
    assert stored.tokens is not None
    # Something outside the vault's protocol spends the stored refresh token (and the access token with it).
    rogue = HttpClient("freshbooks", emulator.url)
    oauth.refresh_tokens(rogue, oauth.OAuthApp.from_settings(settings), stored.tokens.refresh_token)
    rogue.close()

    with FreshBooksClient.from_settings(settings, connected) as client:
        with pytest.raises(NeedsReauthorizationError, match="run `freshcleo connect freshbooks`") as info:
            client.clients()
        assert stored.tokens.refresh_token not in str(info.value)
        assert stored.tokens.access_token not in str(info.value)
        # one rejected refresh, then the state says it all: no more calls to the token endpoint
        assert emulator.requests_to(TOKEN, "POST", 400) == 1
        with pytest.raises(NeedsReauthorizationError):
            client.clients()
    with pytest.raises(NeedsReauthorizationError):
        FreshBooksClient.from_settings(settings, connected)
    assert emulator.requests_to(TOKEN, "POST", 400) == 1
    with connected.begin() as conn:
        assert conn.execute(select(oauth_tokens.c.state)).scalar() == "needs_reauth"

    # re-authorizing brings it back
    oauth.sandbox_auto_connect(settings, connected)
    with FreshBooksClient.from_settings(settings, connected) as client:
        assert client.clients()


def test_revoked_tokens_are_a_clear_error(emulator: FreshBooksEmulator, settings: Settings,
                                          connected: Ledger) -> None:
    emulator.revoke_tokens()
    with FreshBooksClient.from_settings(settings, connected) as client:
        with pytest.raises(AuthError, match="re-authorization"):
            client.clients()
    assert emulator.requests_to(TOKEN, "POST", 400) == 1
