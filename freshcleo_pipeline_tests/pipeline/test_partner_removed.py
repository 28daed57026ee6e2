"""A partner taken out of partners.yaml while its files wait for delivery fails only its own files.

Real ``sync_job`` runs against both loopback emulators. The first run renders the interchanges of every partner
but cannot deliver any: Cleo refuses its login (a wrong password fails the delivery step at once, without retries,
and leaves the interchanges ``ready``). The operator fixes the password, ``freshcleo ping`` ends the login
cool-down, and meanwhile one partner is taken out of partners.yaml. The next run delivers every other partner's
files; the removed partner's interchanges stay undelivered (``failed``), with a reason that names the partner,
nothing of theirs reaches Cleo, and the run succeeds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import yaml
from sqlalchemy import select

from freshcleo_pipeline.cleo.health import cleo_checks
from freshcleo_pipeline.commands.ping import _login_guard
from freshcleo_pipeline.defs.runner import run_sync
from freshcleo_pipeline.ledger.schema import interchanges
from freshcleo_pipeline.settings import SANDBOX_CLEO_PASSWORD
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

REMOVED = "northwind-grocers"
WRONG = "Wrong-Passw0rd!"


def _interchanges(env: SandboxEnv) -> dict[str, tuple[str, str, str | None]]:
    """file name → (partner, state, last error) of every interchange of documents (not acknowledgments)."""
    with env.ledger.begin() as conn:
        rows = conn.execute(select(interchanges.c.file_name, interchanges.c.partner_id, interchanges.c.state,
                                   interchanges.c.last_error)).all()
    return {name: (partner, state, error) for name, partner, state, error in rows}


def test_a_removed_partner_fails_only_its_own_files(
    tmp_path: Path, sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = sandbox_env(freshbooks={"seed": 4, "invoices": 40, "days": 3})  # env.settings: the right password
    monkeypatch.setenv("CLEO_PASSWORD", WRONG)  # what the runs read (an EnvVar)
    today = env.freshbooks.now().date()
    first = today - dt.timedelta(days=3)

    assert not env.sync(first, today, dagster_instance).success  # rendered, nothing delivered
    waiting = _interchanges(env)
    partners = {partner for partner, _, _ in waiting.values()}
    assert REMOVED in partners and len(partners) >= 2, partners
    assert {state for _, state, _ in waiting.values()} == {"ready"} and env.outbound_files() == {}

    # The password is fixed and `freshcleo ping` ends the cool-down; meanwhile the partner left partners.yaml.
    monkeypatch.setenv("CLEO_PASSWORD", SANDBOX_CLEO_PASSWORD)
    checks = cleo_checks(env.settings, env.partners, guard=_login_guard(env.settings, env.ledger))
    assert checks[0].ok, checks[0].detail
    raw = yaml.safe_load(env.settings.resolved_partners_file().read_text())
    raw["partners"] = [p for p in raw["partners"] if p["id"] != REMOVED]
    reduced = tmp_path / "partners.yaml"
    reduced.write_text(yaml.safe_dump(raw))

    result = run_sync(env.settings.model_copy(update={"partners_file": reduced}), first, today, dagster_instance)

    after = _interchanges(env)
    theirs = {name: v for name, v in after.items() if v[0] == REMOVED}
    others = {name: v for name, v in after.items() if v[0] != REMOVED}
    assert theirs and others
    assert {state for _, state, _ in others.values()} == {"delivered"}  # every other partner's file went
    for name, (_, state, error) in theirs.items():
        assert state == "failed", (name, state)
        assert error and name in error and REMOVED in error, error  # says which file and which partner
    received = env.outbound_files()
    assert set(received) == set(others)  # exactly the other partners' files reached Cleo, none of theirs
    # The run is not the unit of failure: one partner's files are (ARCHITECTURE, "Isolation").
    assert result.success, _step_failures(dagster_instance, result.run_id)


def _step_failures(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [str(e.dagster_event.step_failure_data.error.message if e.dagster_event and
                e.dagster_event.step_failure_data and e.dagster_event.step_failure_data.error else e.user_message)
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)]
