"""`freshcleo quarantine retry`: a person fixes the cause, asks again, and the stage's run takes the input, against
the real loopback emulators and the shipped dagster.yaml."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from freshcleo_pipeline.cli import main
from freshcleo_pipeline.ledger import quarantine
from freshcleo_pipeline.ledger.schema import documents
from freshcleo_pipeline.settings import get_settings
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

REPOSITORY = Path(__file__).parents[2]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[int, str]]]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPOSITORY / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    def run(env: SandboxEnv, *args: str, **variables: str) -> tuple[int, str]:
        settings = env.settings
        values = {"FRESHCLEO_DATA_DIR": str(settings.data_dir), "FRESHCLEO_LEDGER_URL": settings.ledger_url,
                  "FRESHBOOKS_API_URL": settings.freshbooks_api_url,
                  "FRESHBOOKS_AUTH_URL": settings.freshbooks_auth_url, "CLEO_API_URL": settings.cleo_api_url,
                  **variables}
        get_settings.cache_clear()
        result = CliRunner().invoke(main, list(args), env=values)
        get_settings.cache_clear()
        return result.exit_code, result.output

    yield run
    get_settings.cache_clear()


def _entries(env: SandboxEnv, stage: str) -> list[quarantine.Entry]:
    with env.ledger.begin() as conn:
        return quarantine.entries(conn, states=quarantine.STATES, stage=stage)


def test_a_record_fixed_in_freshbooks_is_delivered_by_retry(
        sandbox_env: Callable[..., SandboxEnv], cli: Callable[..., tuple[int, str]]) -> None:
    env = sandbox_env(freshbooks={"seed": 31, "invoices": 40, "days": 1, "webhook_delay": 0.0})
    coll = env.freshbooks.store.collections["invoices"]
    # The latest partner invoice sent, whatever the hour: its UTC day (today, or yesterday just after midnight)
    # is the partition synced.
    pos = max((p for p in range(coll.generated) if coll.vis[p] == 0), key=lambda p: (
        (i := env.freshbooks.get("invoices", coll.base_id + p)) is not None
        and i.get("organization") == "Acme Retail Stores" and str(i.get("status")) != "1", coll.stamps[p]))
    bad = env.freshbooks.get("invoices", coll.base_id + pos)
    assert bad is not None and bad["organization"] == "Acme Retail Stores"
    today = dt.datetime.fromtimestamp(coll.stamps[pos] / 1_000_000, dt.UTC).date()
    env.freshbooks.corrupt("invoices", bad["id"], {"vis_state": "archived"})

    code, output = cli(env, "sync", "--day", today.isoformat())
    assert code == 0, output
    (entry,) = _entries(env, "extract")
    assert (entry.state, entry.field, entry.value) == ("open", "vis_state", "archived")
    listed = cli(env, "quarantine", "list")[1]
    assert f"{entry.id:>5}  open" in listed and "bad_field" in listed

    env.freshbooks.uncorrupt("invoices", bad["id"])
    code, output = cli(env, "quarantine", "retry", str(entry.id))
    assert code == 0, output
    assert f"quarantine {entry.id}: resolved (processed: version" in output
    with env.ledger.begin() as conn:
        status = conn.execute(select(documents.c.status).where(documents.c.source_id == str(bad["id"]))).scalars()
        assert list(status) == ["routed"]
    numbers = {reference for (_, set_id, reference, _) in env.outbound_sets() if set_id == "810"}
    assert bad["invoice_number"] in numbers
    assert today.isoformat() in output


def test_a_file_over_the_cap_is_taken_by_retry_after_the_cap_is_raised(
        sandbox_env: Callable[..., SandboxEnv], cli: Callable[..., tuple[int, str]]) -> None:
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 10, "days": 1}, cleo={"acks": False})
    ack = (b"ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*HARBORSUPPLY   *260302*1404*U*00401*000000501*0*T*>~"
           b"GS*FA*ACMERETAIL*HARBORSUPPLY*20260302*1404*501*X*004010~ST*997*0001~AK1*IN*999~AK9*A*0*0*0~"
           b"SE*4*0001~GE*1*501~IEA*1*000000501~")
    padded = ack + b"\r\n" * 1200
    answer = requests.post(f"{env.cleo.url}/_sandbox/files", params={"folder": "acme-retail/inbound",
                                                                     "name": "997_big.x12"}, data=padded, timeout=30)
    assert answer.status_code == 201, answer.text

    code, output = cli(env, "inbound", FRESHCLEO_INBOUND_MAX_FILE_BYTES="1024")
    assert code == 0, output
    assert "inbound_files_not_quarantined FAILED" in output
    (entry,) = _entries(env, "inbound")
    assert entry.reason_code == "over_size_cap" and entry.state == "open"

    still = cli(env, "quarantine", "retry", str(entry.id), FRESHCLEO_INBOUND_MAX_FILE_BYTES="1024")
    assert still[0] == 1 and f"quarantine {entry.id}: open (over_size_cap" in still[1]
    code, output = cli(env, "quarantine", "retry", str(entry.id), FRESHCLEO_INBOUND_MAX_FILE_BYTES="1048576")
    assert code == 0, output
    assert f"quarantine {entry.id}: resolved" in output
    assert env.cleo.files_in("acme-retail/inbound") == {}
