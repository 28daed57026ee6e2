"""``freshcleo matches``: partner documents matched against FreshBooks and what we sent, one line each."""

from __future__ import annotations

import json

import click

from freshcleo_pipeline.ledger import open_ledger
from freshcleo_pipeline.settings import get_settings
from freshcleo_pipeline.sync.match_review import line, listing

_STATUSES = ("matched", "mismatched", "unmatched", "answered", "unanswered", "reported")


@click.command("matches")
@click.option("--status", "statuses", multiple=True, type=click.Choice(_STATUSES),
              help="Only these results (repeatable); default all.")
@click.option("--partner", default=None, help="Only this partner's documents.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, for machines.")
def matches(statuses: tuple[str, ...], partner: str | None, as_json: bool) -> None:
    """Partner documents (their 810s, 850s, 820s) and what each matched; newest first."""
    ledger = open_ledger(get_settings().resolved_ledger_url())
    try:
        rows = listing(ledger, status=statuses, partner_id=partner)
    finally:
        ledger.dispose()
    if not rows:
        click.echo("no partner documents matched yet" + (f" with status {', '.join(statuses)}" if statuses else ""))
        return
    for row in rows:
        if as_json:
            click.echo(json.dumps({"partner": row.partner_id, "set": row.transaction_set, "reference": row.reference,
                                   "status": row.status, "differences": row.differences,
                                   "freshbooks": {"kind": row.freshbooks_kind, "id": row.freshbooks_id},
                                   "our_reference": row.our_reference, "our_isa13": row.our_isa13,
                                   "detail": row.detail, "checked_at": row.checked_at.isoformat()}, default=str))
        else:
            click.echo(line(row))


COMMANDS = [matches]
