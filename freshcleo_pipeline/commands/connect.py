"""``freshcleo connect freshbooks``: authorize freshcleo on a FreshBooks account and store the tokens.

Only wires options to ``freshbooks.oauth``; prints the account id, never a token or a code.
"""

from __future__ import annotations

import click

from freshcleo_pipeline.freshbooks import oauth
from freshcleo_pipeline.ledger import open_ledger
from freshcleo_pipeline.settings import get_settings


@click.group()
def connect() -> None:
    """Authorize freshcleo on an outside service."""


@connect.command("freshbooks")
@click.option("--redirect-url", default=None, help="The URL FreshBooks redirected your browser to.")
@click.option("--code", default=None, help="The bare authorization code (when you cannot paste the URL).")
@click.option("--sandbox-auto", is_flag=True, help="Sandbox only: let the emulator consent, no browser.")
@click.option("--account-id", default=None, help="The account to connect when the user has several.")
def freshbooks(redirect_url: str | None, code: str | None, sandbox_auto: bool, account_id: str | None) -> None:
    """Open the printed URL, approve, then paste the redirect URL (or pass --redirect-url / --code)."""
    settings = get_settings()
    writes = oauth.write_scopes(settings)  # asked beside the read scopes: partners.yaml opts into these writes
    if writes:
        click.echo(f"asking also for the write scopes of the writes partners.yaml opts into: {' '.join(writes)}")
    ledger = open_ledger(settings.resolved_ledger_url())
    try:
        if sandbox_auto or (settings.is_sandbox and redirect_url is None and code is None):
            identity = oauth.sandbox_auto_connect(settings, ledger, account_id=account_id)
        else:
            if redirect_url is None and code is None:
                url, _state = oauth.begin_authorization(settings)
                click.echo("Open this URL, sign in to FreshBooks and approve access:")
                click.echo(f"  {url}")
                redirect_url = click.prompt("Paste the URL you were redirected to (or the code)", type=str)
            pasted = redirect_url if redirect_url is not None else code
            assert pasted is not None
            identity = oauth.connect_with_redirect(settings, ledger, pasted, oauth.pending_state(settings),
                                                   account_id=account_id)
    finally:
        ledger.dispose()
    click.echo(f"connected FreshBooks account {identity.account_id} (business {identity.business_id}, "
               f"{identity.business_name or 'unnamed'})")


COMMANDS = [connect]
