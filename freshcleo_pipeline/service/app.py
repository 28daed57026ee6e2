"""The receiver's Starlette application: FreshBooks webhooks, the FreshBooks OAuth redirect, health.

Owns routing and the wiring of the receiver to the ledger and the FreshBooks connection. The webhook logic is
in ``receiver.py``; serving (uvicorn) in ``server.py``. Routes:

- ``POST /webhooks/freshbooks/{path_token}`` — events and the verification handshake (fail closed);
- ``GET /oauth/freshbooks/callback`` — the OAuth redirect; hands the redirect URL (``code``, ``state``) to the
  FreshBooks authorization completion;
- ``GET /healthz`` — 200 when the ledger answers, 503 otherwise.
"""

from __future__ import annotations

import html
import importlib
import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from freshcleo_pipeline.errors import ConfigError, FreshcleoError
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.webhooks import CallbackApi
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.service.receiver import ConfirmVerifier, WebhookReceiver
from freshcleo_pipeline.settings import Settings

log = logging.getLogger(__name__)

OAUTH_MODULE = "freshcleo_pipeline.freshbooks.oauth"
OAUTH_FUNCTION = "complete_authorization_from_redirect"

#: Completes a FreshBooks authorization from the full redirect URL; returns a short, secret-free summary.
OAuthCompleter = Callable[[str], Any]


def create_app(ledger: Ledger, secret_key: bytes, *, max_body_bytes: int, confirm: ConfirmVerifier | None,
               oauth_complete: OAuthCompleter | None = None) -> Starlette:
    receiver = WebhookReceiver(ledger, secret_key, max_body_bytes=max_body_bytes, confirm=confirm)

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(ledger.ping)
        except Exception as exc:  # noqa: BLE001 — any failure means "not healthy", reported, not raised
            log.warning("healthz: ledger %s unreachable: %s", ledger.describe(), type(exc).__name__)
            return JSONResponse({"status": "unhealthy", "ledger": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def oauth_callback(request: Request) -> Response:
        complete = oauth_complete or _default_oauth_completer()
        if complete is None:
            return _page(503, "FreshBooks authorization is not available",
                         "This freshcleo build cannot complete the authorization here. Paste the address of "
                         "this page into `freshcleo connect freshbooks` instead.")
        if "error" in request.query_params:
            reason = request.query_params.get("error_description") or request.query_params["error"]
            return _page(400, "FreshBooks authorization was not granted", reason)
        if not request.query_params.get("code") or not request.query_params.get("state"):
            return _page(400, "Incomplete redirect", "The redirect must carry `code` and `state`.")
        try:
            outcome = await run_in_threadpool(complete, str(request.url))
        except FreshcleoError as exc:
            log.warning("oauth callback: authorization not completed: %s", exc)
            return _page(400, "FreshBooks authorization failed", str(exc))
        log.info("oauth callback: FreshBooks authorization completed")
        return _page(200, "FreshBooks connected", str(outcome) if outcome is not None else
                     "You can close this window.")

    return Starlette(routes=[
        Route("/webhooks/freshbooks/{path_token}", receiver.endpoint, methods=["POST"]),
        Route("/oauth/freshbooks/callback", oauth_callback, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])


def _default_oauth_completer() -> OAuthCompleter | None:
    # Imported lazily: the receiver must start (and take webhooks) even where the OAuth code is unavailable.
    try:
        module = importlib.import_module(OAUTH_MODULE)
    except ImportError:
        return None
    found = getattr(module, OAUTH_FUNCTION, None)
    return found if callable(found) else None


def _page(status: int, title: str, message: str) -> HTMLResponse:
    body = (f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(message)}</p>")
    return HTMLResponse(body, status_code=status)


class ClientConfirmer:
    """Confirms verifiers through the stored FreshBooks connection (the same client the pipeline reads with)."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger

    def __call__(self, account_id: str, callback_id: str, verifier: str) -> None:
        with FreshBooksClient.from_settings(self.settings, self.ledger) as client:
            if client.account_id != account_id:
                raise ConfigError("FreshBooks connection", client.account_id,
                                  f"account {account_id} (the account the callback was registered for)")
            CallbackApi(client.http, client.authenticator, client.account_id).verify(callback_id, verifier)


def build_app(settings: Settings, ledger: Ledger) -> Starlette:
    """The receiver as deployed: the configured ledger, key and body cap, verifiers confirmed via the client."""
    return create_app(ledger, settings.resolved_secret_key(), max_body_bytes=settings.webhook_max_body_bytes,
                      confirm=ClientConfirmer(settings, ledger))
