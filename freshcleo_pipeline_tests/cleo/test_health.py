"""The Cleo lines of ``freshcleo ping``, against the emulator."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from freshcleo_pipeline.cleo.health import cleo_checks
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.sandbox.cleo import DEFAULT_PARTNERS_FILE, CleoEmulator
from freshcleo_pipeline.settings import load_settings
from freshcleo_pipeline_tests.cleo.conftest import emulator_settings
from freshcleo_pipeline_tests.fixtures.cleo import CleoFactory


def test_all_partner_folders_pass(cleo_emulator: CleoEmulator) -> None:
    checks = cleo_checks(emulator_settings(cleo_emulator), load_partners(DEFAULT_PARTNERS_FILE))
    assert [c.name for c in checks if not c.ok] == []
    assert len(checks) == 1 + 4 * 3
    outbound = next(c for c in checks if c.name == "cleo acme-retail outbound folder acme-retail/outbound")
    assert "writable" in outbound.detail


def test_a_folder_missing_in_cleo_fails_its_line(cleo_emulator: CleoEmulator, tmp_path: Path) -> None:
    partners_file = tmp_path / "partners.yaml"
    partners_file.write_text(DEFAULT_PARTNERS_FILE.read_text().replace("bolt/inbound", "bolt/incoming"))
    checks = cleo_checks(emulator_settings(cleo_emulator), load_partners(partners_file))
    failed = [c for c in checks if not c.ok]
    assert [c.name for c in failed] == ["cleo bolt-fasteners inbound folder bolt/incoming"]
    assert "bolt/incoming" in failed[0].detail and "partners.yaml" in failed[0].fix


def test_refused_login_is_one_failed_line_and_one_attempt(cleo_emulator_factory: CleoFactory) -> None:
    emulator = cleo_emulator_factory(lockout=True)
    checks = cleo_checks(emulator_settings(emulator, cleo_password="wrong"), load_partners(DEFAULT_PARTNERS_FILE))
    assert [(c.name, c.ok) for c in checks] == [("cleo authentication", False)]
    assert "CLEO_PASSWORD" in checks[0].fix and "wrong" not in checks[0].line()
    assert emulator.total_requests() == 1


def test_unreachable_tenant_fails_fast() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(mode="sandbox", cleo_api_url=f"http://127.0.0.1:{port}")
    started = time.monotonic()
    checks = cleo_checks(settings, load_partners(DEFAULT_PARTNERS_FILE))
    assert time.monotonic() - started < 5
    assert [(c.name, c.ok) for c in checks] == [("cleo authentication", False)]
    assert "CLEO_API_URL" in checks[0].fix


def test_partners_default_to_the_configured_file(cleo_emulator: CleoEmulator) -> None:
    checks = cleo_checks(emulator_settings(cleo_emulator))
    assert len(checks) == 13 and all(c.ok for c in checks)
