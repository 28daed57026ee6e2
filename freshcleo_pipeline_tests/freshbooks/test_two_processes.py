"""Two processes, each with its own client on the same ledger, refreshing at once: one refresh, both work."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect, vault_for
from freshcleo_pipeline.ledger import open_ledger
from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.settings import load_settings

from .conftest import settings_overrides

CTX = multiprocessing.get_context("spawn")


def _worker(overrides: dict[str, Any], ledger_url: str, ready: Any, go: Any, results: Any) -> None:
    """A separate freshcleo process: its own settings, ledger engine and client; waits, then reads."""
    try:
        settings = load_settings(**overrides)
        ledger = open_ledger(ledger_url)
        client = FreshBooksClient.from_settings(settings, ledger)
        ready.put(True)
        go.wait(30)
        clients = client.clients()
        invoices = client.list_all("invoices")
        results.put(("ok", len(clients), len(invoices)))
        client.close()
        ledger.dispose()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(("error", type(exc).__name__, str(exc)))


def _race(overrides: dict[str, Any], ledger_url: str, processes: int = 2) -> list[tuple[Any, ...]]:
    ready, results, go = CTX.Queue(), CTX.Queue(), CTX.Event()
    workers = [CTX.Process(target=_worker, args=(overrides, ledger_url, ready, go, results))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=60)  # every process has loaded its grant before any of them refreshes
    go.set()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
    return outcomes


@pytest.mark.parametrize("trigger", ["expired_on_server", "about_to_expire"])
def test_two_processes_refresh_once_on_sqlite(
        freshbooks_emulator_factory: Callable[..., FreshBooksEmulator], tmp_path: Path, trigger: str) -> None:
    _run(freshbooks_emulator_factory, tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", trigger)


@pytest.mark.postgres
def test_two_processes_refresh_once_on_postgres(
        freshbooks_emulator_factory: Callable[..., FreshBooksEmulator], tmp_path: Path, pg_url: str) -> None:
    _run(freshbooks_emulator_factory, tmp_path, pg_url, "expired_on_server")


def _run(factory: Callable[..., FreshBooksEmulator], tmp_path: Path, url: str, trigger: str) -> None:
    # "about_to_expire": tokens living 4 minutes are inside the 5-minute margin, so both refresh proactively.
    lifetime = 240 if trigger == "about_to_expire" else 43_200
    emulator = factory(seed=5, invoices=150, access_token_lifetime=lifetime)
    overrides = settings_overrides(emulator, tmp_path)
    settings = load_settings(**overrides)
    ledger = open_ledger(url)
    sandbox_auto_connect(settings, ledger)
    if trigger == "expired_on_server":
        emulator.expire_access_tokens()
    before = vault_for(settings, ledger).require().generation

    outcomes = _race(overrides, url)

    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    assert outcomes[0][1:] == outcomes[1][1:]  # both read the same books
    assert emulator.refresh_count == 1
    assert emulator.requests_to("/auth/oauth/token", "POST", 400) == 0
    after = vault_for(settings, ledger).require()
    assert after.generation == before + 1 and after.state == "active" and after.lease_until is None
    ledger.dispose()
