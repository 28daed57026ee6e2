"""A receiver served by a real uvicorn on a loopback port, over a real ledger, with one verified callback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from cryptography.fernet import Fernet

from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.ledger import callbacks as cb
from freshcleo_pipeline.service import BackgroundServer, create_app

ACCOUNT = "xK9pQ"
VERIFIER = "scADVVi5QuKuj5qTjVkbJNYQe7V7USpGd"
MAX_BODY = 2048


@dataclass
class Confirmations:
    """Stands in for FreshBooks' verify endpoint where a test needs no emulator: accepts one code."""

    accept: str | None = None
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, account_id: str, callback_id: str, verifier: str) -> None:
        from freshcleo_pipeline.errors import ApiError

        self.calls.append((account_id, callback_id, verifier))
        if verifier != self.accept:
            raise ApiError("freshbooks", "PUT", f"callbacks/{callback_id}", 422, "verifier: invalid")


@dataclass
class Receiver:
    url: str
    ledger: Ledger
    key: bytes
    token: str
    confirmations: Confirmations

    def hook(self, token: str | None = None) -> str:
        return f"{self.url}/webhooks/freshbooks/{token or self.token}"


@pytest.fixture
def receiver(sqlite_ledger: Ledger) -> Iterator[Receiver]:
    key = Fernet.generate_key()
    token = cb.new_path_token()
    now = dt.datetime.now(dt.UTC)
    with sqlite_ledger.begin() as conn:
        cb.add_callback(conn, path_token=token, account_id=ACCOUNT, event="invoice.update",
                        uri=f"http://127.0.0.1/webhooks/freshbooks/{token}", now=now)
        cb.set_callback_id(conn, token, "2001")
        cb.store_verifier(conn, token, VERIFIER, key, verified=True, now=now)
    confirmations = Confirmations()
    app = create_app(sqlite_ledger, key, max_body_bytes=MAX_BODY, confirm=confirmations)
    with BackgroundServer(app) as server:
        yield Receiver(server.url, sqlite_ledger, key, token, confirmations)
