"""Settings fail with the variable, the value (never a secret) and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from freshcleo_pipeline.errors import ConfigError
from freshcleo_pipeline.settings import Mode, load_settings


def test_sandbox_needs_no_variable(tmp_path: Path) -> None:
    settings = load_settings(FRESHCLEO_DATA_DIR=str(tmp_path))
    assert settings.mode is Mode.SANDBOX
    assert settings.resolved_ledger_url() == f"sqlite:///{(tmp_path / 'ledger.db').as_posix()}"
    assert settings.resolved_freshbooks_api_url().startswith("http://127.0.0.1:")
    key = settings.resolved_secret_key()
    Fernet(key)
    assert settings.resolved_secret_key() == key  # generated once, then reused
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_bad_mode_names_the_variable_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(FRESHCLEO_MODE="production")
    assert "FRESHCLEO_MODE" in str(info.value) and "'production'" in str(info.value)


def test_bad_ledger_url_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"FRESHCLEO_LEDGER_URL.*'ledger\.db'"):
        load_settings(FRESHCLEO_LEDGER_URL="ledger.db")


def test_live_mode_requires_credentials_and_never_shows_secrets(tmp_path: Path) -> None:
    settings = load_settings(FRESHCLEO_MODE="live", FRESHCLEO_DATA_DIR=str(tmp_path))
    with pytest.raises(ConfigError, match="FRESHBOOKS_CLIENT_SECRET"):
        settings.resolved_freshbooks_client_secret()
    with pytest.raises(ConfigError, match="CLEO_API_URL"):
        settings.resolved_cleo_api_url()
    with pytest.raises(ConfigError, match="FRESHCLEO_SECRET_KEY"):
        settings.resolved_secret_key()
    bad = load_settings(FRESHCLEO_MODE="live", FRESHCLEO_SECRET_KEY="hunter2-not-a-key")
    with pytest.raises(ConfigError) as info:
        bad.resolved_secret_key()
    assert "hunter2" not in str(info.value) and "<redacted>" in str(info.value)
    assert "hunter2" not in repr(bad) and bad.safe_summary()["FRESHCLEO_SECRET_KEY"] == "set"
