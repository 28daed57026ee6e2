"""Operations on ``webhook_callbacks``: the FreshBooks callbacks freshcleo registered, one receiver path each.

Owns the rows and the encryption of verifiers at rest (Fernet; the key is passed in by the caller, from
``Settings.resolved_secret_key()``). A verifier is the HMAC key of every later event of its callback, so it is
a secret: it is only ever returned by ``reveal_verifier`` and never appears in a row's ``repr``.

It makes no HTTP call and knows nothing of the signature algorithm.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from freshcleo_pipeline.errors import LedgerError
from freshcleo_pipeline.ledger.schema import webhook_callbacks


@dataclass(frozen=True)
class CallbackRow:
    """One registered callback; ``verified`` means FreshBooks accepted our confirmation of its verifier."""

    id: int
    path_token: str
    account_id: str
    event: str
    uri: str
    callback_id: str | None
    verified: bool
    created_at: dt.datetime
    verified_at: dt.datetime | None
    last_event_at: dt.datetime | None
    verifier_enc: str | None = field(default=None, repr=False)

    @property
    def has_verifier(self) -> bool:
        return self.verifier_enc is not None


def new_path_token() -> str:
    """A fresh receiver path segment: unguessable, so a path alone does not let anyone post a handshake."""
    return secrets.token_urlsafe(24)


def _row(mapping: RowMapping) -> CallbackRow:
    return CallbackRow(
        id=mapping["id"], path_token=mapping["path_token"], account_id=mapping["account_id"],
        event=mapping["event"], uri=mapping["uri"], callback_id=mapping["callback_id"],
        verified=bool(mapping["verified"]), created_at=mapping["created_at"],
        verified_at=mapping["verified_at"], last_event_at=mapping["last_event_at"],
        verifier_enc=mapping["verifier_enc"],
    )


def add_callback(conn: Connection, *, path_token: str, account_id: str, event: str, uri: str,
                 now: dt.datetime) -> CallbackRow:
    """Record a callback about to be created at FreshBooks (before the call, so its handshake finds it)."""
    conn.execute(insert(webhook_callbacks).values(
        path_token=path_token, account_id=account_id, event=event, uri=uri, verified=False, created_at=now))
    found = get_by_path(conn, path_token)
    assert found is not None
    return found


def set_callback_id(conn: Connection, path_token: str, callback_id: str) -> None:
    conn.execute(update(webhook_callbacks).where(webhook_callbacks.c.path_token == path_token)
                 .values(callback_id=callback_id))


def get_by_path(conn: Connection, path_token: str) -> CallbackRow | None:
    found = conn.execute(select(webhook_callbacks).where(webhook_callbacks.c.path_token == path_token))
    mapping = found.mappings().first()
    return _row(mapping) if mapping is not None else None


def list_callbacks(conn: Connection, account_id: str | None = None) -> list[CallbackRow]:
    query = select(webhook_callbacks).order_by(webhook_callbacks.c.event, webhook_callbacks.c.id)
    if account_id is not None:
        query = query.where(webhook_callbacks.c.account_id == account_id)
    return [_row(m) for m in conn.execute(query).mappings()]


def store_verifier(conn: Connection, path_token: str, verifier: str, key: bytes, *, verified: bool,
                   now: dt.datetime) -> None:
    """Keep a verifier encrypted; ``verified=True`` once FreshBooks accepted it."""
    values: dict[str, object] = {"verifier_enc": Fernet(key).encrypt(verifier.encode("utf-8")).decode("ascii"),
                                 "verified": verified}
    if verified:
        values["verified_at"] = now
    conn.execute(update(webhook_callbacks).where(webhook_callbacks.c.path_token == path_token).values(**values))


def mark_verified(conn: Connection, path_token: str, now: dt.datetime) -> None:
    conn.execute(update(webhook_callbacks).where(webhook_callbacks.c.path_token == path_token)
                 .values(verified=True, verified_at=now))


def mark_unverified(conn: Connection, path_token: str) -> None:
    """FreshBooks no longer considers the callback verified (or we lost its verifier)."""
    conn.execute(update(webhook_callbacks).where(webhook_callbacks.c.path_token == path_token)
                 .values(verified=False))


def reveal_verifier(row: CallbackRow, key: bytes) -> str | None:
    """The clear verifier of a callback, for signature checks and the confirmation call only."""
    if row.verifier_enc is None:
        return None
    try:
        return Fernet(key).decrypt(row.verifier_enc.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise LedgerError(f"webhook callback {row.event} (id {row.id}): its verifier cannot be decrypted with "
                          "FRESHCLEO_SECRET_KEY (was the key changed?); run `freshcleo webhooks register` "
                          "again to re-verify") from None


def touch_last_event(conn: Connection, path_token: str, at: dt.datetime) -> None:
    """Note a verified event's arrival (the health view of ``freshcleo webhooks list``)."""
    conn.execute(update(webhook_callbacks).where(webhook_callbacks.c.path_token == path_token)
                 .values(last_event_at=at))


def remove_callback(conn: Connection, path_token: str) -> None:
    conn.execute(delete(webhook_callbacks).where(webhook_callbacks.c.path_token == path_token))
