"""The README's pictures of the Dagster UI, made again from nothing: one document's lineage and a per-partition plot.

Run: ``python -m benchmarks.screenshots [--out docs/img] [--days 60]`` (``make screenshots``); needs Debian's
``chromium``.

In a temporary directory: a Dagster instance (the repository's ``dagster.yaml``) and a data directory, ``freshcleo
demo --days N`` on the sandbox into them, the document lineage recorded as the daemon's sensor would
(``catch_up``), a ``dagster-webserver`` on a free port, and headless Chromium driven over the DevTools protocol
(the partition search is typed, the Plots button clicked) for:

- ``lineage-partition.png``: ``document_lineage``'s partitions searched by one invoice's number, that invoice
  selected (``?view=partitions&partition=<key>``, number typed into "Filter by name…");
- ``lineage-events.png``: that partition's observations only (``?view=events&partitions[0]=<key>``, the URL the
  Events tab's "Filter → Partition" writes): the sync run's and the inbound run's observations, the newest
  (accepted, with its 997, GS06/ST02 and run link) open;
- ``deliveries-plot.png``: ``cleo_deliveries``' metadata plotted per partition (Overview → Metadata → Plots).

The onboarding dialog ("Join the Dagster community") shows only when the instance says so (``shouldShowNux``);
the temporary instance turns it off with the documented ``nux: enabled: false`` setting rather than a browser
profile's local storage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

from benchmarks import ui

ASSET = "document_lineage"
WIDTH, HEIGHT = 1600, 1000
NO_ONBOARDING = "\n# screenshots: no onboarding dialog over the pages\nnux:\n  enabled: false\n"


def text_shown(text: str) -> str:
    return f"document.body.innerText.includes({json.dumps(text)})"


def run_demo(env: dict[str, str], days: int) -> None:
    """``freshcleo demo`` in its own process, as a user runs it (the sandbox's emulators start and stop there)."""
    command = [str(Path(sys.executable).with_name("freshcleo")), "demo", "--days", str(days)]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"freshcleo demo failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def record_lineage(home: Path, ledger_url: str) -> str:
    """Record the lineage of the ledger into the instance; the invoice to show: the first (by key) that was
    delivered and accepted, i.e. has a sync-run and an inbound-run observation."""
    import dagster as dg

    from freshcleo_pipeline.defs.lineage import PARTITIONS_NAME, catch_up
    from freshcleo_pipeline.defs.resources import LedgerResource

    with dg.DagsterInstance.from_config(str(home)) as instance:
        catch_up(instance, LedgerResource(url=ledger_url))
        for key in sorted(k for k in instance.get_dynamic_partitions(PARTITIONS_NAME) if k.startswith("invoice-")):
            records = instance.fetch_observations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(ASSET), asset_partitions=[key]), limit=10).records
            statuses = {str(r.asset_observation.metadata["status"].value) for r in records
                        if r.asset_observation and "status" in r.asset_observation.metadata}
            if len(records) >= 2 and "accepted" in statuses:
                return key
    raise SystemExit("the demo left no invoice that was delivered and accepted; see `freshcleo trace`")


def capture(url: str, key: str, out: Path) -> list[Path]:
    number = key.split("-")[1]  # invoice-<number>-<FreshBooks id>: search by what people type
    asset = f"{url}/assets/{ASSET}"
    saved = []
    with ui.browser(WIDTH, HEIGHT) as page:
        search = "input[placeholder^='Filter by name']"
        page.goto(f"{asset}?{urllib.parse.urlencode({'view': 'partitions', 'partition': key})}",
                  f"!!document.querySelector({json.dumps(search)})")
        page.type_text(search, number)
        page.wait_for(text_shown("View all historical events (") + " && " + text_shown(key), 30,
                      f"partition {key} selected")
        page.settle()
        saved.append(out / "lineage-partition.png")
        page.screenshot(saved[-1])

        page.goto(f"{asset}?{urllib.parse.urlencode({'view': 'events', 'partitions[0]': key})}",
                  text_shown("Partition is") + " && " + text_shown("observed"))
        # The list holds this partition's observations only, newest first (the acknowledgment) and open. Another
        # one cannot be opened by URL or click here: the UI selects by ``time``, empty for a runless observation.
        page.wait_for(f"document.body.innerText.split({json.dumps(key)}).length >= 4", 30, "two observations")
        page.wait_for(text_shown("accepted"), 30, "the acknowledgment's observation")
        page.settle()
        saved.append(out / "lineage-events.png")
        page.screenshot(saved[-1])

        page.goto(f"{url}/assets/cleo_deliveries?view=overview", text_shown("Plots"))
        page.click_text("Plots", "button")
        page.wait_for("document.querySelectorAll('canvas').length >= 4", 30, "the plots")
        page.scroll_to_text("Metadata")
        page.settle(2)
        saved.append(out / "deliveries-plot.png")
        page.screenshot(saved[-1])
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--days", type=int, default=60, help="days of the demo (the plot's x axis)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="freshcleo-screenshots-") as scratch:
        home, data = Path(scratch) / "dagster_home", Path(scratch) / "data"
        home.mkdir()
        data.mkdir()
        (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text() + NO_ONBOARDING)
        ledger_url = f"sqlite:///{(data / 'ledger.db').as_posix()}"
        env = {"DAGSTER_HOME": str(home), "FRESHCLEO_DATA_DIR": str(data), "FRESHCLEO_LEDGER_URL": ledger_url,
               "FRESHCLEO_MODE": "sandbox"}
        print(f"demo over {args.days} days …", flush=True)
        run_demo(env, args.days)
        key = record_lineage(home, ledger_url)
        print(f"lineage recorded; showing {key}", flush=True)
        with ui.webserver(["-m", "freshcleo_pipeline.definitions"], env) as url:
            for path in capture(url, key, args.out):
                print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
