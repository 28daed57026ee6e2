"""The Cleo part of ``freshcleo ping``: can we log in, and do the partners' folders exist and allow our work.

Owns the Cleo checks only; the command that prints them lives elsewhere. Never writes a probe file: an
outbound folder is a partner's mailbox, so "writable" is read from the folder's permissions, and "readable"
is proven by listing it. Checks report problems as failed ``Check`` lines instead of raising.
"""

from __future__ import annotations

from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.errors import AuthError, ConfigError, FreshcleoError
from freshcleo_pipeline.health import Check
from freshcleo_pipeline.http import RetryPolicy
from freshcleo_pipeline.partners import PartnerDirectory, load_partners
from freshcleo_pipeline.settings import Settings

#: A ping answers within seconds; the pipeline's patient retry policy would hide an outage for minutes.
PING_POLICY = RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=1.0, max_total_wait=2.0)


def cleo_checks(settings: Settings, partners: PartnerDirectory | None = None) -> list[Check]:
    """Authentication, then each enabled partner's folders (``partners`` defaults to the configured file)."""
    try:
        client = CleoClient.from_settings(settings, policy=PING_POLICY, read_timeout=15.0)
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
        try:
            client.authenticate()
        except AuthError as exc:
            return [Check("cleo authentication", False, str(exc),
                          "check CLEO_USERNAME and CLEO_PASSWORD; after 5 failures the account may be locked "
                          "for 15 minutes")]
        except FreshcleoError as exc:
            return [Check("cleo authentication", False, str(exc),
                          f"check that {url} is reachable (CLEO_API_URL; in sandbox mode start "
                          "`freshcleo sandbox serve`)")]
        checks = [Check("cleo authentication", True, f"logged in at {url}")]
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
