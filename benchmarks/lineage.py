"""What the per-document lineage costs: a 10,000-document day recorded by ``document_lineage_sensor``, and the
Dagster UI with 100,000 document partitions.

Run: ``python -m benchmarks.lineage [--documents 100000] [--day 10000] [--rounds 3]``.

A temporary ledger gets the audit trail of a day as the pipeline writes it (per document five events in the sync
run: extracted, normalized, queued, rendered, delivered; one in the inbound run: ack_accepted). The documents of
earlier days (up to ``--documents``) are already partitions, without observations (the partition list and search
pay for partitions, an event list for the events of one partition). The sensor then records the day tick by tick
as the daemon would, each part timed on its own: the evaluation (the code server's work, ours), the result's
serialization round trip (code server to daemon), the observations' writes and the partitions' look-up and add
(the daemon's work, Dagster's storage). That is the whole cost of the lineage, paid in the background; the runs
themselves run no lineage code. A ``dagster-webserver`` then serves the instance and headless Chromium loads the
lineage pages: the time from start to a rendered page, less Chromium's own start on ``about:blank``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

DAY_EVENTS = ("extracted", "normalized", "queued", "rendered", "delivered")
PARTITIONS_QUERY = """
query Keys { assetNodeOrError(assetKey: {path: ["document_lineage"]}) {
  ... on AssetNode { partitionKeysByDimension { partitionKeys } } } }
"""
EVENTS_QUERY = """
query Events($partition: String!) { assetOrError(assetKey: {path: ["document_lineage"]}) {
  ... on Asset { assetObservations(partitions: [$partition]) { runId description metadataEntries { label } } } } }
"""


def source_id(n: int) -> str:
    return str(100_000 + n)


def write_day(ledger_url: str, documents: int) -> None:
    """The audit trail of one day of ``documents`` invoices, as the sync and inbound runs record it."""
    from freshcleo_pipeline.ledger import audit, open_ledger

    ledger = open_ledger(ledger_url)
    sync_run, inbound_run = str(uuid.uuid4()), str(uuid.uuid4())
    at = dt.datetime.now(dt.UTC)
    try:
        for start in range(0, documents, 1000):
            rows = []
            for n in range(start, min(start + 1000, documents)):
                base = {"kind": "invoice", "account_id": "bench", "source_id": source_id(n),
                        "partner_id": "acme-retail", "at": at}
                rows += [{**base, "event": e, "run_id": sync_run,
                          "detail": {"version": "v1", "isa13": n + 1, "gs06": n + 1, "st02": "0001",
                                     "file_name": f"acme-{n + 1:09d}.x12"}} for e in DAY_EVENTS]
                rows.append({**base, "event": "ack_accepted", "run_id": inbound_run,
                             "detail": {"ack_kind": "997", "code": "A", "file": f"997-{n}.x12"}})
            with ledger.begin() as conn:
                audit.record_many(conn, rows)
    finally:
        ledger.dispose()


def count_observations(instance: Any) -> int:
    """Observations of ``document_lineage`` (Dagster hands them out 10,000 at a time)."""
    import dagster as dg

    total, cursor = 0, None
    while True:
        page = instance.fetch_observations(dg.AssetKey("document_lineage"), limit=10_000, cursor=cursor)
        total += len(page.records)
        if not page.has_more:
            return total
        cursor = page.cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--day", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="freshcleo-lineage-") as scratch:
        home = Path(scratch) / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        os.environ["DAGSTER_HOME"] = str(home)
        ledger_url = f"sqlite:///{Path(scratch) / 'ledger.db'}"

        import dagster as dg

        from benchmarks import ui
        from freshcleo_pipeline.defs import lineage
        from freshcleo_pipeline.defs.lineage import PARTITIONS_NAME
        from freshcleo_pipeline.defs.resources import LedgerResource

        instance = dg.DagsterInstance.get()
        ledger = LedgerResource(url=ledger_url)
        write_day(ledger_url, args.day)

        started = time.perf_counter()
        rest = [f"invoice-{source_id(n)}" for n in range(args.day, args.documents)]
        for chunk in range(0, len(rest), 10_000):
            instance.add_dynamic_partitions(PARTITIONS_NAME, rest[chunk:chunk + 10_000])
        add_seconds = time.perf_counter() - started

        parts = {"evaluate": 0.0, "serialize": 0.0, "observations": 0.0, "partitions": 0.0}
        ticks, cursor = 0, None
        day_started = time.perf_counter()
        while True:
            started = time.perf_counter()
            result = lineage.evaluate(instance, ledger, cursor)
            parts["evaluate"] += time.perf_counter() - started
            if result is None:
                break
            ticks += 1
            started = time.perf_counter()
            dg.deserialize_value(dg.serialize_value(list(result.asset_events)), list)
            parts["serialize"] += time.perf_counter() - started
            started = time.perf_counter()
            lineage.report_observations(instance, result)
            parts["observations"] += time.perf_counter() - started
            started = time.perf_counter()
            lineage.add_partitions(instance, result)
            parts["partitions"] += time.perf_counter() - started
            cursor = result.cursor
        day_seconds = time.perf_counter() - day_started
        observations = count_observations(instance)

        partitions = len(instance.get_dynamic_partitions(PARTITIONS_NAME))
        list_seconds, _ = ui.timed(lambda: instance.get_dynamic_partitions(PARTITIONS_NAME), args.rounds)

        location = Path(scratch) / "lineage_location.py"
        location.write_text(textwrap.dedent(f"""
            import dagster as dg
            from freshcleo_pipeline.defs.lineage import document_lineage, document_lineage_sensor
            from freshcleo_pipeline.defs.resources import LedgerResource
            defs = dg.Definitions(assets=[document_lineage], sensors=[document_lineage_sensor],
                                  resources={{"ledger": LedgerResource(url={ledger_url!r})}})
        """))
        key = f"invoice-{source_id(args.day // 2)}"
        with ui.webserver(["-f", str(location)], {"DAGSTER_HOME": str(home)}) as url:
            keys_seconds, keys = ui.timed(lambda: ui.graphql(url, PARTITIONS_QUERY), args.rounds)
            events_seconds, events = ui.timed(lambda: ui.graphql(url, EVENTS_QUERY, {"partition": key}), args.rounds)
            listed = len(keys["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"])
            assert len(events["assetOrError"]["assetObservations"]) == 2
            blank, _ = ui.timed(lambda: ui.load_page("about:blank"), args.rounds)
            pages = {
                "asset overview": f"{url}/assets/document_lineage",
                "partitions view (all keys)": f"{url}/assets/document_lineage?view=partitions",
                "search one document (URL)": f"{url}/assets/document_lineage?view=partitions&partition={key}",
                "one document's events": f"{url}/assets/document_lineage?view=events&partition={key}",
            }
            loads = {}
            for name, page in pages.items():
                seconds, dom = ui.timed(lambda page=page: ui.load_page(page), args.rounds)
                loads[name] = (max(seconds - blank, 0.0), len(dom), "document_lineage" in dom)

    day = args.day
    print(f"lineage of a {day:,}-document day ({day * (len(DAY_EVENTS) + 1):,} audit events, 2 runs, "
          f"{observations:,} observations, {ticks} ticks) over {partitions:,} partitions:")
    for name, label in (("evaluate", "sensor evaluation (code server, ours)"),
                        ("serialize", "result serialization round trip"),
                        ("observations", "observation writes (daemon, Dagster)"),
                        ("partitions", "partition look-up and add (daemon)")):
        print(f"  {label:<45} {parts[name]:8.2f} s ({parts[name] / day * 1000:6.2f} ms/document)")
    print(f"  whole day in the background                   {day_seconds:8.2f} s ({day_seconds / day * 1000:6.2f} "
          "ms/document)")
    print("  added to the sync and inbound runs themselves     0.00 s (no lineage code runs in them)")
    print(f"instance with {partitions:,} document partitions:")
    print(f"  add {len(rest):,} partitions                           {add_seconds:8.2f} s")
    print(f"  list all keys (instance)                          {list_seconds:8.3f} s")
    print(f"  GraphQL partition keys ({listed:,})                  {keys_seconds:8.3f} s")
    print(f"  GraphQL one document's observations               {events_seconds:8.3f} s")
    print(f"  Chromium about:blank (subtracted below)           {blank:8.2f} s")
    for name, (seconds, size, found) in loads.items():
        print(f"  page: {name:<38}  {seconds:8.2f} s  (DOM {size:,} chars{'' if found else ', NOT rendered'})")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
