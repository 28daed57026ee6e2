"""A partner added to partners.yaml picks up its documents on the next run: unrouted is not final."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import yaml
from sqlalchemy import func, select

from freshcleo_pipeline.defs.runner import run_sync
from freshcleo_pipeline.ledger.schema import documents, outbox
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv


def _routed(env: SandboxEnv) -> dict[str, int]:
    with env.ledger.begin() as conn:
        return dict(conn.execute(select(outbox.c.partner_id, func.count()).where(outbox.c.state == "delivered")
                                 .group_by(outbox.c.partner_id)).all())


def test_documents_of_a_new_partner_are_sent_on_the_next_run(
    tmp_path: Path, sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 4, "invoices": 40, "days": 3})
    full = env.settings.resolved_partners_file()
    raw = yaml.safe_load(full.read_text())
    raw["partners"] = [p for p in raw["partners"] if p["id"] != "northwind-grocers"]
    reduced = tmp_path / "partners.yaml"
    reduced.write_text(yaml.safe_dump(raw))
    today = env.freshbooks.now().date()
    first = today - dt.timedelta(days=3)

    assert run_sync(env.settings.model_copy(update={"partners_file": reduced}), first, today,
                    dagster_instance).success
    before = _routed(env)
    assert "northwind-grocers" not in before
    with env.ledger.begin() as conn:
        unrouted = conn.execute(select(func.count()).where(documents.c.status == "unrouted")).scalar_one()
    files_before = set(env.outbound_files())

    assert env.sync(first, today, dagster_instance).success  # partners.yaml now lists Northwind again
    after = _routed(env)
    assert after["northwind-grocers"] > 0
    assert {k: v for k, v in after.items() if k != "northwind-grocers"} == before  # nobody else got anything
    with env.ledger.begin() as conn:
        still_unrouted = conn.execute(select(func.count()).where(documents.c.status == "unrouted")).scalar_one()
    assert still_unrouted == unrouted - after["northwind-grocers"] - _deleted_or_draft_for(env, "northwind-grocers")
    new_files = set(env.outbound_files()) - files_before
    assert new_files and all(name.startswith("northwind-grocers_") for name in new_files)


def _deleted_or_draft_for(env: SandboxEnv, partner: str) -> int:
    with env.ledger.begin() as conn:
        return conn.execute(select(func.count()).where(documents.c.partner_id == partner,
                                                       documents.c.status == "deleted")).scalar_one()
