"""``freshcleo demo | sync | backfill | inbound | trace | resend | ui``: running and inspecting the pipeline."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click
import requests

from freshcleo_pipeline.cleo.client import CleoClient
from freshcleo_pipeline.commands import preflight
from freshcleo_pipeline.errors import ConfigError, FreshcleoError
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect
from freshcleo_pipeline.ledger import Ledger, open_ledger, partner_documents, partner_matches, summaries
from freshcleo_pipeline.ledger import outbox as outbox_ops
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.sandbox.launcher import (
    SANDBOX_BOOK_DAYS,
    SANDBOX_SEED,
    Sandbox,
    books_anchor,
    start_sandbox,
)
from freshcleo_pipeline.service.local import register_local, start_receiver
from freshcleo_pipeline.service.server import BackgroundServer
from freshcleo_pipeline.settings import (
    SANDBOX_CLEO_PORT,
    SANDBOX_FRESHBOOKS_PORT,
    Settings,
    get_settings,
    load_settings,
)
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.match_review import open_mismatches
from freshcleo_pipeline.sync.resend import pending_decisions
from freshcleo_pipeline.sync.resend import resend as resend_delivery
from freshcleo_pipeline.sync.trace import find
from freshcleo_pipeline.sync.trace import trace as trace_document

DATE = click.DateTime(formats=["%Y-%m-%d"])


def runner() -> Any:
    """The Dagster runner, imported on first use so commands that need no Dagster start fast."""
    from freshcleo_pipeline.defs import runner as module

    return module


def _describe(result: Any) -> str:
    checks = ", ".join(f"{name} {'passed' if passed else 'FAILED'}" for name, passed in runner().check_results(result))
    return f"run {result.run_id} {'ok' if result.success else 'FAILED'}" + (f"; {checks}" if checks else "")


def _notice(line: str) -> None:
    click.echo(line, err=True)


def _instance() -> Any:
    """This machine's Dagster instance, healed first: runs of this host whose process died (kill -9, OOM, power
    loss) are marked failed and their pool slots freed, one line each, before this command starts its own."""
    instance = runner().local_instance()
    runner().heal_instance(instance, echo=_notice)
    return instance


def run_inbound(settings: Settings, trigger: str) -> Any:
    result = runner().run_job(settings, "inbound_job", _instance(), tags={"freshcleo/trigger": trigger},
                              echo=_notice)
    click.echo(f"inbound poll: {_describe(result)}")
    return result


def _start_sandbox(settings: Settings) -> tuple[Sandbox, Settings]:
    """Both emulators on the sandbox ports when free (else on free ports), and settings pointing at them."""
    options: dict[str, Any] = {"partners_file": settings.resolved_partners_file(),
                               "redirect_uris": (settings.resolved_freshbooks_redirect_uri(),),
                               "anchor": books_anchor(settings.data_dir, SANDBOX_SEED)}
    try:
        running = start_sandbox(freshbooks_port=SANDBOX_FRESHBOOKS_PORT, cleo_port=SANDBOX_CLEO_PORT, **options)
    except OSError:
        running = start_sandbox(**options)
    overrides = {"freshbooks_api_url": running.freshbooks.url, "freshbooks_auth_url": running.freshbooks.url,
                 "cleo_api_url": running.cleo.url}
    for variable, value in (("FRESHBOOKS_API_URL", running.freshbooks.url),
                            ("FRESHBOOKS_AUTH_URL", running.freshbooks.url), ("CLEO_API_URL", running.cleo.url)):
        os.environ[variable] = value
    get_settings.cache_clear()
    return running, load_settings(**overrides)


def _context(settings: Settings, ledger: Ledger) -> SyncContext:
    return SyncContext(settings=settings, ledger=ledger, partners=load_partners(settings.resolved_partners_file()),
                       freshbooks=lambda: FreshBooksClient.from_settings(settings, ledger),
                       cleo=lambda: CleoClient.from_settings(settings))


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    if last < first:
        raise click.BadParameter(f"--to {last} is before --from {first}")
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _reachable(settings: Settings) -> None:
    """Ledger, FreshBooks and Cleo answer, or one line naming what does not (and its fix) and exit 1: a run
    launched against a stopped sandbox would retry for minutes and end in pages of traceback."""
    try:
        preflight.check(settings)
    except preflight.Unreachable as exc:
        click.echo(f"freshcleo: {exc}", err=True)
        sys.exit(1)


def run_range(settings: Settings, first: dt.date, last: dt.date, chunk: int, trigger: str) -> bool:
    days = _days(first, last)
    instance = _instance()
    ok = True
    for start in range(0, len(days), chunk):
        part = days[start:start + chunk]
        result = runner().run_sync(settings, part[0], part[-1], instance, tags={"freshcleo/trigger": trigger},
                                   echo=_notice)
        click.echo(f"sync {part[0]}..{part[-1]}: {_describe(result)}")
        ok = ok and result.success
    return ok


@click.command()
@click.option("--days", default=7, show_default=True, type=int,
              help="Partitions to sync, ending today (UTC); at least the whole of the sandbox's books.")
def demo(days: int) -> None:
    """Run the whole job on the embedded sandbox: sync the last days, collect the 997s, print a summary."""
    settings = get_settings()
    if not settings.is_sandbox:
        raise ConfigError("FRESHCLEO_MODE", settings.mode.value, "sandbox for the demo (it starts the emulators)")
    running, settings = _start_sandbox(settings)
    ledger = open_ledger(settings.resolved_ledger_url())
    try:
        click.echo(f"sandbox: FreshBooks {running.freshbooks.url}, Cleo {running.cleo.url}")
        identity = sandbox_auto_connect(settings, ledger)
        click.echo(f"connected FreshBooks account {identity.account_id} (sandbox auto-consent)")
        before = _tally(ledger)
        today = dt.datetime.now(dt.UTC).date()
        # At least the last ``days``, and the whole of the sandbox's books, which may end days ago.
        anchor = books_anchor(settings.data_dir, SANDBOX_SEED).date()
        first = min(today - dt.timedelta(days=days - 1), anchor - dt.timedelta(days=math.ceil(SANDBOX_BOOK_DAYS)))
        sync_ok = run_range(settings, first, today, 31, "demo")
        _wait_for_pickup(running)
        running.cleo.deliver_due_acks()
        _say_seeded(running)
        inbound = run_inbound(settings, "demo")
        _print_deltas(before, _tally(ledger))
        _print_summary(ledger, _days(first, today))
        _print_matches(ledger, settings)
        _write_reports(ledger, settings, first, today)
        click.echo("\nOpen the Dagster UI on the same instance and sandbox with: make ui")
        if not (sync_ok and inbound.success):
            sys.exit(1)
    finally:
        ledger.dispose()
        running.stop()


def _wait_for_pickup(running: Sandbox, limit: float = 30.0) -> None:
    """The sandbox's Cleo picks uploads up a few seconds after they arrive, as CIC routes them on; the partners
    answer on receipt, so the demo's inbound poll waits for that instead of finding the 997s missing."""
    waiting = running.cleo.pickup.waiting()
    if not waiting:
        return
    click.echo(f"waiting for Cleo to pick up {waiting} uploaded file(s) and route them to the partners …")
    deadline = time.monotonic() + limit
    while running.cleo.pickup.waiting() and time.monotonic() < deadline:
        time.sleep(0.2)
        running.cleo.pickup_due()


def _say_seeded(running: Sandbox) -> None:
    """The emulated partners' own documents, in their folders since the sandbox started, and the suppliers'
    invoices answering the 850s we just delivered: what the inbound poll is about to read."""
    seeded = Counter(f"{d.partner_id} {d.kind}" for d in running.seeded_partner_documents)
    answered = Counter(a.variant for a in running.cleo.supplier_answers_made())
    click.echo("partners' own documents waiting: " + (", ".join(f"{k}: {n}" for k, n in sorted(seeded.items()))
                                                      or "none"))
    if answered:
        click.echo("suppliers invoiced our 850s: " + ", ".join(f"{k}: {n}" for k, n in sorted(answered.items())))


def _print_matches(ledger: Ledger, settings: Settings) -> None:
    with ledger.begin() as conn:
        counts = partner_matches.counts(conn)
    click.echo("Partner documents matched (partner, transaction set, result: count)")
    for partner, transaction_set, status, count in sorted(counts):
        click.echo(f"  {partner:<18} {transaction_set:<4} {status:<15} {count}")
    if not counts:
        click.echo("  none")
    mismatched = open_mismatches(ledger, limit=10)
    if mismatched:
        click.echo("  mismatches (all: freshcleo matches --status mismatched):")
        for line in mismatched:
            click.echo(f"    {line}")
    if settings.freshbooks_read_only:
        click.echo("Nothing was written to FreshBooks (read-only, the default).")


def _write_reports(ledger: Ledger, settings: Settings, first: dt.date, last: dt.date) -> None:
    """The monthly reconciliation of each month the demo touched, as a finance person opens it."""
    from freshcleo_pipeline.reports import files as report_files  # pandas only for the commands that need it
    from freshcleo_pipeline.reports.reconciliation import monthly_reconciliation

    months = sorted({dt.date(d.year, d.month, 1) for d in _days(first, last)})
    out = settings.data_dir / "reports"
    partners = load_partners(settings.resolved_partners_file())
    now = dt.datetime.now(dt.UTC)
    paths = [p for month in months
             for p in report_files.write(monthly_reconciliation(ledger, partners, month, now), out, ["csv", "xlsx"])]
    click.echo("Monthly reconciliation (freshcleo report reconciliation --month YYYY-MM):")
    for path in paths:
        click.echo(f"  {path}")


#: What ``_tally`` counts, in the words of the demo's "this run" line.
TALLY = ("files delivered", "document acknowledgments received", "quarantined")


def _tally(ledger: Ledger) -> dict[str, int]:
    """Running totals the demo compares before and after its runs: files of our documents delivered to Cleo,
    acknowledgments received for them, quarantine entries ever opened."""
    with ledger.begin() as conn:
        totals = summaries.running_totals(conn)
    return dict(zip(TALLY, (totals.files_delivered, totals.acknowledgments_received, totals.quarantined),
                    strict=True))


def _print_deltas(before: dict[str, int], after: dict[str, int]) -> None:
    """This demo's own work, before the cumulative state: a repeated demo says it delivered 0 files."""
    said = ", ".join(f"{after[name] - before[name]} {name}" for name in TALLY)
    click.echo(f"\nThis demo run: {said}")


def _print_summary(ledger: Ledger, days: list[dt.date]) -> None:
    with ledger.begin() as conn:
        seen = summaries.state_of_partitions(conn, days)
        received = partner_documents.counts(conn)
        answered = Counter((a.partner_id, a.ack_kind, a.status, a.state) for a in outbox_ops.acks_sent(conn))
    click.echo(f"\nLedger so far — documents in {days[0]}..{days[-1]} (kind, status, partner: count)")
    for kind, status, partner, count in sorted(seen.statuses, key=lambda r: (r[0], r[1], r[2] or "")):
        click.echo(f"  {kind:<13} {status:<11} {partner or '-':<18} {count}")
    click.echo(f"  documents with normalization warnings: {seen.with_warnings}")
    click.echo("Files of our documents in Cleo (partner, state: count)")
    for partner, state, count in sorted(seen.files):
        click.echo(f"  {partner:<18} {state:<10} {count}")
    click.echo("Acknowledgments of delivered documents (partner, state: count)")
    totals: Counter[str] = Counter()
    for partner, state, count in sorted(seen.acks):
        click.echo(f"  {partner:<18} {state:<20} {count}")
        totals[state] += count
    click.echo("  all partners: " + (", ".join(f"{k} {v}" for k, v in sorted(totals.items())) or "none"))
    click.echo("Partner documents received (partner, transaction set, status: count)")
    for partner, transaction_set, status, count in sorted(received):
        click.echo(f"  {partner:<18} {transaction_set:<4} {status:<15} {count}")
    if not received:
        click.echo("  none")
    click.echo("Acknowledgments sent to partners (partner, kind, AK9/TA1 code, file state: count)")
    for (partner, kind, status, state), count in sorted(answered.items()):
        click.echo(f"  {partner:<18} {kind:<4} {status:<3} {state:<10} {count}")
    if not answered:
        click.echo("  none")


@click.command()
@click.option("--from", "first", type=DATE, required=True, help="First partition (UTC date).")
@click.option("--to", "last", type=DATE, required=True, help="Last partition (UTC date), inclusive.")
@click.option("--chunk-days", default=31, show_default=True, type=int, help="Partitions per run.")
def backfill(first: dt.datetime, last: dt.datetime, chunk_days: int) -> None:
    """Sync a date range in bounded runs on this machine's Dagster instance (visible in the UI)."""
    _reachable(get_settings())
    if not run_range(get_settings(), first.date(), last.date(), max(1, chunk_days), "backfill"):
        sys.exit(1)


@click.command()
@click.option("--day", type=DATE, default=None, help="Partition to sync (default: today, UTC).")
def sync(day: dt.datetime | None) -> None:
    """Sync one day now (what the polling schedule does)."""
    target = day.date() if day else dt.datetime.now(dt.UTC).date()
    _reachable(get_settings())
    if not run_range(get_settings(), target, target, 1, "cli"):
        sys.exit(1)


@click.command("inbound")
def inbound_command() -> None:
    """Pull 997s and partner files from Cleo now (what the inbound schedule does)."""
    _reachable(get_settings())
    if not run_inbound(get_settings(), "cli").success:
        sys.exit(1)


@click.command("trace")
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True, help="Print the trace as one JSON document, for machines.")
def trace(identifier: str, as_json: bool) -> None:
    """The whole life of a document as a timeline, by FreshBooks id, invoice number, ISA13 ([partner:]number)
    or file name."""
    ledger = open_ledger(get_settings().resolved_ledger_url())
    try:
        with ledger.begin() as conn:
            matches = find(conn, identifier)
        if not matches:
            raise FreshcleoError(f"no document matches {identifier!r} (FreshBooks id, reference, ISA13 or file)")
        traces = [trace_document(ledger, kind, account_id, source_id) for kind, account_id, source_id in matches]
    finally:
        ledger.dispose()
    if as_json:
        click.echo(json.dumps({"query": identifier, "documents": [t.as_json() for t in traces]}, indent=2))
        return
    click.echo("\n\n".join("\n".join(t.lines()) for t in traces))


@click.command()
@click.argument("delivery_id", type=int, required=False)
def resend(delivery_id: int | None) -> None:
    """Re-send a rejected, overdue or failed delivery (its # as `freshcleo trace` shows it), after a fix.

    Without DELIVERY_ID: list the uploads in doubt (with their age and when they are re-sent on their own) and
    the file names another file holds in a partner's folder."""
    settings = get_settings()
    ledger = open_ledger(settings.resolved_ledger_url())
    try:
        if delivery_id is None:
            click.echo("\n".join(pending_decisions(ledger, load_partners(settings.resolved_partners_file()),
                                                    dt.datetime.now(dt.UTC))))
            return
        new_id, summary = resend_delivery(_context(settings, ledger), delivery_id)
        click.echo(f"delivery #{delivery_id} re-sent as #{new_id}: {sum(summary.files.values())} file(s) uploaded")
    finally:
        ledger.dispose()


def _dagster_target() -> list[str]:
    workspace = Path("workspace.yaml")
    return ["-w", str(workspace)] if workspace.exists() else ["-m", "freshcleo_pipeline.definitions"]


def _start_webhooks(settings: Settings) -> BackgroundServer:
    """FreshBooks connected (auto-consent), the receiver on the settings' port with the sandbox's callbacks
    registered against it, and the sensor on.

    The sensor is turned on in the local instance so an edit through the emulator's control API shows up as a
    run in the UI without a further step (it stays stopped by default everywhere else).
    """
    ledger = open_ledger(settings.resolved_ledger_url())
    try:
        sandbox_auto_connect(settings, ledger)
        receiver = start_receiver(settings, ledger)
        try:
            report = register_local(settings, ledger, receiver.url)
        except BaseException:
            receiver.stop()
            raise
    finally:
        ledger.dispose()
    if report.unverified:
        click.echo(f"webhooks not verified: {', '.join(report.unverified)}", err=True)
    started = subprocess.run([sys.executable, "-m", "dagster", "sensor", "start", "webhook_inbox_sensor",
                              *_dagster_target()], check=False, capture_output=True, text=True)
    if started.returncode and "already running" not in started.stderr + started.stdout:
        click.echo("webhook_inbox_sensor could not be turned on; turn it on in the UI (Automation)", err=True)
    return receiver


#: How long ``freshcleo ui`` waits for the webserver to answer before saying it did not (loading the code
#: location on a cold start takes a minute or more).
UI_READY_TIMEOUT = 240.0


def _announce_when_ready(process: subprocess.Popen[bytes], url: str, timeout: float = UI_READY_TIMEOUT) -> None:
    """Print the UI's address once the webserver answers HTTP there, not when it is merely starting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            click.echo(f"the Dagster UI stopped before answering on {url} (exit {process.returncode})", err=True)
            return
        try:
            if requests.get(f"{url}/server_info", timeout=2).status_code < 500:
                click.echo(f"Dagster UI ready on {url} (Ctrl-C stops)")
                return
        except requests.RequestException:
            pass
        time.sleep(1.0)
    click.echo(f"the Dagster UI did not answer on {url} within {timeout:.0f} s; see its output above "
               "(it may still be loading)", err=True)


def _run_until_interrupted(command: list[str], url: str | None = None) -> None:
    """Run a child in the foreground (announcing ``url`` once it answers); on Ctrl-C (which it receives too)
    give it time to stop its own children."""
    process = subprocess.Popen(command)
    try:
        if url is not None:
            _announce_when_ready(process, url)
        process.wait()
    except KeyboardInterrupt:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait()


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True, envvar="FRESHCLEO_UI_PORT",
              help="Port of the Dagster webserver (environment: FRESHCLEO_UI_PORT).")
def ui(port: int) -> None:
    """Start the sandbox (in sandbox mode) and the Dagster UI with its daemon on this machine's instance.

    In sandbox mode the webhook receiver runs too, with the sandbox's callbacks registered against it and
    ``webhook_inbox_sensor`` on: edits made through the FreshBooks emulator's control API become runs.
    """
    settings = get_settings()
    running, receiver = None, None
    runner().local_instance()
    try:
        if settings.is_sandbox:
            running, settings = _start_sandbox(settings)
            receiver = _start_webhooks(settings)
            click.echo(f"sandbox: FreshBooks {running.freshbooks.url}, Cleo {running.cleo.url}; "
                       f"webhook receiver {receiver.url}")
        url = f"http://127.0.0.1:{port}"
        click.echo(f"starting the Dagster UI on {url} …")
        _run_until_interrupted([sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port),
                                *_dagster_target()], url)
    finally:
        if receiver is not None:
            receiver.stop()
        if running is not None:
            running.stop()


COMMANDS = [demo, sync, backfill, inbound_command, trace, resend, ui]
