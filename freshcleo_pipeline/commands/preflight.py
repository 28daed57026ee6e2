"""Before a run is launched: do FreshBooks and Cleo answer, and does the ledger open? One line if not.

A run started against a stopped sandbox retries for minutes and ends in pages of traceback; a person wants to
hear at once what is down and how to bring it up. So each endpoint gets one quick HTTP request (a few seconds
at most): only a refused connection, a timeout or a name that does not resolve counts as unreachable. Any HTTP
answer proves the host is up; a Cleo login that is refused is reported as a refusal (with its fix), since
retrying the run would not help either. Never prints a credential: messages name URLs and settings only.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import requests

from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.cleo.health import PING_POLICY
from freshcleo_pipeline.errors import AuthError, FreshcleoError
from freshcleo_pipeline.ledger import open_ledger
from freshcleo_pipeline.settings import Settings

#: (connect, read) seconds for each probe: enough for a loaded machine, short enough to answer "is it up?".
PROBE_TIMEOUT = (2.0, 3.0)


class Unreachable(FreshcleoError):
    """A system the run needs does not answer (or refuses us); the message is the one line to print."""


@dataclass(frozen=True)
class Target:
    name: str  # "FreshBooks", "Cleo"
    url: str
    setting: str  # the variable that points at it


def _why(exc: requests.RequestException) -> str | None:
    """Why the host did not answer, or None when the failure is not about reachability."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        cause: BaseException | None = exc
        while cause is not None:  # urllib3 wraps the socket error a few levels down
            if isinstance(cause, socket.gaierror):
                return "host name does not resolve"
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "host name does not resolve"
        if "refused" in text.lower():
            return "connection refused"
        return "connection failed"
    return None


def _fix(target: Target, sandbox: bool) -> str:
    start = "start the sandbox with `make sandbox` or " if sandbox else "check the network or "
    return f"{start}set {target.setting}"


def probe(target: Target, sandbox: bool) -> None:
    """One request to the target's base URL; raises ``Unreachable`` when nothing answers there."""
    try:
        requests.get(target.url, timeout=PROBE_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        why = _why(exc) or type(exc).__name__
        raise Unreachable(f"{target.name} at {target.url} does not answer ({why}): {_fix(target, sandbox)}") from None


def cleo_login(settings: Settings) -> None:
    """Cleo answers: does it accept our login? A refusal is said as such, not as an outage."""
    try:
        client = CleoClient.from_settings(settings, policy=PING_POLICY, read_timeout=PROBE_TIMEOUT[1])
    except FreshcleoError as exc:
        raise Unreachable(f"Cleo is not configured: {exc}") from None
    with client:
        try:
            client.authenticate()
        except AuthError as exc:
            raise Unreachable(f"Cleo at {client.http.base_url} refused the login ({_first_line(exc)}): check "
                              "CLEO_USERNAME and CLEO_PASSWORD, then `freshcleo ping`") from None


def ledger_opens(settings: Settings) -> None:
    try:
        open_ledger(settings.resolved_ledger_url()).dispose()
    except FreshcleoError as exc:
        raise Unreachable(f"the ledger does not open ({_first_line(exc)}): check FRESHCLEO_LEDGER_URL, then "
                          "`freshcleo db upgrade`") from None


def check(settings: Settings) -> None:
    """Ledger, FreshBooks, Cleo — the first that fails raises ``Unreachable`` with its one line."""
    ledger_opens(settings)
    sandbox = settings.is_sandbox
    probe(Target("FreshBooks", settings.resolved_freshbooks_api_url(), "FRESHBOOKS_API_URL"), sandbox)
    probe(Target("Cleo", settings.resolved_cleo_api_url(), "CLEO_API_URL"), sandbox)
    cleo_login(settings)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
