"""FreshBooks connectivity checks for ``freshcleo ping``: reachability, stored grant, token, refresh, identity,
scopes, account access.

Owns what each check does and the cause/fix it prints; never prints a token. The refresh check really rotates
the pair (a single-use refresh token can only be proven by using it) and the vault stores the new pair before
anything uses it, so running ping is safe at any time, beside a running pipeline too.
"""

from __future__ import annotations

import datetime as dt

import requests

from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.oauth import IDENTITY_PATH, choose_business, connect_app
from freshcleo_pipeline.health import Check
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.ledger.tokens import utc_now
from freshcleo_pipeline.settings import Settings

CONNECT_FIX = "run `freshcleo connect freshbooks`"


def _reachability(settings: Settings) -> Check:
    url = settings.resolved_freshbooks_api_url().rstrip("/") + IDENTITY_PATH
    try:
        # Without a token the identity endpoint must answer 401: that proves the host is FreshBooks-shaped.
        response = requests.get(url, timeout=(5, 15), allow_redirects=False)
    except requests.RequestException as exc:
        fix = ("start the emulator with `freshcleo sandbox serve`" if settings.is_sandbox
               else "check FRESHBOOKS_API_URL and the network")
        return Check("freshbooks reachable", False, f"{url}: {type(exc).__name__}", fix)
    ok = response.status_code in (200, 401, 403)
    return Check("freshbooks reachable", ok, f"{settings.resolved_freshbooks_api_url()} answered HTTP "
                 f"{response.status_code}", "" if ok else "check FRESHBOOKS_API_URL")


def freshbooks_checks(settings: Settings, ledger: Ledger) -> list[Check]:
    checks = [_reachability(settings)]
    if not checks[0].ok:
        return checks
    try:
        client = FreshBooksClient.from_settings(settings, ledger)
    except FreshcleoError as exc:
        checks.append(Check("freshbooks authorization stored", False, str(exc), CONNECT_FIX))
        return checks
    with client:
        grant = client.authenticator.grant
        checks.append(Check("freshbooks authorization stored", True, f"account {client.account_id}"))

        try:
            me = client.identity()
            current = client.authenticator.grant
            assert current.tokens is not None
            left = current.tokens.expires_at - utc_now()
            checks.append(Check("freshbooks access token", True,
                                f"accepted; expires in {_hours(left)}"))
        except FreshcleoError as exc:
            checks.append(Check("freshbooks access token", False, str(exc), CONNECT_FIX))
            return checks

        try:
            rotated = client.authenticator.force_refresh()
            client.identity()
            assert rotated.tokens is not None
            checks.append(Check("freshbooks token refresh", True,
                                f"rotated and stored; new token valid until "
                                f"{rotated.tokens.expires_at:%Y-%m-%d %H:%M} UTC"))
        except FreshcleoError as exc:
            checks.append(Check("freshbooks token refresh", False, str(exc), CONNECT_FIX))

        try:
            identity = choose_business(me, client.account_id)
            same = (identity.business_id == (grant.business_id or identity.business_id))
            checks.append(Check("freshbooks identity", same,
                                f"account {identity.account_id}, business {identity.business_id} "
                                f"({identity.business_name})",
                                "" if same else f"the stored business id differs; {CONNECT_FIX}"))
        except FreshcleoError as exc:
            checks.append(Check("freshbooks identity", False, str(exc), CONNECT_FIX))

        granted = client.authenticator.grant.scopes
        # The opted-in writes' scopes too: a grant without them would only fail at the first write.
        missing = connect_app(settings).required_scopes - granted
        checks.append(Check("freshbooks scopes", not missing,
                            f"{len(granted)} granted" if not missing else f"missing {' '.join(sorted(missing))}",
                            f"add the scopes to the app and {CONNECT_FIX}"))

        try:
            body = client.get_json(f"/accounting/account/{client.account_id}/invoices/invoices",
                                   [("page", "1"), ("per_page", "1")])
            total = body["response"]["result"]["total"]
            checks.append(Check("freshbooks invoices readable", True, f"{total} invoices"))
        except (FreshcleoError, KeyError, TypeError) as exc:
            checks.append(Check("freshbooks invoices readable", False, str(exc),
                                f"check the user's role and scopes; {CONNECT_FIX}"))
    return checks


def _hours(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 0:
        return "already (it will be refreshed)"
    return f"{minutes // 60}h{minutes % 60:02d}m"
