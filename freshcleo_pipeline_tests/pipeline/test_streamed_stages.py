"""Routing and rendering that follow extraction page by page leave partners with exactly what a run that streams
nothing leaves them: the same transaction sets, each once, in the same number of files, and the run's figures
count the streamed work. Real emulators over loopback, real Dagster runs with the shipped job."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg

from freshcleo_pipeline_tests.fixtures.pipeline import SandboxEnv

BUSY_DAY = {"seed": 5, "invoices": 2100, "days": 1, "webhook_delay": 0.0}


def _run_figures(result: Any, asset: str) -> dict[str, Any]:
    """The run-level figures of an asset's materializations (the ``run`` entry of any of its partitions)."""
    for event in result.get_asset_materialization_events():
        if event.asset_key == dg.AssetKey(asset):
            metadata = event.step_materialization_data.materialization.metadata
            if "run" in metadata:
                return dict(metadata["run"].value)
    raise AssertionError(f"no run figures for {asset}")


def _sync(env: SandboxEnv, instance: dg.DagsterInstance) -> Any:
    today = env.freshbooks.now().date()
    result = env.sync(today - dt.timedelta(days=1), today, instance)
    assert result.success
    return result


def test_streamed_runs_send_what_unstreamed_runs_send(sandbox_env: Callable[..., SandboxEnv], tmp_path: Path) -> None:
    received: list[Counter[tuple[str, str, str, str]]] = []
    files: list[Counter[tuple[str, str]]] = []
    for after in ("0", "1"):
        env = sandbox_env(freshbooks=BUSY_DAY, ledger_url=f"sqlite:///{tmp_path / f'ledger-{after}.db'}",
                          settings={"FRESHCLEO_STREAM_AFTER_PAGES": after})
        with dg.instance_for_test() as instance:
            result = _sync(env, instance)
        extract = _run_figures(result, "freshbooks_documents")
        edi = _run_figures(result, "edi_interchanges")
        sets = env.outbound_sets()
        assert set(sets.values()) == {1}  # every set received once
        assert edi["sets"] == sum(sets.values())  # the streamed sets are counted in the run's figures
        if after == "0":
            assert extract["streamed_passes"] == 0
        else:
            assert extract["streamed_passes"] > 0
        per_file: Counter[tuple[str, str]] = Counter()
        for name in env.outbound_files():
            partner, set_id, _isa13 = name.rsplit("_", 2)
            per_file[(partner, set_id)] += 1
        received.append(sets)
        files.append(per_file)
    assert received[0] == received[1]
    assert files[0] == files[1]
    by_kind: Counter[tuple[str, str]] = Counter()
    for partner, set_id, _reference, _purpose in received[1]:
        by_kind[(partner, set_id)] += 1
    assert max(by_kind.values()) > 500  # some partner's sets fill whole files while the run extracts
    for key, count in by_kind.items():
        assert files[1][key] == math.ceil(count / 500), key
