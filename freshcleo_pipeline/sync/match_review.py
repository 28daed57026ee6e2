"""Match results as a person reads them: the mismatches a run found, the ones still open, one line each."""

from __future__ import annotations

from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.ledger import partner_matches as ledger_matches
from freshcleo_pipeline.ledger.partner_matches import MatchRow


def line(row: MatchRow) -> str:
    """``bolt-fasteners 810 BOLT-INV-3 (PO 412): mismatched: lines[2].unit_price 12.50 invoiced, 12.00 sent``."""
    ours = "our PO" if row.transaction_set == "810" else "our invoice"
    answers = f" ({ours} {row.our_reference})" if row.our_reference else ""
    found = [_difference(d) for d in row.differences[:3]]
    more = len(row.differences) - len(found)
    tail = "; ".join(found) + (f"; and {more} more" if more > 0 else "")
    write = row.detail.get("freshbooks_write") or {}
    wrote = (f" [FreshBooks {write.get('kind') or 'write'} {write.get('state')}"
             + (f" {write['id']}" if write.get("id") else "")
             + (f": {write['reason']}" if write.get("reason") and write.get("state") != "created" else "") + "]"
             if write else "")
    return f"{row.partner_id} {row.transaction_set} {row.reference}{answers}: {row.status}" + (
        f": {tail}" if tail else "") + wrote


def _difference(item: dict[str, object]) -> str:
    values = [f"{label} {item[key]}" for key, label in (("theirs", "theirs"), ("sent", "sent"),
                                                          ("freshbooks", "FreshBooks")) if item.get(key) is not None]
    note = f" ({item['note']})" if item.get("note") else ""
    return f"{item.get('field')}: {', '.join(values) or 'missing'}{note}"


def mismatches_changed_by(ledger: Ledger, run_id: str) -> list[str]:
    with ledger.begin() as conn:
        rows = ledger_matches.changed_in_run(conn, run_id)
    return [line(r) for r in rows if r.status == "mismatched"]


def open_mismatches(ledger: Ledger, limit: int = 200) -> list[str]:
    with ledger.begin() as conn:
        rows = ledger_matches.listing(conn, status=("mismatched",), limit=limit)
    return [line(r) for r in rows]


def listing(ledger: Ledger, *, status: tuple[str, ...] = (), partner_id: str | None = None) -> list[MatchRow]:
    with ledger.begin() as conn:
        return ledger_matches.listing(conn, status=status, partner_id=partner_id)
