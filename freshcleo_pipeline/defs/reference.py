"""Reference assets: the partner directory aligned with FreshBooks and Cleo."""

import dagster as dg

from freshcleo_pipeline.defs.common import preview_table
from freshcleo_pipeline.defs.resources import PipelineResource
from freshcleo_pipeline.sync.directory import align
from freshcleo_pipeline.sync.inbound_writes import create_missing_parties


@dg.asset(
    group_name="reference",
    pool="freshbooks_writes",  # it may create a partner's missing client or vendor (opt-in)
    kinds={"yaml"},
    code_version="1",
    description="partners.yaml aligned both ways with FreshBooks clients/vendors (as last extracted) and with "
    "the Cleo folders the API user sees: what is unmatched on either side. Partners with "
    "create_reference_data: true get their missing FreshBooks client or bill vendor created, once.",
)
def partner_directory(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.MaterializeResult:
    with pipeline.open(context) as ctx:
        account_id = pipeline.account_id(ctx)
        created = create_missing_parties(ctx, account_id)
        report = align(ctx, account_id)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(report.partners),
        "partners": preview_table(report.partners),
        "unclaimed_freshbooks_clients": len(report.unclaimed_clients),
        "unclaimed_freshbooks_vendors": len(report.unclaimed_vendors),
        "unused_cleo_folders": dg.MetadataValue.text(", ".join(report.unused_cleo_folders) or "none"),
        "cleo_error": dg.MetadataValue.text(report.cleo_error or "none"),
        "reference_data_created": dg.MetadataValue.text("\n".join(created) or "none"),
    })
