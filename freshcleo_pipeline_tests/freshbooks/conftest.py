"""Fixtures of the FreshBooks client tests: settings pointing at an emulator, a connected ledger.

Emulators come from the shared ``freshbooks_emulator_factory`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from freshcleo_pipeline.freshbooks.oauth import sandbox_auto_connect
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.settings import Settings, load_settings

SCOPES = ("user:profile:read user:invoices:read user:clients:read user:bills:read user:bill_vendors:read "
          "user:payments:read user:bill_payments:read user:billable_items:read")
KEY = Fernet.generate_key().decode("ascii")


def settings_overrides(emulator: FreshBooksEmulator, data_dir: Path, **extra: Any) -> dict[str, Any]:
    """Settings (by variable name) that point freshcleo at ``emulator``; picklable for child processes."""
    return {
        "FRESHCLEO_MODE": "sandbox",
        "FRESHCLEO_DATA_DIR": str(data_dir),
        "FRESHBOOKS_API_URL": emulator.url,
        "FRESHBOOKS_AUTH_URL": emulator.url,
        "FRESHCLEO_SECRET_KEY": KEY,
        # the per-account budget is exercised by its own tests; here it must not dominate the run time
        "FRESHBOOKS_REQUESTS_PER_SECOND": 10_000,
        # the read scopes freshcleo needs; the sandbox app is not registered for user:notifications:read
        "FRESHBOOKS_SCOPES": SCOPES,
        **extra,
    }


@pytest.fixture
def emulator(freshbooks_emulator_factory: Callable[..., FreshBooksEmulator]) -> FreshBooksEmulator:
    return freshbooks_emulator_factory(seed=3, invoices=60, days=30)


@pytest.fixture
def settings(emulator: FreshBooksEmulator, tmp_path: Path) -> Settings:
    return load_settings(**settings_overrides(emulator, tmp_path))


@pytest.fixture
def connected(settings: Settings, ledger: Ledger) -> Ledger:
    """The ledger after `freshcleo connect freshbooks` against the sandbox (both backends)."""
    sandbox_auto_connect(settings, ledger)
    return ledger
