"""Jobs: the partitioned sync from FreshBooks to Cleo, the inbound poll, and the partner directory refresh."""

import dagster as dg

# The stages run one after the other, so one process per run: a subprocess per step would add seconds of start-up
# to every run, which is most of a webhook's latency.
sync_job = dg.define_asset_job(
    "sync_job",
    executor_def=dg.in_process_executor,
    selection=dg.AssetSelection.groups("extract", "normalize", "edi", "deliver"),
    description="FreshBooks → normalized → X12 → Cleo for the selected day partitions, exactly once per "
    "document version.",
    tags={"dagster/max_retries": "1"},
)

inbound_job = dg.define_asset_job(
    "inbound_job", executor_def=dg.in_process_executor, selection=dg.AssetSelection.groups("inbound"),
    description="Pull 997s and partner files from Cleo, apply acknowledgments, archive, flag overdue.",
)

# In-process too: it is one step, and a run started by the CLI then runs its steps in the process its pid tag
# names (``run_health``), whoever launches it.
partner_directory_job = dg.define_asset_job(
    "partner_directory_job", executor_def=dg.in_process_executor, selection=dg.AssetSelection.groups("reference"),
    description="Align partners.yaml with FreshBooks clients/vendors and Cleo folders.",
)
