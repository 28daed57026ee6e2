"""``freshcleo ping``: one line per connectivity check (FreshBooks, Cleo), non-zero exit on any failure."""

from __future__ import annotations

import importlib
import sys

import click

from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.freshbooks.health import freshbooks_checks
from freshcleo_pipeline.health import Check
from freshcleo_pipeline.ledger import open_ledger
from freshcleo_pipeline.settings import Settings, get_settings


def _cleo_checks(settings: Settings) -> list[Check]:
    try:
        module = importlib.import_module("freshcleo_pipeline.cleo.health")
    except ModuleNotFoundError as exc:
        if exc.name != "freshcleo_pipeline.cleo.health":
            raise
        return []
    checks: list[Check] = module.cleo_checks(settings)
    return checks


@click.command()
def ping() -> None:
    """Check that FreshBooks and Cleo answer and that the stored credentials work."""
    settings = get_settings()
    checks: list[Check] = []
    try:
        ledger = open_ledger(settings.resolved_ledger_url())
    except FreshcleoError as exc:
        checks.append(Check("ledger", False, str(exc), "check FRESHCLEO_LEDGER_URL, then `freshcleo db upgrade`"))
    else:
        try:
            checks.extend(freshbooks_checks(settings, ledger))
        finally:
            ledger.dispose()
    cleo = _cleo_checks(settings)
    for check in checks + cleo:
        click.echo(check.line())
    if not cleo:
        click.echo("skip cleo: no Cleo checks in this build yet")
    if not all(check.ok for check in checks + cleo):
        sys.exit(1)


COMMANDS = [ping]
