"""Receiver throughput: verified FreshBooks events per second over loopback, real uvicorn, real ledger.

Run: ``python -m benchmarks.webhook_receiver [--events 2000] [--clients 8] [--ledger-url URL]``.
Each event is a distinct, correctly signed ``invoice.update`` form posted by ``--clients`` keep-alive
connections; the run checks that every event answered 200 and that the inbox holds exactly that many rows.
Reports events/s and the p50/p95/max answer time. SQLite (a temporary file) unless ``--ledger-url`` is given.

Webhook-to-file-in-Cleo latency (issue 7) needs the whole pipeline: start both emulators, the receiver and
``dagster dev`` (daemon on, ``webhook_inbox_sensor`` running, interval 30 s); register callbacks against the
receiver; then ≥ 20 times change an invoice of a routed partner through the FreshBooks emulator's control API
noting the time, and poll the Cleo emulator's partner outbound folder (or the ledger's ``outbox.delivered_at``
joined on the invoice id) for the file; p50/p95 of the differences. Expect it dominated by the emulator's
webhook delay plus the sensor interval plus one partition run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from freshcleo_pipeline.freshbooks.webhooks import SIGNATURE_HEADER, encode_form, sign_fields
from freshcleo_pipeline.ledger import callbacks as cb
from freshcleo_pipeline.ledger import inbox, open_ledger
from freshcleo_pipeline.service import BackgroundServer, create_app

ACCOUNT = "xK9pQ"
VERIFIER = "benchmark-verifier-not-a-secret-0001"


def run(events: int, clients: int, ledger_url: str) -> dict[str, float]:
    ledger = open_ledger(ledger_url)
    key = Fernet.generate_key()
    token = cb.new_path_token()
    now = dt.datetime.now(dt.UTC)
    with ledger.begin() as conn:
        cb.add_callback(conn, path_token=token, account_id=ACCOUNT, event="invoice.update", uri="bench", now=now)
        cb.set_callback_id(conn, token, "1")
        cb.store_verifier(conn, token, VERIFIER, key, verified=True, now=now)
        before = len(inbox.rows_after(conn, 0, 10**9))
    bodies = []
    for i in range(events):
        fields = {"name": "invoice.update", "object_id": str(100000 + i), "account_id": ACCOUNT,
                  "business_id": "77001", "identity_id": "2001", "user_id": "1"}
        bodies.append((encode_form(fields), sign_fields(VERIFIER, fields)))

    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    app = create_app(ledger, key, max_body_bytes=16384, confirm=None)
    with BackgroundServer(app) as server:
        url = f"{server.url}/webhooks/freshbooks/{token}"

        def worker(share: list[tuple[bytes, str]]) -> None:
            session = requests.Session()
            mine: list[float] = []
            for body, signature in share:
                started = time.perf_counter()
                response = session.post(url, data=body, timeout=30, headers={
                    "Content-Type": "application/x-www-form-urlencoded", SIGNATURE_HEADER: signature})
                mine.append(time.perf_counter() - started)
                if response.status_code != 200:
                    with lock:
                        failures.append(response.status_code)
            session.close()
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=worker, args=(bodies[i::clients],)) for i in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started

    with ledger.begin() as conn:
        stored = len(inbox.rows_after(conn, 0, 10**9)) - before
    ledger.dispose()
    if failures or stored != events:
        raise SystemExit(f"benchmark invalid: {len(failures)} non-200 answers, {stored} of {events} stored")
    ordered = sorted(latencies)
    return {"events": events, "clients": clients, "seconds": elapsed, "events_per_s": events / elapsed,
            "p50_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
            "max_ms": 1000 * ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--ledger-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.ledger_url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        result = run(args.events, args.clients, url)
    print(f"receiver: {result['events']:.0f} verified events, {result['clients']:.0f} clients, "
          f"{result['seconds']:.2f}s -> {result['events_per_s']:.0f} events/s; answer time p50 "
          f"{result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, max {result['max_ms']:.1f} ms")


if __name__ == "__main__":
    main()
