"""The partner directory aligned both ways: FreshBooks clients and vendors, partners.yaml, and Cleo folders.

Reports what is unmatched on either side: partners whose FreshBooks client/vendor is missing, FreshBooks
clients and vendors no partner claims, partner folders missing in Cleo, and Cleo folders no partner uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.documents import DocumentKind
from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.ledger import snapshots
from freshcleo_pipeline.sync.context import SyncContext


@dataclass
class DirectoryReport:
    partners: list[dict[str, Any]] = field(default_factory=list)
    unclaimed_clients: list[str] = field(default_factory=list)
    unclaimed_vendors: list[str] = field(default_factory=list)
    unused_cleo_folders: list[str] = field(default_factory=list)
    cleo_error: str = ""


def align(ctx: SyncContext, account_id: str) -> DirectoryReport:
    report = DirectoryReport()
    claimed: dict[str, set[str]] = {p.id: set() for p in ctx.partners.partners}
    for party in freshbooks_parties(ctx, account_id):
        label = f"{party.source_id} {party.name}".strip()
        if party.partner_id is None:
            (report.unclaimed_clients if party.kind is DocumentKind.INVOICE else report.unclaimed_vendors).append(label)
        else:
            claimed[party.partner_id].add(label)
    folders: set[str] = set()
    try:
        client = ctx.cleo()
        try:
            folders = set(client.folders())
        finally:
            client.close()
    except FreshcleoError as exc:
        report.cleo_error = str(exc)
    used: set[str] = set()
    for partner in ctx.partners.partners:
        wanted = [f for f in (partner.cleo.outbound, partner.cleo.inbound, partner.cleo.archive) if f]
        used.update(wanted)
        report.partners.append({
            "partner": partner.id, "role": partner.role.value, "enabled": partner.enabled,
            "freshbooks_matches": len(claimed[partner.id]),
            "freshbooks": ", ".join(sorted(claimed[partner.id]))[:200] or "MISSING",
            "cleo_folders_missing": ", ".join(f for f in wanted if folders and f not in folders) or "",
        })
    report.unused_cleo_folders = sorted(folders - used)
    return report



@dataclass(frozen=True)
class FreshBooksParty:
    """A FreshBooks client (``kind`` invoice: customers) or bill vendor (``kind`` bill: suppliers), with the
    partner that claims it (``None``: no partner does)."""

    kind: DocumentKind
    source_id: str
    name: str
    partner_id: str | None


def freshbooks_parties(ctx: SyncContext, account_id: str) -> list[FreshBooksParty]:
    """Every active FreshBooks client and bill vendor as the last reference poll saw them, routed to partners."""
    with ctx.ledger.begin() as conn:
        clients = snapshots.latest_payloads(conn, "client", account_id)
        vendors = snapshots.latest_payloads(conn, "bill_vendor", account_id)
    out: list[FreshBooksParty] = []
    for kind, records in ((DocumentKind.INVOICE, clients), (DocumentKind.BILL, vendors)):
        for raw in records:
            if int(raw.get("vis_state") or 0) == 1:
                continue
            source_id, organization, email = _keys(kind, raw)
            partner = ctx.partners.route(kind, source_id=source_id, organization=organization, email=email)
            out.append(FreshBooksParty(kind, source_id, organization or email,
                                       partner.id if partner is not None else None))
    return out


def _keys(kind: DocumentKind, raw: dict[str, Any]) -> tuple[str, str, str]:
    """What routing matches on for a client (customers) or a bill vendor (suppliers)."""
    if kind is DocumentKind.INVOICE:
        return str(raw.get("id") or raw.get("userid") or ""), raw.get("organization") or "", raw.get("email") or ""
    return (str(raw.get("vendorid") or raw.get("id") or ""), raw.get("vendor_name") or "",
            raw.get("primary_contact_email") or "")
