"""The token vault: OAuth tokens encrypted at rest in ``oauth_tokens``, and single-flight refresh.

Owns how tokens are stored (Fernet, key passed in by the caller, never read from the environment here) and the
protocol that lets many threads and processes share one rotating refresh token:

- every stored pair carries a ``generation``; a refresh is attempted only by whoever wins a lease on the row
  (``UPDATE … SET lease_until … WHERE generation = :seen AND lease is free``; the row count says who won), so
  the protocol is the same on SQLite, which has no row locks, and on PostgreSQL;
- the winner calls the provider outside any transaction, then writes the rotated pair with ``generation + 1``
  and commits **before** the new access token is handed to anyone;
- losers wait for the generation to move and use the winner's pair; a lease left by a crashed process expires;
- a rejected grant (``InvalidGrantError`` from the refresher) is checked against the vault once more, because
  another process may have rotated the token meanwhile, and only then marks the row ``needs_reauth``.

It does not speak HTTP: the caller passes the function that performs the refresh. Tokens never appear in
logs, exception messages or ``repr()``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ColumnElement, Connection, and_, insert, or_, select, update

from freshcleo_pipeline.errors import AuthError, LedgerError
from freshcleo_pipeline.ledger.database import Ledger
from freshcleo_pipeline.ledger.schema import oauth_tokens

log = logging.getLogger(__name__)

ACTIVE = "active"
REFRESHING = "refreshing"
NEEDS_REAUTH = "needs_reauth"

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class TokenSet:
    """An access/refresh pair as issued by the provider. ``repr()`` shows the expiry and scope only."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: dt.datetime
    scope: str = ""

    def expires_within(self, margin: dt.timedelta, now: dt.datetime) -> bool:
        return self.expires_at - margin <= now


@dataclass(frozen=True)
class StoredGrant:
    """One row of the vault, decrypted. ``tokens`` is None once the connection needs re-authorization."""

    provider: str
    connection: str
    account_id: str | None
    business_id: str | None
    business_uuid: str | None
    tokens: TokenSet | None
    state: str
    generation: int
    lease_until: dt.datetime | None
    updated_at: dt.datetime

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.tokens.scope.split()) if self.tokens else frozenset()


class InvalidGrantError(AuthError):
    """The provider rejected the refresh token (``invalid_grant``): it is used, revoked or expired."""


class NeedsReauthorizationError(AuthError):
    """The stored grant is dead; a person has to run the connect command again."""

    def __init__(self, provider: str, connection: str, why: str) -> None:
        super().__init__(provider, "REFRESH", f"connection {connection!r}", None,
                         f"needs re-authorization ({why}): run `freshcleo connect {provider}`")
        self.provider = provider
        self.connection = connection


class RefreshTimeoutError(AuthError):
    """Another process holds the refresh lease and neither finished nor let it expire in time."""


class UndecryptableSecretError(LedgerError):
    """A stored secret does not decrypt with the configured key: FRESHCLEO_SECRET_KEY is not the key it was
    written with. Retrying cannot help; restoring the key or reconnecting does."""

    def __init__(self, what: str) -> None:
        super().__init__(f"token vault: the stored {what} cannot be decrypted with FRESHCLEO_SECRET_KEY: "
                         "restore the key used when it was stored, or reconnect (`freshcleo connect freshbooks`)")
        self.what = what


class TokenCipher:
    """Fernet encryption of secrets at rest; the key comes from the caller (settings), not the environment."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise LedgerError("token vault key: not a Fernet key (32 url-safe base64 bytes)") from None

    def __repr__(self) -> str:
        return "TokenCipher(<key hidden>)"

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, blob: str, what: str) -> str:
        try:
            return self._fernet.decrypt(blob.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise UndecryptableSecretError(what) from None


# ---- plain operations on a connection ----

def _key(provider: str, connection: str) -> ColumnElement[bool]:
    return and_(oauth_tokens.c.provider == provider, oauth_tokens.c.connection == connection)


def load_grant(conn: Connection, cipher: TokenCipher, provider: str, connection: str) -> StoredGrant | None:
    row = conn.execute(select(oauth_tokens).where(_key(provider, connection))).mappings().first()
    if row is None:
        return None
    tokens = None
    if row["access_token_enc"] and row["refresh_token_enc"] and row["expires_at"] is not None:
        tokens = TokenSet(
            access_token=cipher.decrypt(row["access_token_enc"], "access token"),
            refresh_token=cipher.decrypt(row["refresh_token_enc"], "refresh token"),
            expires_at=row["expires_at"],
            scope=row["scope"],
        )
    return StoredGrant(
        provider=row["provider"], connection=row["connection"], account_id=row["account_id"],
        business_id=row["business_id"], business_uuid=row["business_uuid"], tokens=tokens, state=row["state"],
        generation=row["generation"], lease_until=row["lease_until"], updated_at=row["updated_at"],
    )


def _token_values(cipher: TokenCipher, tokens: TokenSet) -> dict[str, object]:
    return {
        "access_token_enc": cipher.encrypt(tokens.access_token),
        "refresh_token_enc": cipher.encrypt(tokens.refresh_token),
        "expires_at": tokens.expires_at,
        "scope": tokens.scope,
    }


def store_new_grant(
    conn: Connection, cipher: TokenCipher, provider: str, connection: str, tokens: TokenSet, *,
    account_id: str | None, business_id: str | None, business_uuid: str | None, now: dt.datetime,
) -> None:
    """Save the pair of a fresh authorization (connect), replacing whatever was there, lease cleared."""
    values = {**_token_values(cipher, tokens), "account_id": account_id, "business_id": business_id,
              "business_uuid": business_uuid, "state": ACTIVE, "lease_until": None, "updated_at": now}
    current = conn.execute(select(oauth_tokens.c.generation).where(_key(provider, connection))
                           .with_for_update()).scalar()
    if current is None:
        conn.execute(insert(oauth_tokens).values(provider=provider, connection=connection, generation=1,
                                                 **values))
    else:
        conn.execute(update(oauth_tokens).where(_key(provider, connection))
                     .values(generation=current + 1, **values))


def try_acquire_lease(conn: Connection, provider: str, connection: str, generation: int,
                      until: dt.datetime, now: dt.datetime) -> bool:
    """Compare-and-swap: take the refresh lease if the row is still at ``generation`` and nobody holds it."""
    result = conn.execute(
        update(oauth_tokens)
        .where(_key(provider, connection), oauth_tokens.c.generation == generation,
               oauth_tokens.c.state != NEEDS_REAUTH,
               or_(oauth_tokens.c.lease_until.is_(None), oauth_tokens.c.lease_until < now))
        .values(lease_until=until, state=REFRESHING, updated_at=now)
    )
    return result.rowcount == 1


def store_rotated(conn: Connection, cipher: TokenCipher, provider: str, connection: str, generation: int,
                  tokens: TokenSet, now: dt.datetime) -> bool:
    """Persist the pair obtained by refreshing ``generation``; False if the row moved on meanwhile."""
    result = conn.execute(
        update(oauth_tokens)
        .where(_key(provider, connection), oauth_tokens.c.generation == generation)
        .values(generation=generation + 1, state=ACTIVE, lease_until=None, updated_at=now,
                **_token_values(cipher, tokens))
    )
    return result.rowcount == 1


def release_lease(conn: Connection, provider: str, connection: str, generation: int,
                  now: dt.datetime) -> None:
    conn.execute(
        update(oauth_tokens)
        .where(_key(provider, connection), oauth_tokens.c.generation == generation,
               oauth_tokens.c.state == REFRESHING)
        .values(lease_until=None, state=ACTIVE, updated_at=now)
    )


def mark_needs_reauth(conn: Connection, provider: str, connection: str, generation: int,
                      now: dt.datetime) -> bool:
    """Drop the dead pair (it can never work again) unless the row has moved past ``generation``."""
    result = conn.execute(
        update(oauth_tokens)
        .where(_key(provider, connection), oauth_tokens.c.generation == generation)
        .values(state=NEEDS_REAUTH, lease_until=None, access_token_enc=None, refresh_token_enc=None,
                updated_at=now)
    )
    return result.rowcount == 1


# ---- the vault: the operations above bound to one ledger, key and connection ----

Refresher = Callable[[str], TokenSet]


class TokenVault:
    """The stored grant of one (provider, connection), with single-flight refresh across processes."""

    def __init__(
        self, ledger: Ledger, key: bytes, *, provider: str, connection: str = "default",
        lease: dt.timedelta = dt.timedelta(seconds=90), wait: dt.timedelta = dt.timedelta(seconds=120),
        poll_interval: float = 0.05, clock: Clock = utc_now, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ledger = ledger
        self.provider = provider
        self.connection = connection
        self._cipher = TokenCipher(key)
        # The lease must outlast one refresh call (its timeouts and 429 waits) so it is never taken over while
        # the holder is still talking to the provider with the single-use token.
        self.lease = lease
        self.wait = wait
        self.poll_interval = poll_interval
        self.clock = clock
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"TokenVault({self.provider!r}, {self.connection!r}, ledger={self.ledger.describe()!r})"

    def load(self) -> StoredGrant | None:
        with self.ledger.begin() as conn:
            return load_grant(conn, self._cipher, self.provider, self.connection)

    def require(self) -> StoredGrant:
        """The stored grant with usable tokens, or the error telling the operator what to run."""
        grant = self.load()
        if grant is None:
            raise NeedsReauthorizationError(self.provider, self.connection, "no stored authorization")
        if grant.state == NEEDS_REAUTH or grant.tokens is None:
            raise NeedsReauthorizationError(self.provider, self.connection,
                                            "the refresh token was rejected")
        return grant

    def save_new_grant(self, tokens: TokenSet, *, account_id: str | None, business_id: str | None = None,
                       business_uuid: str | None = None) -> StoredGrant:
        with self.ledger.begin() as conn:
            store_new_grant(conn, self._cipher, self.provider, self.connection, tokens, account_id=account_id,
                            business_id=business_id, business_uuid=business_uuid, now=self.clock())
        log.info("%s connection %r: authorization stored for account %s", self.provider, self.connection,
                 account_id)
        return self.require()

    def refresh(self, seen_generation: int, refresher: Refresher) -> StoredGrant:
        """Rotate the pair of ``seen_generation`` exactly once across all processes; return the newest grant.

        If the vault already holds a newer generation, no call is made: the caller just uses it.
        """
        deadline = time.monotonic() + self.wait.total_seconds()
        while True:
            grant = self.require()
            if grant.generation != seen_generation:
                return grant
            now = self.clock()
            lease_until = now + self.lease
            with self.ledger.begin() as conn:
                won = try_acquire_lease(conn, self.provider, self.connection, seen_generation, lease_until, now)
            if won:
                assert grant.tokens is not None
                return self._refresh_holding_lease(grant, lease_until, refresher)
            if time.monotonic() > deadline:
                raise RefreshTimeoutError(self.provider, "REFRESH", f"connection {self.connection!r}", None,
                                          "another process holds the refresh lease; try again shortly")
            self.sleep(self.poll_interval)

    def _refresh_holding_lease(self, grant: StoredGrant, lease_until: dt.datetime,
                               refresher: Refresher) -> StoredGrant:
        generation = grant.generation
        assert grant.tokens is not None
        try:
            tokens = refresher(grant.tokens.refresh_token)
        except InvalidGrantError:
            return self._after_invalid_grant(generation, lease_until)
        except BaseException:
            # The outcome may be unknown (lost response): keep the pair, free the lease; a later attempt with
            # the same token either works or gets invalid_grant, which is handled above.
            with self.ledger.begin() as conn:
                release_lease(conn, self.provider, self.connection, generation, self.clock())
            raise
        with self.ledger.begin() as conn:
            stored = store_rotated(conn, self._cipher, self.provider, self.connection, generation, tokens,
                                   self.clock())
        if not stored:
            log.warning("%s connection %r: the row moved past generation %d during refresh (re-connected?); "
                        "using the newer grant", self.provider, self.connection, generation)
        else:
            log.info("%s connection %r: tokens rotated (generation %d → %d)", self.provider, self.connection,
                     generation, generation + 1)
        return self.require()

    def _after_invalid_grant(self, generation: int, our_lease: dt.datetime) -> StoredGrant:
        # Re-read: a process outside our lease (a manual connect) may have rotated the pair. If our lease ran
        # out during a slow call and another process took it over, it spent the token first: wait for its
        # result. Only a grant nobody moved on is declared dead.
        deadline = time.monotonic() + self.wait.total_seconds()
        while True:
            again = self.load()
            if again is not None and again.generation != generation and again.tokens is not None:
                log.warning("%s connection %r: refresh token rejected but the vault moved to generation %d; "
                            "using it", self.provider, self.connection, again.generation)
                return again
            taken_over = (again is not None and again.lease_until is not None
                          and again.lease_until != our_lease and again.lease_until >= self.clock())
            if not taken_over or time.monotonic() > deadline:
                break
            self.sleep(self.poll_interval)
        with self.ledger.begin() as conn:
            mark_needs_reauth(conn, self.provider, self.connection, generation, self.clock())
        log.error("%s connection %r: refresh token rejected (invalid_grant); marked needs_reauth",
                  self.provider, self.connection)
        raise NeedsReauthorizationError(self.provider, self.connection, "the refresh token was rejected")


__all__ = [
    "ACTIVE",
    "NEEDS_REAUTH",
    "REFRESHING",
    "InvalidGrantError",
    "NeedsReauthorizationError",
    "RefreshTimeoutError",
    "StoredGrant",
    "TokenCipher",
    "TokenSet",
    "TokenVault",
    "UndecryptableSecretError",
]
