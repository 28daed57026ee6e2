"""``freshcleo quarantine list | show | retry | dismiss``: the input set aside, and a person's decisions on it.

Retry marks the entry for another attempt and runs the stage that owns it on this machine's Dagster instance
(the sync of the entry's day and today for FreshBooks records, the inbound poll for files), so the attempt is a
run like any other in the UI; the entry then says what became of it.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.ledger import Connection, open_ledger, quarantine
from freshcleo_pipeline.ledger.quarantine import Entry
from freshcleo_pipeline.settings import get_settings

_STATES = click.Choice([*quarantine.STATES, "all"])

#: What each state asks of a person, as `list` and `show` print it.
MEANING = {
    quarantine.OPEN: "set aside; fix the cause, then retry it, or dismiss it with a reason",
    quarantine.RETRYING: "another attempt was asked for; the stage's next run takes it",
    quarantine.RESOLVED: "processed after all",
    quarantine.DISMISSED: "set aside for good by a person",
}


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


@contextmanager
def _transaction() -> Iterator[Connection]:
    """One ledger transaction; a refused decision (``ValueError`` naming the entry) becomes the CLI's error line."""
    ledger = open_ledger(get_settings().resolved_ledger_url())
    try:
        with ledger.begin() as conn:
            yield conn
    except ValueError as exc:
        raise FreshcleoError(str(exc)) from None
    finally:
        ledger.dispose()


def _entry_or_fail(entry_id: int) -> Entry:
    with _transaction() as conn:
        entry = quarantine.get(conn, entry_id)
    if entry is None:
        raise FreshcleoError(f"quarantine id {entry_id}: no such entry (see `freshcleo quarantine list`)")
    return entry


@click.group("quarantine")
def quarantine_group() -> None:
    """Input set aside instead of processed: FreshBooks records and inbound files, with their reasons."""


@quarantine_group.command("list")
@click.option("--state", type=_STATES, default=None, help="Only this state (default: open and retrying).")
@click.option("--stage", type=click.Choice(quarantine.STAGES), default=None)
@click.option("--partner", default=None, help="Only this trading partner's files.")
@click.option("--limit", default=200, show_default=True, type=int)
def list_command(state: str | None, stage: str | None, partner: str | None, limit: int) -> None:
    """Entries waiting for a person (or, with --state, any state)."""
    states = quarantine.PENDING if state is None else quarantine.STATES if state == "all" else (state,)
    with _transaction() as conn:
        rows = quarantine.entries(conn, states=states, stage=stage, partner_id=partner, limit=limit)
    if not rows:
        click.echo("quarantine: nothing " + ("waiting" if state is None else f"in state {state}"))
        return
    click.echo(f"{'id':>5}  {'state':<9} {'stage':<9} {'kind':<12} {'reference':<24} {'partner':<16} "
               f"{'seen':>4}  {'last seen':<20} reason")
    for e in rows:
        click.echo(f"{e.id:>5}  {e.state:<9} {e.stage:<9} {e.kind:<12} {e.reference[:24]:<24} "
                   f"{(e.partner_id or '-')[:16]:<16} {e.occurrences:>4}  {_when(e.last_seen_at):<20} "
                   f"{e.reason_code}: {e.reason[:100]}")


@quarantine_group.command("show")
@click.argument("entry_id", type=int)
@click.option("--raw", "raw_path", type=click.Path(dir_okay=False), default=None,
              help="Write the raw input (as received) to this file.")
def show(entry_id: int, raw_path: str | None) -> None:
    """One entry whole: the reason, the field and value, where it came from, what became of it."""
    entry = _entry_or_fail(entry_id)
    lines = [
        f"quarantine {entry.id}: {entry.state} ({MEANING[entry.state]})",
        f"  stage        {entry.stage}",
        f"  input        {entry.kind} {entry.reference}" + (f" from partner {entry.partner_id}"
                                                            if entry.partner_id else ""),
        f"  item         {entry.item_key}",
        f"  reason       {entry.reason_code}: {entry.reason}",
    ]
    if entry.field is not None:
        lines.append(f"  field        {entry.field} = {entry.value}")
    if entry.partition_date is not None:
        lines.append(f"  partition    {entry.partition_date.isoformat()}")
    lines += [
        f"  raw input    {entry.raw_size if entry.raw_size is not None else '?'} bytes, digest {entry.digest}",
        f"  seen         {entry.occurrences} time(s), first {_when(entry.first_seen_at)}, "
        f"last {_when(entry.last_seen_at)}" + (f" (run {entry.run_id})" if entry.run_id else ""),
    ]
    if entry.closed_at is not None:
        lines.append(f"  closed       {_when(entry.closed_at)}: {entry.resolution}")
    for key, value in sorted(entry.detail.items()):
        lines.append(f"  {key:<12} {value}")
    click.echo("\n".join(lines))
    if raw_path is not None:
        with _transaction() as conn:
            raw = quarantine.raw_of(conn, entry_id)
        if raw is None:
            raise FreshcleoError(f"quarantine {entry_id}: no raw input was kept (it was over the kept size or "
                                 "never downloaded whole)")
        Path(raw_path).write_bytes(raw)
        click.echo(f"raw input written to {raw_path} ({len(raw)} bytes)")


@quarantine_group.command("dismiss")
@click.argument("entry_id", type=int)
@click.option("--reason", required=True, help="Why this input is set aside for good (kept in the ledger).")
def dismiss(entry_id: int, reason: str) -> None:
    """Set an entry aside for good, saying why; the same input coming back stays dismissed."""
    with _transaction() as conn:
        entry = quarantine.dismiss(conn, entry_id, reason)
    click.echo(f"quarantine {entry.id} dismissed: {entry.resolution}")


@quarantine_group.command("retry")
@click.argument("entry_id", type=int)
@click.option("--no-run", is_flag=True, help="Only mark it; the stage's next scheduled run takes it.")
def retry(entry_id: int, no_run: bool) -> None:
    """Ask for another attempt and run the stage that owns the entry now."""
    settings = get_settings()
    with _transaction() as conn:
        entry = quarantine.request_retry(conn, entry_id)
    click.echo(f"quarantine {entry.id} ({entry.stage} {entry.kind} {entry.reference}): retry requested")
    if no_run:
        return
    from freshcleo_pipeline.commands import pipeline

    if entry.stage == "inbound":
        ok = pipeline.run_inbound(settings, "quarantine_retry").success
    else:
        # A record fixed in FreshBooks changes today; an unchanged one is found again in its own day.
        today = dt.datetime.now(dt.UTC).date()
        days = sorted({today, *([entry.partition_date] if entry.partition_date else [])})
        ok = all(pipeline.run_range(settings, day, day, 1, "quarantine_retry") for day in days)
    after = _entry_or_fail(entry_id)
    click.echo(f"quarantine {after.id}: {after.state}" + (f" ({after.resolution})" if after.resolution else
                                                            f" ({after.reason_code}: {after.reason})"))
    if not ok or after.state in quarantine.PENDING:
        sys.exit(1)


COMMANDS = [quarantine_group]
