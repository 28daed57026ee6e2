"""``freshcleo webhooks``: serve the receiver, register FreshBooks callbacks, show their health, remove them.

Thin: the receiver lives in ``service/``, registration in ``freshbooks/webhooks.py``, rows in the ledger.
"""

from __future__ import annotations

import datetime as dt
import sys

import click

from freshcleo_pipeline.errors import ConfigError, FreshcleoError
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.webhooks import (
    CallbackApi,
    RemoteCallback,
    register_callbacks,
    remove_callbacks,
)
from freshcleo_pipeline.ledger import Ledger, open_ledger
from freshcleo_pipeline.ledger import callbacks as cb
from freshcleo_pipeline.service import build_app, serve
from freshcleo_pipeline.settings import Settings, get_settings


def _ledger(settings: Settings) -> Ledger:
    return open_ledger(settings.resolved_ledger_url())


def _api(client: FreshBooksClient) -> CallbackApi:
    return CallbackApi(client.http, client.authenticator, client.account_id)


def _masked(uri: str, token: str) -> str:
    # The path token lets whoever knows it post handshakes to the receiver: show only its start.
    return uri.replace(token, token[:6] + "…") if token else uri


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "never"
    age = dt.datetime.now(dt.UTC) - moment
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')}Z ({int(age.total_seconds() // 60)} min ago)"


@click.group()
def webhooks() -> None:
    """FreshBooks webhooks: the receiver and the callbacks that feed it."""


@webhooks.command("serve")
@click.option("--host", default=None, help="Interface to bind (default FRESHCLEO_WEBHOOK_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default FRESHCLEO_WEBHOOK_PORT, 8713).")
def serve_command(host: str | None, port: int | None) -> None:
    """Run the receiver (webhooks, OAuth redirect, health).

    Serves POST /webhooks/freshbooks/<token>, GET /oauth/freshbooks/callback and GET /healthz.
    """
    settings = get_settings()
    host = host or settings.webhook_host
    port = port or settings.webhook_port
    ledger = _ledger(settings)
    app = build_app(settings, ledger)
    click.echo(f"freshcleo receiver on http://{host}:{port}: POST /webhooks/freshbooks/<token>, "
               "GET /oauth/freshbooks/callback, GET /healthz")
    try:
        serve(app, host, port)
    finally:
        ledger.dispose()


@webhooks.command()
@click.option("--url", "public_url", required=True, metavar="PUBLIC_URL",
              help="Where FreshBooks reaches this receiver, e.g. https://hooks.example.com (no path).")
@click.option("--wait", type=float, default=30.0, show_default=True,
              help="Seconds to wait for FreshBooks' verification handshakes.")
def register(public_url: str, wait: float) -> None:
    """Create or repair the FreshBooks callbacks.

    One verified callback per subscribed event, each on its own receiver path; a second run changes nothing.
    """
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError("--url", public_url, "the receiver's public http(s) URL, e.g. https://hooks.example.com")
    settings = get_settings()
    ledger = _ledger(settings)
    try:
        with FreshBooksClient.from_settings(settings, ledger) as client:
            report = register_callbacks(_api(client), ledger, settings.resolved_secret_key(), public_url,
                                        wait=wait)
    finally:
        ledger.dispose()
    for label, events in (("created", report.created), ("re-verified", report.reverified),
                          ("removed", report.removed), ("unchanged", report.kept)):
        if events:
            click.echo(f"{label}: {', '.join(events)}")
    if not report.changed:
        click.echo("nothing to change: every callback exists and is verified")
    if report.unverified:
        click.echo(f"not verified after {wait:g}s: {', '.join(report.unverified)} — is the receiver running and "
                   f"reachable by FreshBooks at {public_url}? Run this command again once it is.", err=True)
        sys.exit(1)


@webhooks.command("list")
@click.option("--offline", is_flag=True, help="Show the ledger's view only; do not ask FreshBooks.")
def list_command(offline: bool) -> None:
    """Show callbacks and their health.

    Per callback: verified or not (here and at FreshBooks), and when its last verified event arrived.
    """
    settings = get_settings()
    ledger = _ledger(settings)
    try:
        with ledger.begin() as conn:
            rows = cb.list_callbacks(conn)
        remote: dict[str, RemoteCallback] | None = None
        remote_error = ""
        if not offline:
            try:
                with FreshBooksClient.from_settings(settings, ledger) as client:
                    remote = {c.callback_id: c for c in _api(client).list()}
            except FreshcleoError as exc:
                remote_error = str(exc)
    finally:
        ledger.dispose()
    if remote_error:
        click.echo(f"FreshBooks not consulted: {remote_error}", err=True)
    if not rows:
        click.echo("no callbacks registered: run `freshcleo webhooks register --url PUBLIC_URL`")
        return
    for row in rows:
        state = "verified" if row.verified else "NOT verified"
        if remote is not None:
            twin = remote.get(row.callback_id or "")
            state += ("; missing at FreshBooks" if twin is None else
                      "; FreshBooks: verified" if twin.verified else "; FreshBooks: NOT verified")
        click.echo(f"{row.event:<20} callback {row.callback_id or '-':<8} {state}; last event "
                   f"{_when(row.last_event_at)}; {_masked(row.uri, row.path_token)}")


@webhooks.command()
@click.option("--event", default=None, help="Remove only this event's callback (e.g. invoice.update).")
def remove(event: str | None) -> None:
    """Delete callbacks at FreshBooks and in the ledger."""
    settings = get_settings()
    ledger = _ledger(settings)
    try:
        with FreshBooksClient.from_settings(settings, ledger) as client:
            removed = remove_callbacks(_api(client), ledger, event=event)
    finally:
        ledger.dispose()
    click.echo(f"removed: {', '.join(removed)}" if removed else "no callbacks to remove")


COMMANDS = [webhooks]
