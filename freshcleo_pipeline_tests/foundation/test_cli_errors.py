"""With nothing listening, ``freshcleo sync`` / ``backfill`` / ``inbound`` say in one line what is unreachable and
how to fix it, within seconds, and exit non-zero instead of retrying for minutes into a traceback."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from freshcleo_pipeline.cli import main as cli
from freshcleo_pipeline.settings import get_settings


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def stopped_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    freshbooks, cleo = (f"http://127.0.0.1:{_closed_port()}" for _ in range(2))
    monkeypatch.setenv("FRESHCLEO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FRESHCLEO_LEDGER_URL", raising=False)
    monkeypatch.setenv("FRESHBOOKS_API_URL", freshbooks)
    monkeypatch.setenv("CLEO_API_URL", cleo)
    get_settings.cache_clear()
    yield freshbooks, cleo
    get_settings.cache_clear()


@pytest.mark.parametrize("args", [["sync"], ["backfill", "--from", "2026-01-01", "--to", "2026-01-03"], ["inbound"]])
def test_a_stopped_sandbox_is_one_line_with_its_fix(stopped_sandbox: tuple[str, str], args: list[str]) -> None:
    freshbooks, _ = stopped_sandbox
    started = time.monotonic()
    result = CliRunner().invoke(cli, args)
    assert time.monotonic() - started < 15
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"freshcleo: FreshBooks at {freshbooks} does not answer (connection refused): start the sandbox with "
        "`make sandbox` or set FRESHBOOKS_API_URL"]


def test_cleo_down_is_named_once_freshbooks_answers(stopped_sandbox: tuple[str, str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator

    _, cleo = stopped_sandbox
    emulator = FreshBooksEmulator(invoices=1)
    emulator.start("127.0.0.1", 0)
    try:
        monkeypatch.setenv("FRESHBOOKS_API_URL", emulator.url)
        get_settings.cache_clear()
        result = CliRunner().invoke(cli, ["sync"])
    finally:
        emulator.stop()
    assert result.exit_code == 1
    assert result.output.strip() == (f"freshcleo: Cleo at {cleo} does not answer (connection refused): start the "
                                     "sandbox with `make sandbox` or set CLEO_API_URL")


def test_a_ledger_that_does_not_open_is_one_line(stopped_sandbox: tuple[str, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHCLEO_LEDGER_URL", f"postgresql+psycopg2://freshcleo:hunter2@127.0.0.1:{_closed_port()}/ledger")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("freshcleo: the ledger does not open (") and line.endswith(
        "check FRESHCLEO_LEDGER_URL, then `freshcleo db upgrade`")
    assert "hunter2" not in result.output
