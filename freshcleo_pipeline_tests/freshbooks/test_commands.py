"""`freshcleo connect freshbooks` and `freshcleo ping` (FreshBooks checks) against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from freshcleo_pipeline.cli import main
from freshcleo_pipeline.freshbooks.health import freshbooks_checks
from freshcleo_pipeline.freshbooks.oauth import vault_for
from freshcleo_pipeline.ledger import Ledger, open_ledger
from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.settings import Settings, get_settings, load_settings

from .conftest import settings_overrides

PARTNERS = Path(__file__).parents[2] / "freshcleo_pipeline" / "sandbox" / "data" / "partners.yaml"


@pytest.fixture
def cli_env(emulator: FreshBooksEmulator, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: str(v) for k, v in settings_overrides(emulator, tmp_path).items()}
    env["FRESHCLEO_LEDGER_URL"] = f"sqlite:///{tmp_path / 'ledger.db'}"
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def _secrets(settings: Settings) -> list[str]:
    ledger = open_ledger(settings.resolved_ledger_url())
    grant = vault_for(settings, ledger).require()
    ledger.dispose()
    assert grant.tokens is not None
    return [grant.tokens.access_token, grant.tokens.refresh_token]


def test_connect_in_sandbox_needs_no_human_and_prints_no_token(
        emulator: FreshBooksEmulator, cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["connect", "freshbooks"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert f"connected FreshBooks account {emulator.account_id}" in result.output
    settings = load_settings(**cli_env)
    assert not any(secret in result.output for secret in _secrets(settings))


def test_connect_with_a_pasted_redirect_checks_the_state(
        emulator: FreshBooksEmulator, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "FRESHCLEO_MODE": "live", "FRESHBOOKS_CLIENT_ID": emulator.oauth.client_id,
           "FRESHBOOKS_CLIENT_SECRET": "freshcleo-sandbox-secret",
           "FRESHBOOKS_REDIRECT_URI": "http://127.0.0.1:8713/oauth/freshbooks/callback",
           "FRESHCLEO_PARTNERS_FILE": str(PARTNERS)}

    def browser(prompt_output: str) -> str:
        url = next(line.strip() for line in prompt_output.splitlines() if "/oauth/authorize" in line)
        return str(requests.get(url, allow_redirects=False, timeout=10).headers["Location"])

    # interactive: the command prints the URL, the user pastes where the browser landed
    runner = CliRunner()
    first = runner.invoke(main, ["connect", "freshbooks"], env=env, input="not-yet\n")
    redirect = browser(first.output)
    ok = runner.invoke(main, ["connect", "freshbooks", "--redirect-url", redirect], env=env)
    assert ok.exit_code == 0, ok.output
    assert emulator.account_id in ok.output
    # the same redirect again: its state was used up
    again = runner.invoke(main, ["connect", "freshbooks", "--redirect-url", redirect], env=env)
    assert again.exit_code == 2 and "no authorization is pending" in again.output


def test_ping_reports_each_check_and_exits_non_zero_on_failure(
        emulator: FreshBooksEmulator, cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    not_connected = runner.invoke(main, ["ping"], env=cli_env)
    assert not_connected.exit_code != 0
    assert "FAIL freshbooks authorization stored" in not_connected.output
    assert "freshcleo connect freshbooks" in not_connected.output

    assert runner.invoke(main, ["connect", "freshbooks"], env=cli_env).exit_code == 0
    settings = load_settings(**cli_env)
    ledger = open_ledger(settings.resolved_ledger_url())
    checks = freshbooks_checks(settings, ledger)
    assert [c.name for c in checks if not c.ok] == [], [c.line() for c in checks]
    assert {c.name for c in checks} >= {"freshbooks reachable", "freshbooks access token",
                                        "freshbooks token refresh", "freshbooks identity", "freshbooks scopes"}
    assert emulator.refresh_count == 1  # the refresh check really rotated, and the vault kept up
    output = "\n".join(c.line() for c in checks)
    assert not any(secret in output for secret in _secrets(settings))

    emulator.revoke_tokens()
    failed = freshbooks_checks(settings, ledger)
    assert any(not c.ok and "connect freshbooks" in c.line() for c in failed)
    ledger.dispose()


def test_ping_says_when_freshbooks_is_unreachable(tmp_path: Path, sqlite_ledger: Ledger) -> None:
    overrides: dict[str, Any] = {"FRESHCLEO_MODE": "sandbox", "FRESHCLEO_DATA_DIR": str(tmp_path),
                                 "FRESHBOOKS_API_URL": "http://127.0.0.1:9"}  # discard port: nothing listens
    checks = freshbooks_checks(load_settings(**overrides), sqlite_ledger)
    assert len(checks) == 1 and not checks[0].ok
    assert "freshcleo sandbox serve" in checks[0].line()
