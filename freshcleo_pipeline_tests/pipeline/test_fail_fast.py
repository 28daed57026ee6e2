"""What cannot recover fails the step at once, without step or run retries, and says the one-line fix.

Real Dagster runs (``sync_job`` through the CLI's runner) on an instance configured by the shipped
dagster.yaml (run retries on), against both loopback emulators. The step retry policy (``SYNC_RETRY``) waits
30 s before a retry, so "not retried" is asserted on the event log (no ``STEP_UP_FOR_RETRY``, one attempt),
not by waiting; a test that took 30 s would already have shown the retry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import select

from freshcleo_pipeline.cleo.health import cleo_checks
from freshcleo_pipeline.commands.ping import _login_guard
from freshcleo_pipeline.freshbooks.oauth import vault_for
from freshcleo_pipeline.ledger import cooldowns
from freshcleo_pipeline.ledger.cooldowns import cleo_login_key
from freshcleo_pipeline.ledger.schema import interchanges
from freshcleo_pipeline.ledger.tokens import mark_needs_reauth
from freshcleo_pipeline.settings import SANDBOX_CLEO_PASSWORD
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

SHIPPED_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"
LOGIN = "/api/authentication"
WRONG = "Wrong-Passw0rd!"


@pytest.fixture
def shipped_instance() -> Iterator[dg.DagsterInstance]:
    """An instance with the repository's dagster.yaml (run_retries enabled, pools), in a temporary home."""
    overrides = yaml.safe_load(SHIPPED_DAGSTER_YAML.read_text())
    assert overrides["run_retries"]["enabled"]
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance


def _step_events(instance: dg.DagsterInstance, run_id: str, event: dg.DagsterEventType) -> list[Any]:
    return list(instance.all_logs(run_id, of_type=event))


def _failure(instance: dg.DagsterInstance, result: Any) -> tuple[str, str]:
    """(failed step, its message) — exactly one step failed, at its first attempt, with no retry."""
    run_id = result.run_id
    failures = _step_events(instance, run_id, dg.DagsterEventType.STEP_FAILURE)
    assert len(failures) == 1
    assert _step_events(instance, run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    assert _step_events(instance, run_id, dg.DagsterEventType.STEP_RESTARTED) == []
    event = failures[0].dagster_event
    error = event.step_failure_data.error
    assert error is not None and error.cls_name == "Failure"
    user_failure = event.step_failure_data.user_failure_data
    assert user_failure is not None
    return event.step_key, user_failure.description or ""


def _not_run_retried(instance: dg.DagsterInstance, run_id: str) -> None:
    """The run-retry daemon will not launch a new run (it decides from this tag, set when the run failed)."""
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    assert run.tags.get("dagster/will_retry") == "false"
    assert run.tags.get("dagster/retry_on_asset_or_op_failure") == "false"


def _days(env: SandboxEnv) -> tuple[dt.date, dt.date]:
    today = env.freshbooks.now().date()
    return today - dt.timedelta(days=3), today


def test_a_refused_cleo_login_fails_at_once_and_cools_down_the_next_run(
        sandbox_env: Callable[..., SandboxEnv], shipped_instance: dg.DagsterInstance,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEO_PASSWORD", WRONG)
    env = sandbox_env(freshbooks={"seed": 5, "invoices": 20, "days": 3}, cleo={"lockout": True})
    first, last = _days(env)

    result = env.sync(first, last, shipped_instance)
    assert not result.success
    step, message = _failure(shipped_instance, result)
    assert step == "cleo_deliveries"
    assert "Cleo refused the login for user" in message
    assert "fix CLEO_USERNAME/CLEO_PASSWORD, then `freshcleo ping`" in message
    assert "no login is attempted before" in message
    assert env.cleo.requests_to(LOGIN, "POST") == 1 and env.cleo.requests_to(LOGIN, "POST", 401) == 1
    _not_run_retried(shipped_instance, result.run_id)
    # The password appears nowhere Dagster keeps: events, metadata, tags.
    for record in shipped_instance.all_logs(result.run_id):
        assert WRONG not in str(record.user_message) and WRONG not in str(record.dagster_event)
    with env.ledger.begin() as conn:
        cooling = cooldowns.get(conn, cleo_login_key(env.cleo.url, env.settings.resolved_cleo_username()))
    assert cooling is not None and cooling.attempts == 1 and WRONG not in cooling.reason

    # The next run (a schedule tick, another process) within the cool-down does not contact Cleo at all.
    again = env.sync(first, last, shipped_instance)
    assert not again.success
    step, message = _failure(shipped_instance, again)
    assert step == "cleo_deliveries" and "Cleo was not contacted" in message
    assert env.cleo.requests_to(LOGIN, "POST") == 1
    # No interchange was marked as a failed delivery: they wait, untouched, for the password.
    with env.ledger.begin() as conn:
        states = set(conn.execute(select(interchanges.c.state)).scalars())
    assert states == {"ready"} and env.outbound_files() == {}


def test_a_fixed_password_and_ping_end_the_cool_down(
        sandbox_env: Callable[..., SandboxEnv], shipped_instance: dg.DagsterInstance,
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = sandbox_env(freshbooks={"seed": 6, "invoices": 10, "days": 2})  # env.settings: the right password
    monkeypatch.setenv("CLEO_PASSWORD", WRONG)  # what the runs read (an EnvVar)
    first, last = _days(env)
    assert not env.sync(first, last, shipped_instance).success

    monkeypatch.setenv("CLEO_PASSWORD", SANDBOX_CLEO_PASSWORD)
    blocked = env.sync(first, last, shipped_instance)  # still cooling down: the fix alone is not enough …
    assert not blocked.success and env.cleo.requests_to(LOGIN, "POST") == 1

    checks = cleo_checks(env.settings, env.partners, guard=_login_guard(env.settings, env.ledger))
    assert checks[0].ok and "ended the login cool-down" in checks[0].detail  # … `freshcleo ping` is
    result = env.sync(first, last, shipped_instance)
    assert result.success and env.outbound_files()


def test_a_freshbooks_grant_that_needs_reauthorization_fails_without_retry(
        sandbox_env: Callable[..., SandboxEnv], shipped_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 7, "invoices": 10, "days": 2})
    # The real path: FreshBooks revokes the grant; our refresh gets invalid_grant and marks needs_reauth.
    env.freshbooks.revoke_tokens()
    env.freshbooks.expire_access_tokens()
    first, last = _days(env)

    result = env.sync(first, last, shipped_instance)
    assert not result.success
    step, message = _failure(shipped_instance, result)
    assert step == "freshbooks_documents"
    assert message.startswith("FreshBooks needs re-authorization")
    assert message.endswith("run `freshcleo connect freshbooks`")
    _not_run_retried(shipped_instance, result.run_id)
    assert env.freshbooks.refresh_count == 0

    # Marked in the vault: the next run fails the same way at once.
    again = env.sync(first, last, shipped_instance)
    step, message = _failure(shipped_instance, again)
    assert step == "freshbooks_documents" and "needs re-authorization" in message


def test_a_stored_grant_marked_needs_reauth_fails_without_contacting_freshbooks(
        sandbox_env: Callable[..., SandboxEnv], shipped_instance: dg.DagsterInstance) -> None:
    env = sandbox_env(freshbooks={"seed": 8, "invoices": 5, "days": 2})
    grant = vault_for(env.settings, env.ledger).require()
    with env.ledger.begin() as conn:
        assert mark_needs_reauth(conn, "freshbooks", "default", grant.generation, dt.datetime.now(dt.UTC))
    result = env.sync(*_days(env), shipped_instance)
    step, message = _failure(shipped_instance, result)
    assert step == "freshbooks_documents" and "run `freshcleo connect freshbooks`" in message
    _not_run_retried(shipped_instance, result.run_id)


def test_a_wrong_secret_key_fails_without_retry(
        sandbox_env: Callable[..., SandboxEnv], shipped_instance: dg.DagsterInstance,
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = sandbox_env(freshbooks={"seed": 9, "invoices": 5, "days": 2})  # tokens stored with the sandbox key
    wrong_key = Fernet.generate_key().decode()
    monkeypatch.setenv("FRESHCLEO_SECRET_KEY", wrong_key)

    result = env.sync(*_days(env), shipped_instance)
    assert not result.success
    step, message = _failure(shipped_instance, result)
    assert step == "freshbooks_documents"
    assert "cannot be decrypted with FRESHCLEO_SECRET_KEY: restore the key used when they were stored" in message
    assert "freshcleo connect freshbooks" in message
    _not_run_retried(shipped_instance, result.run_id)
    for record in shipped_instance.all_logs(result.run_id):
        assert wrong_key not in str(record.user_message) and wrong_key not in str(record.dagster_event)
