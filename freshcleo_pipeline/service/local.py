"""A receiver on this machine with FreshBooks' callbacks pointed at it: the webhook half of ``freshcleo ui``
and of the latency benchmark, against the sandbox.

Owns only the sequence: start the receiver on a thread, then register the callbacks against its URL (the
handshake needs the receiver up). It decides nothing about events (``receiver.py``) or registration
(``freshbooks/webhooks.py``), and it is not the deployed setup, where the receiver runs on its own behind a
TLS proxy and ``freshcleo webhooks register --url`` names its public address.
"""

from __future__ import annotations

import errno

from freshcleo_pipeline.errors import ConfigError
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.webhooks import CallbackApi, RegistrationReport, register_callbacks
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.service.app import build_app
from freshcleo_pipeline.service.server import BackgroundServer
from freshcleo_pipeline.settings import Settings


def start_receiver(settings: Settings, ledger: Ledger, host: str | None = None,
                   port: int | None = None) -> BackgroundServer:
    """The receiver serving on a thread: the settings' host and port unless given (port 0 = a free one)."""
    host = settings.webhook_host if host is None else host
    port = settings.webhook_port if port is None else port
    try:
        server = BackgroundServer(build_app(settings, ledger), host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError("FRESHCLEO_WEBHOOK_PORT", port,
                              f"a free port on {host} for the receiver (is another one running?)") from None
        raise
    return server.start()


def register_local(settings: Settings, ledger: Ledger, receiver_url: str, wait: float = 30.0) -> RegistrationReport:
    """Every subscribed callback registered and verified against ``receiver_url``; idempotent."""
    with FreshBooksClient.from_settings(settings, ledger) as client:
        api = CallbackApi(client.http, client.authenticator, client.account_id)
        return register_callbacks(api, ledger, settings.resolved_secret_key(), receiver_url, wait=wait)
