"""`freshcleo quarantine list | show | dismiss`: what a person reads and decides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from freshcleo_pipeline.cli import main
from freshcleo_pipeline.ledger import open_ledger, quarantine
from freshcleo_pipeline.settings import get_settings


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = open_ledger(url)
    with ledger.begin() as conn:
        quarantine.put(conn, stage="inbound", item_key="cleo:/acme/in/ack 7.x12", digest="abc", kind="file",
                       partner_id="acme-retail", reference="ack 7.x12", reason_code="not_x12",
                       reason="the file does not start with an ISA segment (first bytes 'PDF-1.4')",
                       raw=b"%PDF-1.4 \xff\xfe")
        quarantine.put(conn, stage="extract", item_key="freshbooks:invoice:31008", digest="def", kind="invoice",
                       reference="31008", reason_code="bad_field",
                       reason="invoice 31008: field updated = 'soon'; expected a timestamp", field="updated",
                       value="soon")
    ledger.dispose()
    get_settings.cache_clear()
    yield {"FRESHCLEO_LEDGER_URL": url, "FRESHCLEO_DATA_DIR": str(tmp_path)}
    get_settings.cache_clear()


def test_list_shows_each_waiting_entry_with_its_reason(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["quarantine", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert "not_x12: the file does not start with an ISA segment" in result.output
    assert "acme-retail" in result.output and "31008" in result.output
    only_inbound = CliRunner().invoke(main, ["quarantine", "list", "--stage", "inbound"], env=env)
    assert "31008" not in only_inbound.output and "ack 7.x12" in only_inbound.output


def test_show_gives_field_value_and_the_raw_bytes_as_received(env: dict[str, str], tmp_path: Path) -> None:
    shown = CliRunner().invoke(main, ["quarantine", "show", "2"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "field        updated = soon" in shown.output and "open (set aside; fix the cause" in shown.output
    raw = tmp_path / "raw.bin"
    saved = CliRunner().invoke(main, ["quarantine", "show", "1", "--raw", str(raw)], env=env)
    assert saved.exit_code == 0, saved.output
    assert raw.read_bytes() == b"%PDF-1.4 \xff\xfe"
    missing = CliRunner().invoke(main, ["quarantine", "show", "2", "--raw", str(raw)], env=env)
    assert missing.exit_code == 2 and "no raw input was kept" in missing.output


def test_dismiss_needs_a_reason_and_takes_the_entry_off_the_list(env: dict[str, str]) -> None:
    refused = CliRunner().invoke(main, ["quarantine", "dismiss", "1"], env=env)
    assert refused.exit_code != 0 and "--reason" in refused.output
    done = CliRunner().invoke(main, ["quarantine", "dismiss", "1", "--reason", "sent by mistake"], env=env)
    assert done.exit_code == 0 and "dismissed: sent by mistake" in done.output
    listed = CliRunner().invoke(main, ["quarantine", "list"], env=env)
    assert "ack 7.x12" not in listed.output and "31008" in listed.output
    everything = CliRunner().invoke(main, ["quarantine", "list", "--state", "dismissed"], env=env)
    assert "ack 7.x12" in everything.output
    again = CliRunner().invoke(main, ["quarantine", "dismiss", "1", "--reason", "twice"], env=env)
    assert again.exit_code == 2 and "only open or retrying entries" in again.output


def test_unknown_ids_are_named(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["quarantine", "show", "77"], env=env)
    assert result.exit_code == 2 and "quarantine id 77: no such entry" in result.output
