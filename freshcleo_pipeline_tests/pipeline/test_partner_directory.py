"""The partner directory shows who matches on each side: partners.yaml, FreshBooks, Cleo folders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg

from freshcleo_pipeline.defs.runner import run_job
from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv


def test_directory_aligns_partners_with_freshbooks_and_cleo(
    sandbox_env: Callable[..., SandboxEnv], dagster_instance: dg.DagsterInstance
) -> None:
    env = sandbox_env(freshbooks={"seed": 2, "invoices": 10, "days": 1})
    env.cleo.put_file("acme-retail/inbound", "hello.txt", b"not x12")  # Cleo-side noise is fine
    today = env.freshbooks.now().date()
    assert env.sync(today - dt.timedelta(days=1), today, dagster_instance).success  # stores clients and vendors
    result = run_job(env.settings, "partner_directory_job", dagster_instance)
    assert result.success
    [materialization] = result.asset_materializations_for_node("partner_directory")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    rows = {r.data["partner"]: r.data for r in meta["partners"].records}
    assert set(rows) == {p.id for p in env.partners.partners}
    assert all(r["freshbooks_matches"] == 1 and r["cleo_folders_missing"] == "" for r in rows.values())
    assert meta["unclaimed_freshbooks_clients"] > 0 and meta["unclaimed_freshbooks_vendors"] > 0
    assert meta["cleo_error"] == "none"
