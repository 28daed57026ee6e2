"""``freshcleo ping``: one line per connectivity check (FreshBooks, Cleo), non-zero exit on any failure."""

from __future__ import annotations

import importlib
import sys

import click

from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.freshbooks.health import freshbooks_checks
from freshcleo_pipeline.health import Check
from freshcleo_pipeline.ledger import Ledger, open_ledger
from freshcleo_pipeline.ledger.cooldowns import LedgerLoginGuard, cleo_login_guard
from freshcleo_pipeline.settings import Settings, get_settings


def _login_guard(settings: Settings, ledger: Ledger | None) -> LedgerLoginGuard | None:
    """The ledger's Cleo login cool-down (reported, and ended by a successful ping), when both are known."""
    if ledger is None:
        return None
    try:
        return cleo_login_guard(ledger, settings.resolved_cleo_api_url(), settings.resolved_cleo_username(),
                                settings.cleo_login_cooldown_seconds)
    except FreshcleoError:
        return None  # the Cleo checks report the missing setting themselves


def _cleo_checks(settings: Settings, ledger: Ledger | None) -> list[Check]:
    try:
        module = importlib.import_module("freshcleo_pipeline.cleo.health")
    except ModuleNotFoundError as exc:
        if exc.name != "freshcleo_pipeline.cleo.health":
            raise
        return []
    checks: list[Check] = module.cleo_checks(settings, guard=_login_guard(settings, ledger))
    return checks


@click.command()
def ping() -> None:
    """Check that FreshBooks and Cleo answer and that the stored credentials work.

    A Cleo login cool-down (after a refused login) is reported; ping still makes its one login attempt, and a
    success ends the cool-down.
    """
    settings = get_settings()
    checks: list[Check] = []
    ledger: Ledger | None = None
    try:
        ledger = open_ledger(settings.resolved_ledger_url())
    except FreshcleoError as exc:
        checks.append(Check("ledger", False, str(exc), "check FRESHCLEO_LEDGER_URL, then `freshcleo db upgrade`"))
    try:
        if ledger is not None:
            checks.extend(freshbooks_checks(settings, ledger))
        cleo = _cleo_checks(settings, ledger)
    finally:
        if ledger is not None:
            ledger.dispose()
    for check in checks + cleo:
        click.echo(check.line())
    if not cleo:
        click.echo("skip cleo: no Cleo checks in this build yet")
    if not all(check.ok for check in checks + cleo):
        sys.exit(1)


COMMANDS = [ping]
