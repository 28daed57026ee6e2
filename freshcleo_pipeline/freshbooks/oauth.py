"""FreshBooks OAuth 2.0 (Authorization Code grant): authorize URL, code exchange, refresh, identity, connect.

Owns the token endpoint's request and response shapes, the ``state`` check of a redirect, identity discovery
(``/auth/api/v1/users/me`` → account_id, business id, business_uuid) and the connect flow that ends with the
pair in the token vault. It sends through the shared ``HttpClient`` and never logs or raises a token, a code or
the client secret. It does not decide when to refresh: that is the client's authenticator and the vault.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freshcleo_pipeline.errors import ApiError, AuthError, ConfigError
from freshcleo_pipeline.freshbooks.writer import required_scopes
from freshcleo_pipeline.http import Authenticator, HttpClient
from freshcleo_pipeline.ledger import Ledger, open_ledger
from freshcleo_pipeline.ledger.tokens import InvalidGrantError, TokenSet, TokenVault
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.settings import Settings, get_settings

log = logging.getLogger(__name__)

PROVIDER = "freshbooks"
SERVICE = "freshbooks"
TOKEN_PATH = "/auth/oauth/token"  # noqa: S105 (a path, not a secret)
IDENTITY_PATH = "/auth/api/v1/users/me"
AUTHORIZE_PATH = "/oauth/authorize/"
#: How long a printed authorize URL's ``state`` stays acceptable (codes themselves live 5 minutes).
PENDING_TTL = dt.timedelta(minutes=30)
_PENDING_FILE = "freshbooks-oauth-pending.json"


@dataclass(frozen=True)
class OAuthApp:
    """The registered FreshBooks app: who we are to the authorization server."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: str
    auth_url: str
    api_url: str

    @classmethod
    def from_settings(cls, settings: Settings, *, extra_scopes: Iterable[str] = ()) -> OAuthApp:
        """The app as configured; ``extra_scopes`` (the write scopes of :func:`write_scopes`) are asked for
        beside ``FRESHBOOKS_SCOPES``."""
        scopes = dict.fromkeys([*settings.freshbooks_scopes.split(), *extra_scopes])
        return cls(
            client_id=settings.resolved_freshbooks_client_id(),
            client_secret=settings.resolved_freshbooks_client_secret(),
            redirect_uri=settings.resolved_freshbooks_redirect_uri(),
            scopes=" ".join(scopes),
            auth_url=settings.resolved_freshbooks_auth_url().rstrip("/"),
            api_url=settings.resolved_freshbooks_api_url().rstrip("/"),
        )

    @property
    def required_scopes(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


@dataclass(frozen=True)
class Identity:
    """The three business identifiers of the connected account (see the reference, §3)."""

    account_id: str
    business_id: str
    business_uuid: str
    business_name: str
    identity_id: str


def write_scopes(settings: Settings) -> tuple[str, ...]:
    """The scopes the writes partners.yaml opts into need (``writer.required_scopes``); none while
    ``FRESHCLEO_FRESHBOOKS_READ_ONLY`` is true, and then partners.yaml is not even read."""
    if settings.freshbooks_read_only:
        return ()
    return required_scopes(load_partners(settings.resolved_partners_file()), read_only=False)


def connect_app(settings: Settings) -> OAuthApp:
    """The app as the connect flow presents it: the read scopes plus the opted-in write scopes."""
    return OAuthApp.from_settings(settings, extra_scopes=write_scopes(settings))


def new_state() -> str:
    return secrets.token_urlsafe(24)


def authorize_url(app: OAuthApp, state: str) -> str:
    query = urllib.parse.urlencode({
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": app.redirect_uri,
        "scope": app.scopes,
        "state": state,
    }, quote_via=urllib.parse.quote)
    return f"{app.auth_url}{AUTHORIZE_PATH}?{query}"


def token_set_from_response(body: Mapping[str, Any], now: dt.datetime) -> TokenSet:
    """Token endpoint JSON → ``TokenSet``; expiry is ``created_at + expires_in`` as both official SDKs do."""
    missing = [name for name in ("access_token", "refresh_token", "expires_in") if not body.get(name)]
    if missing:
        raise AuthError(SERVICE, "POST", TOKEN_PATH, 200,
                        f"token response lacks {', '.join(missing)}; expected access_token, refresh_token, "
                        "expires_in, created_at")
    try:
        lifetime = dt.timedelta(seconds=int(body["expires_in"]))
        created = body.get("created_at")
        issued = dt.datetime.fromtimestamp(int(created), dt.UTC) if created is not None else now
    except (TypeError, ValueError, OverflowError):
        raise AuthError(SERVICE, "POST", TOKEN_PATH, 200,
                        f"token response: expires_in={body.get('expires_in')!r}, "
                        f"created_at={body.get('created_at')!r}; expected integer seconds") from None
    return TokenSet(access_token=str(body["access_token"]), refresh_token=str(body["refresh_token"]),
                    expires_at=issued + lifetime, scope=str(body.get("scope") or ""))


def _token_call(http: HttpClient, form: dict[str, str], grant: str) -> TokenSet:
    # 400/401 come back to us instead of raising so that ``invalid_grant`` can be told apart from the rest.
    response = http.request("POST", TOKEN_PATH, data=form, ok_statuses=frozenset({400, 401, 403}))
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        detail = f"{grant} grant refused: {error or 'error'}" + (f" ({description[:200]})" if description else "")
        if error == "invalid_grant":
            raise InvalidGrantError(SERVICE, "POST", TOKEN_PATH, response.status_code, detail)
        raise AuthError(SERVICE, "POST", TOKEN_PATH, response.status_code, detail)
    if not isinstance(body, dict):
        raise AuthError(SERVICE, "POST", TOKEN_PATH, response.status_code, "token response is not a JSON object")
    return token_set_from_response(body, dt.datetime.now(dt.UTC))


def exchange_code(http: HttpClient, app: OAuthApp, code: str) -> TokenSet:
    """``authorization_code`` grant: a code from the redirect → a new token pair."""
    return _token_call(http, {
        "grant_type": "authorization_code",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "code": code,
        "redirect_uri": app.redirect_uri,
    }, "authorization_code")


def refresh_tokens(http: HttpClient, app: OAuthApp, refresh_token: str) -> TokenSet:
    """``refresh_token`` grant. The presented token is consumed; raises ``InvalidGrantError`` when it is dead."""
    return _token_call(http, {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "refresh_token": refresh_token,
        "redirect_uri": app.redirect_uri,
    }, "refresh_token")


class BearerToken:
    """An ``Authenticator`` for one fixed access token (identity discovery during connect, checks)."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def renew(self) -> None:
        raise AuthError(SERVICE, "GET", IDENTITY_PATH, 401, "the access token was refused")


def fetch_identity(http: HttpClient, auth: Authenticator) -> dict[str, Any]:
    """The raw ``/users/me`` payload (envelope ``{"response": {…}}``, no ``result`` level)."""
    body = http.request("GET", IDENTITY_PATH, auth=auth).json()
    me = body.get("response") if isinstance(body, dict) else None
    if not isinstance(me, dict):
        raise ApiError(SERVICE, "GET", IDENTITY_PATH, 200, "expected {\"response\": {...}}")
    return me


def choose_business(me: Mapping[str, Any], account_id: str | None = None) -> Identity:
    """Pick the business to connect: the one named by ``account_id``, or the only one there is."""
    memberships = [m for m in me.get("business_memberships") or [] if isinstance(m.get("business"), dict)]
    businesses = [m["business"] for m in memberships]
    if account_id is not None:
        businesses = [b for b in businesses if str(b.get("account_id")) == account_id]
        if not businesses:
            known = ", ".join(str(m["business"].get("account_id")) for m in memberships) or "none"
            raise ConfigError("--account-id", account_id, f"one of this user's accounts ({known})")
    if not businesses:
        raise AuthError(SERVICE, "GET", IDENTITY_PATH, 200, "the user has no business membership")
    if len(businesses) > 1:
        choices = ", ".join(f"{b.get('account_id')} ({b.get('name')})" for b in businesses)
        raise ConfigError("--account-id", None, f"one account to connect; this user belongs to {choices}")
    business = businesses[0]
    if not business.get("account_id") or business.get("id") is None:
        raise ApiError(SERVICE, "GET", IDENTITY_PATH, 200,
                       "business membership lacks business.account_id or business.id")
    return Identity(account_id=str(business["account_id"]), business_id=str(business["id"]),
                    business_uuid=str(business.get("business_uuid") or ""),
                    business_name=str(business.get("name") or ""),
                    identity_id=str(me.get("identity_id") or me.get("id") or ""))


def discover_identity(http: HttpClient, access_token: str, account_id: str | None = None) -> Identity:
    return choose_business(fetch_identity(http, BearerToken(access_token)), account_id)


# ---- the connect flow ----

def parse_redirect(pasted: str, expected_state: str | None) -> str:
    """The code from a pasted redirect URL (its ``state`` checked) or from a bare code."""
    text = pasted.strip()
    if "://" not in text and "?" not in text and "=" not in text:
        if not text:
            raise AuthError(SERVICE, "GET", "redirect", None, "empty code; paste the redirect URL or its code")
        return text
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(text).query or text.lstrip("?"))
    if "error" in query:
        raise AuthError(SERVICE, "GET", "redirect", None,
                        f"authorization refused: {query['error'][0]} "
                        f"{query.get('error_description', [''])[0]}".strip())
    code = (query.get("code") or [""])[0]
    if not code:
        raise AuthError(SERVICE, "GET", "redirect", None, "the redirect URL has no code parameter")
    states = query.get("state")
    state = states[0] if states else None
    if expected_state is None:
        raise AuthError(SERVICE, "GET", "redirect", None,
                        "no authorization is pending; run `freshcleo connect freshbooks` to get a fresh URL")
    if state is None or not secrets.compare_digest(state, expected_state):
        raise AuthError(SERVICE, "GET", "redirect", None,
                        "the redirect's state does not match the authorize URL this installation issued "
                        "(stale or forged redirect); start again with `freshcleo connect freshbooks`")
    return code


def oauth_http(settings: Settings) -> HttpClient:
    return HttpClient(SERVICE, settings.resolved_freshbooks_api_url())


def vault_for(settings: Settings, ledger: Ledger, connection: str = "default") -> TokenVault:
    return TokenVault(ledger, settings.resolved_secret_key(), provider=PROVIDER, connection=connection)


def connect_with_redirect(
    settings: Settings, ledger: Ledger, pasted: str, expected_state: str | None, *,
    account_id: str | None = None, http: HttpClient | None = None, connection: str = "default",
) -> Identity:
    """Finish the flow: check the redirect, exchange the code, discover the business, store the pair."""
    app = connect_app(settings)
    code = parse_redirect(pasted, expected_state)
    client = http or oauth_http(settings)
    try:
        tokens = exchange_code(client, app, code)
        identity = discover_identity(client, tokens.access_token, account_id)
    finally:
        if http is None:
            client.close()
    granted = frozenset(tokens.scope.split())
    missing = app.required_scopes - granted if granted else frozenset()
    if missing:
        log.warning("freshbooks: granted scopes lack %s; requests that need them will get 403",
                    " ".join(sorted(missing)))
    vault_for(settings, ledger, connection).save_new_grant(
        tokens, account_id=identity.account_id, business_id=identity.business_id,
        business_uuid=identity.business_uuid)
    clear_pending(settings)
    log.info("freshbooks: connected account %s (business %s)", identity.account_id, identity.business_id)
    return identity


def sandbox_auto_connect(settings: Settings, ledger: Ledger, *, account_id: str | None = None) -> Identity:
    """Connect to the sandbox with no human: its authorize endpoint consents at once and answers a 302."""
    if not settings.is_sandbox:
        raise ConfigError("FRESHCLEO_MODE", settings.mode.value, "sandbox (auto-consent exists only there)")
    app = connect_app(settings)
    state = new_state()
    http = HttpClient(SERVICE, app.auth_url)
    try:
        response = http.request("GET", authorize_url(app, state), allow_redirects=False,
                                ok_statuses=frozenset({302, 303}))
        location = response.headers.get("Location", "")
        if response.status_code not in (302, 303) or not location:
            raise AuthError(SERVICE, "GET", AUTHORIZE_PATH, response.status_code,
                            "the sandbox did not redirect with a code; is the emulator's redirect_uri "
                            "the same as FRESHBOOKS_REDIRECT_URI?")
    finally:
        http.close()
    return connect_with_redirect(settings, ledger, location, state, account_id=account_id)


def complete_authorization_from_redirect(redirect_url: str) -> str:
    """The local receiver's OAuth callback: finish the pending authorization; a secret-free summary."""
    settings = get_settings()
    ledger = open_ledger(settings.resolved_ledger_url())
    try:
        identity = connect_with_redirect(settings, ledger, redirect_url, pending_state(settings))
    finally:
        ledger.dispose()
    return f"Connected FreshBooks account {identity.account_id} ({identity.business_name or 'unnamed'})."


# ---- the pending authorization (state of a printed URL, for a paste in a later invocation) ----

def _pending_path(settings: Settings) -> Path:
    return settings.data_dir / _PENDING_FILE


def begin_authorization(settings: Settings) -> tuple[str, str]:
    """A new authorize URL and its state, remembered (owner-only file) so a later paste can be checked."""
    state = new_state()
    path = _pending_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"state": state, "created": time.time()}), encoding="utf-8")
    path.chmod(0o600)
    return authorize_url(connect_app(settings), state), state


def pending_state(settings: Settings) -> str | None:
    path = _pending_path(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if time.time() - float(data.get("created", 0)) > PENDING_TTL.total_seconds():
        return None
    state = data.get("state")
    return state if isinstance(state, str) else None


def clear_pending(settings: Settings) -> None:
    _pending_path(settings).unlink(missing_ok=True)


__all__ = [
    "Identity",
    "OAuthApp",
    "authorize_url",
    "begin_authorization",
    "complete_authorization_from_redirect",
    "connect_app",
    "connect_with_redirect",
    "discover_identity",
    "exchange_code",
    "refresh_tokens",
    "sandbox_auto_connect",
    "write_scopes",
]
