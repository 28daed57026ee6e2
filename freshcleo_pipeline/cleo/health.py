"""The Cleo part of ``freshcleo ping``: can we log in, and do the partners' folders exist and allow our work.

Owns the Cleo checks only; the command that prints them lives elsewhere. Never writes a probe file: an
outbound folder is a partner's mailbox, so "writable" is read from the folder's permissions, and "readable"
is proven by listing it. Checks report problems as failed ``Check`` lines instead of raising.

A login cool-down (a refused login remembered in the ledger, see ``auth.LoginGuard``) is reported, and ping
makes its one login attempt anyway: it is what a person runs after fixing the password, and the pipeline's
refusal message tells them to. Success ends the cool-down so schedules resume at once; another refusal extends
it. Ping makes exactly one attempt per invocation, never a loop.
"""

from __future__ import annotations

import datetime as dt

from freshcleo_pipeline.cleo.auth import LoginGuard, Pause
from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.errors import AuthError, ConfigError, FreshcleoError
from freshcleo_pipeline.health import Check
from freshcleo_pipeline.http import RetryPolicy
from freshcleo_pipeline.partners import PartnerDirectory, load_partners
from freshcleo_pipeline.settings import Settings

#: A ping answers within seconds; the pipeline's patient retry policy would hide an outage for minutes.
PING_POLICY = RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=1.0, max_total_wait=2.0)


class _OneAttempt:
    """The guard as ping uses it: remembers the cool-down in force, but lets this one attempt through."""

    def __init__(self, guard: LoginGuard) -> None:
        self._guard = guard
        self.paused = guard.check()

    def check(self) -> Pause | None:
        return None

    def refused(self, reason: str) -> Pause | None:
        return self._guard.refused(reason)

    def succeeded(self) -> None:
        self._guard.succeeded()


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def cleo_checks(settings: Settings, partners: PartnerDirectory | None = None,
                guard: LoginGuard | None = None) -> list[Check]:
    """Authentication, then each enabled partner's folders (``partners`` defaults to the configured file).

    ``guard`` is the shared memory of refused logins (the ledger's cool-down); without it nothing is recorded.
    """
    try:
        once = _OneAttempt(guard) if guard is not None else None
    except FreshcleoError as exc:
        return [Check("cleo login cool-down", False, str(exc), "check FRESHCLEO_LEDGER_URL")]
    try:
        client = CleoClient.from_settings(settings, policy=PING_POLICY, read_timeout=15.0, guard=once)
    except ConfigError as exc:
        return [Check("cleo configuration", False, str(exc), "set CLEO_API_URL, CLEO_USERNAME and CLEO_PASSWORD")]
    if partners is None:
        try:
            partners = load_partners(settings.resolved_partners_file())
        except ConfigError as exc:
            client.close()
            return [Check("cleo partner folders", False, str(exc), "fix FRESHCLEO_PARTNERS_FILE")]
    with client:
        url = client.http.base_url
        paused = once.paused if once is not None else None
        earlier = (f"a login cool-down was in force until {_stamp(paused.until)} (after: {paused.reason}); "
                   if paused is not None else "")
        try:
            client.authenticate()
        except AuthError as exc:
            return [Check("cleo authentication", False, f"{earlier}{exc}",
                          "check CLEO_USERNAME and CLEO_PASSWORD, then ping again; after 5 failures within 60 s "
                          "the account may be locked for 15 minutes")]
        except FreshcleoError as exc:
            return [Check("cleo authentication", False, str(exc),
                          f"check that {url} is reachable (CLEO_API_URL; in sandbox mode start "
                          "`freshcleo sandbox serve`)")]
        ended = (f"; ended the login cool-down that was in force until {_stamp(paused.until)}"
                 if paused is not None else "")
        checks = [Check("cleo authentication", True, f"logged in at {url}{ended}")]
        try:
            client.folders()
        except FreshcleoError as exc:
            return [*checks, Check("cleo folders", False, str(exc), "check the Cleo user's folder access")]
        for partner in partners.partners:
            if partner.enabled:
                checks.extend(_partner_checks(client, partner.id, partner.cleo.outbound, partner.cleo.inbound,
                                              partner.cleo.archive))
        return checks


def _partner_checks(client: CleoClient, partner_id: str, outbound: str, inbound: str,
                    archive: str) -> list[Check]:
    wanted = [("outbound", outbound, "upload"), ("inbound", inbound, "download")]
    if archive:
        wanted.append(("archive", archive, ""))
    checks: list[Check] = []
    for role, path, permission in wanted:
        name = f"cleo {partner_id} {role} folder {path}"
        fix = f"create {path!r} in Cleo for partner {partner_id} or correct cleo.{role} in partners.yaml"
        try:
            folder = client.folder(path)
            count = client.count_files(path)
        except FreshcleoError as exc:
            checks.append(Check(name, False, str(exc), fix))
            continue
        if permission and permission not in folder.permissions:
            checks.append(Check(name, False, f"the Cleo user lacks {permission!r} permission "
                                f"(has {sorted(folder.permissions)})", f"grant {permission} on {path!r}"))
            continue
        checks.append(Check(name, True, f"{'writable and ' if permission == 'upload' else ''}readable, "
                            f"{count} file(s)"))
    return checks
