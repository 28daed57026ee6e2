"""``freshcleo sandbox serve``: both emulators on loopback, seeded, until interrupted."""

from __future__ import annotations

import time

import click

from freshcleo_pipeline.sandbox.launcher import SANDBOX_BOOK_DAYS, SANDBOX_SEED, books_anchor, start_sandbox
from freshcleo_pipeline.settings import (
    SANDBOX_CLEO_PASSWORD,
    SANDBOX_CLEO_PORT,
    SANDBOX_CLEO_USERNAME,
    SANDBOX_FRESHBOOKS_CLIENT_ID,
    SANDBOX_FRESHBOOKS_CLIENT_SECRET,
    SANDBOX_FRESHBOOKS_PORT,
    get_settings,
)


@click.group()
def sandbox() -> None:
    """The embedded FreshBooks and Cleo emulators."""


@sandbox.command()
@click.option("--freshbooks-port", default=SANDBOX_FRESHBOOKS_PORT, show_default=True, type=int)
@click.option("--cleo-port", default=SANDBOX_CLEO_PORT, show_default=True, type=int)
@click.option("--seed", default=SANDBOX_SEED, show_default=True, type=int,
              help="Same seed, same books (ending when this data folder's first sandbox started).")
@click.option("--invoices", default=240, show_default=True, type=int, help="Invoices in the generated books.")
@click.option("--days", default=SANDBOX_BOOK_DAYS, show_default=True, type=float,
              help="Days of history the books hold before their anchor.")
@click.option("--ack-delay", default=0.0, show_default=True, type=float,
              help="Seconds before a partner's 997 appears in its inbound folder.")
@click.option("--pickup-delay", default=3.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds before Cleo consumes an uploaded file from an outbound folder (0 = at once).")
@click.option("--no-pickup", is_flag=True, help="Uploaded files stay in the outbound folders (never consumed).")
def serve(freshbooks_port: int, cleo_port: int, seed: int, invoices: int, days: float, ack_delay: float,
          pickup_delay: float, no_pickup: bool) -> None:
    """Serve both emulators until Ctrl-C."""
    settings = get_settings()
    running = start_sandbox(partners_file=settings.resolved_partners_file(), freshbooks_port=freshbooks_port,
                            cleo_port=cleo_port, seed=seed, invoices=invoices, days=days, ack_delay=ack_delay,
                            redirect_uris=(settings.resolved_freshbooks_redirect_uri(),),
                            pickup_delay=None if no_pickup else pickup_delay,
                            anchor=books_anchor(settings.data_dir, seed))
    click.echo(f"FreshBooks emulator: {running.freshbooks.url}  (account {running.freshbooks.account_id})")
    click.echo(f"  OAuth client id {SANDBOX_FRESHBOOKS_CLIENT_ID}, secret {SANDBOX_FRESHBOOKS_CLIENT_SECRET}")
    click.echo(f"Cleo emulator:       {running.cleo.url}")
    click.echo(f"  API user {SANDBOX_CLEO_USERNAME}, password {SANDBOX_CLEO_PASSWORD}")
    click.echo("  uploads stay in outbound folders" if no_pickup else
               f"  uploads consumed {pickup_delay:g} s after upload (see GET /_sandbox/received)")
    click.echo("Control API under /_sandbox/ on both. Ctrl-C stops.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


COMMANDS = [sandbox]
