"""``freshcleo db``: create or migrate the ledger database, and show where it stands."""

from __future__ import annotations

import click
from cryptography.fernet import Fernet

from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.ledger.database import head_revision
from freshcleo_pipeline.settings import get_settings


@click.group()
def db() -> None:
    """The ledger database."""


@db.command()
def upgrade() -> None:
    """Create the ledger tables or apply pending migrations."""
    ledger = Ledger(get_settings().resolved_ledger_url())
    revision = ledger.upgrade()
    click.echo(f"ledger {ledger.describe()} is at schema revision {revision}")


@db.command()
def status() -> None:
    """Show the ledger's schema revision against the one this version needs."""
    ledger = Ledger(get_settings().resolved_ledger_url())
    current = ledger.current_revision()
    head = head_revision()
    state = "up to date" if current == head else "needs `freshcleo db upgrade`"
    click.echo(f"ledger {ledger.describe()}: revision {current or 'none'}, code needs {head}: {state}")


@click.command("secret-key")
def secret_key() -> None:
    """Print a new key for FRESHCLEO_SECRET_KEY (encryption of tokens and verifiers at rest)."""
    click.echo(Fernet.generate_key().decode("ascii"))


COMMANDS = [db, secret_key]
