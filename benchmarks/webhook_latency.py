"""Webhook to file in Cleo: how long after an invoice changes in FreshBooks its X12 file is in the partner's
Cleo outbound folder, with the real Dagster daemon running the webhook sensor.

Run: ``python -m benchmarks.webhook_latency [--changes 24] [--spacing 3] [--sensor-interval S]
[--timeout 300]`` from the repository root (it uses ``workspace.yaml`` and ``dagster.yaml`` there).

In a temporary folder (ledger SQLite file, data folder, ``DAGSTER_HOME`` with the repository's
``dagster.yaml``) it starts both emulators and the receiver on free loopback ports, connects FreshBooks
(sandbox auto-consent), registers the callbacks against the receiver, turns ``webhook_inbox_sensor`` on with
``dagster sensor start`` and starts ``dagster-daemon run``; every process reads the sandbox URLs and the
ledger from the environment. Without ``--sensor-interval`` every setting is the shipped default (the sensor's
interval from the settings, the run queue's dequeue interval from ``dagster.yaml``), so the figures are the
product's; ``--sensor-interval S`` sets ``FRESHCLEO_INBOX_SENSOR_INTERVAL_SECONDS`` instead (30 reproduces the
default before it was 5 s). No polling schedule runs: every file comes from a sensor-requested run.

One warm-up invoice (not counted) waits for the daemon's first run. Then ``--changes`` invoice changes are
made through the FreshBooks emulator's control API, ``--spacing`` seconds apart: new invoices for the two
customer partners, and updates of already delivered Acme invoices (Acme's policy is ``replace``, so each
update is a new 810 with BIG08 05). A change is done when the ledger's outbox names the file carrying it
(FreshBooks id and purpose) and that file is in the Cleo emulator; its latency is from just before the
control request to the first time the file was seen there (polled every 0.2 s; wall clock, so that the
ledger's timestamps split it into stages: to the inbox, to the sensor's run request, to the file). Prints
p50/p95/max and n.
Gives up after ``--timeout`` seconds past the last change, naming what is missing; always stops the daemon
and its run processes (its own process group), the receiver and the emulators.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.fernet import Fernet
from sqlalchemy import select

from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect
from freshcleo_pipeline.ledger import Ledger, open_ledger
from freshcleo_pipeline.ledger.schema import outbox, webhook_inbox
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.sandbox.freshbooks.catalog import ITEMS
from freshcleo_pipeline.sandbox.launcher import Sandbox, start_sandbox
from freshcleo_pipeline.service.local import register_local, start_receiver
from freshcleo_pipeline.settings import get_settings, load_settings

REPO = Path(__file__).resolve().parent.parent
SENSOR = "webhook_inbox_sensor"
INTERVAL_VARIABLE = "FRESHCLEO_INBOX_SENSOR_INTERVAL_SECONDS"
CUSTOMERS = ("Acme Retail Stores", "Northwind Grocers")
REPLACING_PARTNER = "Acme Retail Stores"
CONTROL = "/_sandbox/freshbooks/invoices"


@dataclass
class Change:
    invoice_id: str
    purpose: str  # outbox purpose the change must produce: original | replace
    organization: str
    started: float
    done: float | None = None
    received: float | None = None  # the webhook's inbox row
    requested: float | None = None  # the sensor took that row into a run request

    @property
    def latency(self) -> float:
        assert self.done is not None
        return self.done - self.started


@dataclass
class Watch:
    """What has reached Cleo: file name → first time seen; and which outbox rows name which file."""

    sandbox: Sandbox
    ledger: Ledger
    folders: list[str]
    seen: dict[str, float] = field(default_factory=dict)

    def poll(self) -> None:
        now = time.time()
        for folder in self.folders:
            for name in self.sandbox.cleo.files_in(folder):
                self.seen.setdefault(name, now)

    def settle(self, changes: list[Change]) -> None:
        """Mark changes whose file is in Cleo as done, at the time the file was first seen."""
        waiting = [c for c in changes if c.done is None]
        if not waiting:
            return
        ids = {c.invoice_id for c in waiting}
        with self.ledger.begin() as conn:
            rows = conn.execute(select(outbox.c.source_id, outbox.c.purpose, outbox.c.file_name)
                                .where(outbox.c.kind == "invoice", outbox.c.source_id.in_(ids),
                                       outbox.c.state == "delivered")).all()
        files = {(source_id, purpose): name for source_id, purpose, name in rows}
        for change in waiting:
            name = files.get((change.invoice_id, change.purpose))
            if name is not None and name in self.seen:
                change.done = max(self.seen[name], change.started)


def _stages(ledger: Ledger, changes: list[Change]) -> None:
    """When each change's webhook reached the inbox and when the sensor took it (the ledger's records)."""
    with ledger.begin() as conn:
        rows = conn.execute(select(webhook_inbox.c.object_id, webhook_inbox.c.event_name,
                                   webhook_inbox.c.received_at, webhook_inbox.c.handled_at)
                            .where(webhook_inbox.c.duplicate_of.is_(None))
                            .order_by(webhook_inbox.c.id)).all()
    for change in changes:
        event = "invoice.create" if change.purpose == "original" else "invoice.update"
        for object_id, name, received, handled in rows:
            if (object_id, name) == (change.invoice_id, event) and received.timestamp() >= change.started - 1:
                change.received = received.timestamp()
                change.requested = handled.timestamp() if handled is not None else None
                break


def _line(i: int) -> dict[str, object]:
    # A catalog item: the retail partners' guides require a product id on every line, taken from its SKU.
    item = ITEMS[i % len(ITEMS)]
    return {"name": item.name, "qty": str(1 + i % 5), "unit_cost": {"amount": item.unit_cost, "code": "USD"}}


@contextmanager
def _daemon(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``dagster-daemon run`` in a process group of its own, so its code server and runs stop with it."""
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "dagster._daemon", "run", "-w", "workspace.yaml"],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            try:  # whatever the daemon left behind: its code server, a run still in flight
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def run(changes: int, spacing: float, interval: int | None, timeout: float, webhook_delay: float) -> list[Change]:
    with tempfile.TemporaryDirectory(prefix="freshcleo-latency-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        home = root / "dagster_home"
        home.mkdir()
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        env = {"FRESHCLEO_MODE": "sandbox", "FRESHCLEO_DATA_DIR": str(root / "data"),
               "FRESHCLEO_LEDGER_URL": f"sqlite:///{root / 'ledger.db'}",
               "FRESHCLEO_SECRET_KEY": Fernet.generate_key().decode("ascii"), "DAGSTER_HOME": str(home)}
        if interval is None:
            os.environ.pop(INTERVAL_VARIABLE, None)
        else:
            env[INTERVAL_VARIABLE] = str(interval)
        os.environ.update(env)
        get_settings.cache_clear()
        settings = get_settings()
        sandbox = start_sandbox(partners_file=settings.resolved_partners_file(), webhook_delay=webhook_delay,
                                redirect_uris=(settings.resolved_freshbooks_redirect_uri(),))
        stack.callback(sandbox.stop)
        urls = {"FRESHBOOKS_API_URL": sandbox.freshbooks.url, "FRESHBOOKS_AUTH_URL": sandbox.freshbooks.url,
                "CLEO_API_URL": sandbox.cleo.url}
        os.environ.update(urls)
        get_settings.cache_clear()
        settings = load_settings()
        ledger = open_ledger(settings.resolved_ledger_url())
        stack.callback(ledger.dispose)
        sandbox_auto_connect(settings, ledger)
        receiver = start_receiver(settings, ledger, port=0)
        stack.callback(receiver.stop)
        report = register_local(settings, ledger, receiver.url)
        if report.unverified:
            raise SystemExit(f"callbacks not verified: {report.unverified}")

        child_env = {**os.environ}
        started = subprocess.run([sys.executable, "-m", "dagster", "sensor", "start", SENSOR, "-w", "workspace.yaml"],
                                 cwd=REPO, env=child_env, capture_output=True, text=True, timeout=120)
        if started.returncode:
            raise SystemExit(f"could not start {SENSOR}: {started.stderr.strip()[-2000:]}")
        log = root / "daemon.log"
        daemon = stack.enter_context(_daemon(child_env, log))

        partners = load_partners(settings.resolved_partners_file())
        watch = Watch(sandbox, ledger, [p.cleo.outbound for p in partners.partners])
        control = requests.Session()
        stack.callback(control.close)
        fb = sandbox.freshbooks

        def change(organization: str, invoice_id: str | None, i: int) -> Change:
            started_at = time.time()
            if invoice_id is None:
                body = {"customerid": fb.client_id_of(organization), "lines": [_line(i)]}
                answer = control.post(f"{fb.url}{CONTROL}", json={"invoice": body}, timeout=30)
            else:
                answer = control.put(f"{fb.url}{CONTROL}/{invoice_id}", json={"invoice": {"lines": [_line(i + 7)]}},
                                     timeout=30)
            answer.raise_for_status()
            ident = str(answer.json()["document"]["id"])
            return Change(ident, "original" if invoice_id is None else "replace", organization, started_at)

        def wait(pending: list[Change], until: float) -> None:
            while any(c.done is None for c in pending) and time.monotonic() < until:
                if daemon.poll() is not None:
                    raise SystemExit(f"dagster-daemon exited with {daemon.returncode}:\n{_tail(log)}")
                watch.poll()
                watch.settle(pending)
                time.sleep(0.2)

        warmup = [change(CUSTOMERS[0], None, 0)]
        wait(warmup, time.monotonic() + timeout)
        if warmup[0].done is None:
            raise SystemExit(f"the warm-up invoice reached no Cleo folder in {timeout:.0f}s; daemon log:\n"
                             f"{_tail(log)}")
        print(f"warm-up (first run after the daemon started, not counted): {warmup[0].latency:.1f}s")

        made: list[Change] = []
        updated: set[str] = set()
        for i in range(1, changes + 1):
            replaceable = [c for c in made if c.done is not None and c.purpose == "original"
                           and c.organization == REPLACING_PARTNER and c.invoice_id not in updated]
            if i % 3 == 0 and replaceable:
                made.append(change(REPLACING_PARTNER, replaceable[0].invoice_id, i))
                updated.add(replaceable[0].invoice_id)
            else:
                made.append(change(CUSTOMERS[i % 2], None, i))
            wait(made, time.monotonic() + spacing)
        wait(made, time.monotonic() + timeout)
        missing = [c for c in made if c.done is None]
        if missing:
            raise SystemExit(f"{len(missing)} of {len(made)} changes reached no Cleo folder within {timeout:.0f}s "
                             f"after the last change: " + ", ".join(f"{c.invoice_id} ({c.purpose})" for c in missing))
        _stages(ledger, made)
        return made


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--changes", type=int, default=24, help="invoice changes measured (at least 20)")
    parser.add_argument("--spacing", type=float, default=3.0, help="seconds between changes")
    parser.add_argument("--sensor-interval", type=int, default=None,
                        help=f"{INTERVAL_VARIABLE} (default: the shipped setting)")
    parser.add_argument("--webhook-delay", type=float, default=1.0,
                        help="seconds the FreshBooks emulator waits before sending a webhook")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for the files after the last change before giving up")
    args = parser.parse_args()
    started = time.monotonic()
    made = run(args.changes, args.spacing, args.sensor_interval, args.timeout, args.webhook_delay)
    interval = (f"sensor interval {args.sensor_interval}s" if args.sensor_interval is not None
                else f"sensor interval {get_settings().inbox_sensor_interval_seconds}s (shipped default)")
    latencies = sorted(c.latency for c in made)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    kinds = {p: sum(c.purpose == p for c in made) for p in ("original", "replace")}
    print(f"webhook -> file in Cleo: n={len(latencies)} ({kinds['original']} new, {kinds['replace']} replaced), "
          f"{interval}, webhook delay {args.webhook_delay:g}s, spacing {args.spacing:g}s: "
          f"p50 {statistics.median(latencies):.1f}s, p95 {p95:.1f}s, max {latencies[-1]:.1f}s, "
          f"min {latencies[0]:.1f}s (wall {time.monotonic() - started:.0f}s)")
    stages = [(c.received - c.started, c.requested - c.received, c.latency - (c.requested - c.started))
              for c in made if c.received is not None and c.requested is not None]
    if stages:
        inbox, sensor, rest = (statistics.median(column) for column in zip(*stages, strict=True))
        print(f"  medians over {len(stages)}: change -> webhook in the inbox {inbox:.1f}s -> taken by the sensor "
              f"{sensor:.1f}s -> file in Cleo {rest:.1f}s")


if __name__ == "__main__":
    main()
