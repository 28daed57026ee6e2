"""The emulated FreshBooks authorization server: codes, token pairs, rotation, expiry and scopes.

Owns the OAuth state (what was issued, what is consumed, what is revoked) and the auth-service error
bodies (``{"error", "error_description"}``). Tokens are random and never logged; ``repr`` shows counts only.
It knows nothing of HTTP routing: the emulator hands it parsed parameters and sends back what it returns.
"""

from __future__ import annotations

import secrets
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

READ_SCOPES = (
    "user:profile:read", "user:invoices:read", "user:bills:read", "user:bill_vendors:read",
    "user:bill_payments:read", "user:payments:read", "user:clients:read", "user:billable_items:read",
)
# The sandbox app is registered with read and write on every object it serves. A token carries the scopes its
# authorization asked for (all registered ones when none were asked): freshcleo asks for the read scopes, plus
# the write scopes of the writes partners.yaml opts into when FreshBooks is not read-only.
_OBJECT_SCOPES = (*READ_SCOPES[1:], "user:estimates:read")
REGISTERED_SCOPES = (*READ_SCOPES, "user:estimates:read", *(s.replace(":read", ":write") for s in _OBJECT_SCOPES))

UNAUTHENTICATED = {"error": "unauthenticated",
                   "error_description": "This action requires authentication to continue."}


@dataclass(frozen=True)
class OAuthError(Exception):
    """An auth-service error: HTTP status and the RFC 6749 §5.2 body."""

    status: int
    error: str
    description: str

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class _Code:
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


@dataclass
class _Access:
    grant: int
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool = False


@dataclass
class _Refresh:
    grant: int
    scopes: tuple[str, ...]
    used: bool = False


@dataclass
class _Grants:
    codes: dict[str, _Code] = field(default_factory=dict)
    access: dict[str, _Access] = field(default_factory=dict)
    refresh: dict[str, _Refresh] = field(default_factory=dict)


class AuthorizationServer:
    """Issues and checks tokens for one registered app. ``now`` gives epoch seconds (the emulator's clock)."""

    def __init__(self, *, client_id: str, client_secret: str, redirect_uris: Iterable[str],
                 now: Callable[[], float], code_lifetime: float = 300, access_token_lifetime: float = 43_200,
                 registered_scopes: Iterable[str] = REGISTERED_SCOPES) -> None:
        self.client_id = client_id
        self._secret = client_secret
        self.redirect_uris = tuple(redirect_uris)
        for uri in self.redirect_uris:
            check_redirect_uri(uri)
        self.now = now
        self.code_lifetime = code_lifetime
        self.access_token_lifetime = access_token_lifetime
        self.registered_scopes = tuple(registered_scopes)
        self.refresh_count = 0
        self._grants = _Grants()
        self._next_grant = 1
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"AuthorizationServer(client_id={self.client_id!r}, access_tokens={len(self._grants.access)}, "
                f"refresh_count={self.refresh_count})")

    # ---- authorize (browser) ----

    def authorize(self, params: Mapping[str, str]) -> str:
        """The auto-consented redirect Location for an authorize request; OAuthError when the request is
        bad in a way that must not redirect (unknown client, unregistered redirect URI)."""
        if params.get("client_id") != self.client_id:
            raise OAuthError(400, "invalid_client",
                             f"client_id: got {params.get('client_id')!r}; expected the registered app's id")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            raise OAuthError(400, "invalid_request",
                             f"redirect_uri: got {redirect_uri!r}; expected one of the app's registered URIs "
                             "(exact match)")
        state = params.get("state")
        if params.get("response_type") != "code":
            return _with_query(redirect_uri, error="unsupported_response_type", state=state)
        requested = tuple((params.get("scope") or "").split())
        unknown = [s for s in requested if s not in self.registered_scopes]
        if unknown:
            return _with_query(redirect_uri, error="invalid_scope",
                               error_description=f"scopes not registered for this app: {' '.join(unknown)}",
                               state=state)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants.codes[code] = _Code(redirect_uri, requested or self.registered_scopes,
                                             self.now() + self.code_lifetime)
        return _with_query(redirect_uri, code=code, state=state)

    # ---- token endpoint ----

    def token(self, fields: Mapping[str, str]) -> dict[str, Any]:
        if fields.get("client_id") != self.client_id or not secrets.compare_digest(
                fields.get("client_secret", "").encode(), self._secret.encode()):
            raise OAuthError(401, "invalid_client", "client_id/client_secret: not the registered app's "
                                                    "credentials")
        grant_type = fields.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(fields)
        if grant_type == "refresh_token":
            return self._refresh(fields)
        raise OAuthError(400, "unsupported_grant_type",
                         f"grant_type: got {grant_type!r}; expected authorization_code or refresh_token")

    def _exchange_code(self, fields: Mapping[str, str]) -> dict[str, Any]:
        code, redirect_uri = fields.get("code"), fields.get("redirect_uri")
        if not code or not redirect_uri:
            raise OAuthError(400, "invalid_request", "code and redirect_uri are required for authorization_code")
        with self._lock:
            issued = self._grants.codes.get(code)
            if issued is None or issued.used:
                raise OAuthError(400, "invalid_grant", "The authorization code is invalid or was already used.")
            if self.now() >= issued.expires_at:
                raise OAuthError(400, "invalid_grant", "The authorization code has expired.")
            if redirect_uri != issued.redirect_uri:
                raise OAuthError(400, "invalid_grant",
                                 "redirect_uri: does not match the one the authorization code was issued for")
            issued.used = True
            grant = self._next_grant
            self._next_grant += 1
            return self._issue(grant, issued.scopes)

    def _refresh(self, fields: Mapping[str, str]) -> dict[str, Any]:
        token = fields.get("refresh_token")
        if not token:
            raise OAuthError(400, "invalid_request", "refresh_token is required for the refresh_token grant")
        redirect_uri = fields.get("redirect_uri")
        if redirect_uri and redirect_uri not in self.redirect_uris:
            raise OAuthError(400, "invalid_grant", "redirect_uri: not one of the app's registered URIs")
        with self._lock:
            issued = self._grants.refresh.get(token)
            if issued is None or issued.used:
                raise OAuthError(400, "invalid_grant",
                                 "The refresh token is invalid, was revoked, or was already used.")
            issued.used = True
            for access in self._grants.access.values():  # the previous access token dies with the rotation
                if access.grant == issued.grant:
                    access.revoked = True
            self.refresh_count += 1
            return self._issue(issued.grant, issued.scopes)

    def _issue(self, grant: int, scopes: tuple[str, ...]) -> dict[str, Any]:
        now = self.now()
        access, refresh = secrets.token_hex(32), secrets.token_hex(32)
        self._grants.access[access] = _Access(grant, scopes, now + self.access_token_lifetime)
        self._grants.refresh[refresh] = _Refresh(grant, scopes)
        return {"access_token": access, "token_type": "Bearer", "expires_in": int(self.access_token_lifetime),
                "refresh_token": refresh, "scope": " ".join(scopes), "created_at": int(now)}

    # ---- resource checks ----

    def check(self, authorization: str | None, scope: str | None) -> tuple[int, str] | None:
        """None when the bearer token is live and has ``scope``; else (status, reason) for a 401/403."""
        kind, _, token = (authorization or "").partition(" ")
        if kind.lower() != "bearer" or not token:
            return 401, "missing bearer token"
        with self._lock:
            access = self._grants.access.get(token.strip())
            if access is None or access.revoked:
                return 401, "unknown or revoked token"
            if self.now() >= access.expires_at:
                return 401, "expired token"
            if scope is not None and scope not in access.scopes:
                return 403, (f"This action requires the scope {scope}; the token was granted: "
                             f"{' '.join(access.scopes)}")
        return None

    # ---- sandbox controls ----

    def revoke_all(self) -> None:
        """Every access and refresh token stops working (the user disconnected the app)."""
        with self._lock:
            for access in self._grants.access.values():
                access.revoked = True
            for refresh in self._grants.refresh.values():
                refresh.used = True

    def expire_access_tokens(self) -> None:
        """Every issued access token is past its expiry; refresh tokens stay usable."""
        with self._lock:
            now = self.now()
            for access in self._grants.access.values():
                access.expires_at = min(access.expires_at, now)


def check_redirect_uri(uri: str) -> None:
    parts = urllib.parse.urlsplit(uri)
    if parts.query or parts.fragment:
        raise ValueError(f"redirect_uris: {uri!r} has a query or fragment; expected none (use state)")
    dev = parts.scheme == "http" and parts.hostname == "127.0.0.1"
    if parts.scheme != "https" and not dev:
        raise ValueError(f"redirect_uris: {uri!r} is not https; expected https or the http://127.0.0.1 "
                         "development override")


def _with_query(uri: str, **params: str | None) -> str:
    return f"{uri}?{urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})}"
