"""The Dagster code location loads with an empty environment, as `dagster definitions validate` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_definitions_validate_with_no_secrets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRESHCLEO_", "FRESHBOOKS_", "CLEO_"))}
    env["DAGSTER_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_cli_creates_and_reports_the_ledger(tmp_path: Path) -> None:
    env = {**os.environ, "FRESHCLEO_DATA_DIR": str(tmp_path), "FRESHCLEO_LEDGER_URL": ""}
    run = [sys.executable, "-m", "freshcleo_pipeline.cli"]
    first = subprocess.run([*run, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "schema revision" in first.stdout
    status = subprocess.run([*run, "db", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert "up to date" in status.stdout
