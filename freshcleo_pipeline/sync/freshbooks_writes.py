"""Making one opt-in write to FreshBooks exactly once, through re-runs, retries and crashes, with its trail.

Owns the order of things around a write: refuse at once while read-only (nothing claimed); claim the
idempotency key in its own committed transaction before the request leaves; return what an earlier run
created; settle a claim an earlier attempt left behind by looking first (``find``) and adopting what it
finds; else POST once (``create``) and record the id. FreshBooks refusing the content marks the write failed
with its reason (final for that key: a corrected document has a new content version, so a new key); an
unknown outcome leaves the claim for the next run to settle. Every step that changes something is written to
the partner document's trail and, once an object exists, to the FreshBooks object's trail, each naming the
other.

Must not: decide whether a write is wanted (the partner's opt-in and the matching are the caller's), build
bodies (``freshbooks/bodies.py``) or send anything but through ``FreshBooksWriter``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from freshcleo_pipeline.errors import WriteOutcomeUnknownError, WriteRejectedError, WritesRefusedError
from freshcleo_pipeline.freshbooks.writer import FreshBooksWriter
from freshcleo_pipeline.ledger import audit
from freshcleo_pipeline.ledger import freshbooks_writes as ledger_writes
from freshcleo_pipeline.ledger.partner_documents import trail_kind
from freshcleo_pipeline.sync.context import SyncContext

CREATED = "created"
FAILED = "failed"
UNKNOWN = "unknown"  # the request may have left; the claim stays for the next run to settle
REFUSED = "refused"  # read-only, or the connection lacks the write scope; nothing was created


@dataclass(frozen=True)
class WriteOutcome:
    key: str
    kind: str
    state: str  # created | failed | unknown | refused
    freshbooks_id: str | None = None
    created_now: bool = False  # this call's POST created it
    adopted: bool = False  # an earlier attempt created it; this call found it
    reason: str = ""


@dataclass(frozen=True)
class Origin:
    """The partner document a write comes from, as its trail names it (account = partner)."""

    transaction_set: str  # "810", "850"
    source_id: str  # their ISA13/GS06/ST02


def write_once(ctx: SyncContext, writer: FreshBooksWriter, *, key: str, partner_id: str, kind: str,
               reference: str, body: Mapping[str, Any], find: Callable[[], str | None],
               create: Callable[[Mapping[str, Any]], str], origin: Origin | None = None,
               partner_document_id: int | None = None) -> WriteOutcome:
    """Create one FreshBooks object at most once for ``key`` (include the document's content version in it).

    ``find`` looks the object up (``writer.find_bill(...)`` bound to its arguments), ``create`` posts ``body``
    (``writer.create_bill``…). Raises only what no outcome describes (a dead grant, an unreadable answer to a
    lookup); the claim then stays and the next run settles it.
    """
    if writer.read_only:
        reason = str(WritesRefusedError(kind, "FRESHCLEO_FRESHBOOKS_READ_ONLY is true (the default)"))
        ctx.log.info("freshbooks %s for %s %s not written: read-only", kind, partner_id, reference)
        return WriteOutcome(key, kind, REFUSED, reason=reason)
    with ctx.ledger.begin() as conn:
        row = ledger_writes.claim(conn, key=key, partner_id=partner_id, kind=kind, reference=reference,
                                  request=dict(body), partner_document_id=partner_document_id, run_id=ctx.run_id)
        if row.attempts == 1:
            _partner_event(conn, ctx, origin, partner_id, "freshbooks_write_claimed",
                           {"kind": kind, "key": key, "reference": reference})
    if row.state == ledger_writes.CREATED:
        return WriteOutcome(key, kind, CREATED, row.freshbooks_id)
    if row.state == ledger_writes.FAILED:
        return WriteOutcome(key, kind, FAILED, reason=row.error or "")
    if row.attempts > 1:
        # An earlier attempt claimed it and may have sent it: look before sending again.
        found = find()
        if found is not None:
            _record_created(ctx, writer, row.id, origin, partner_id, kind, key, reference, found,
                            partner_document_id, adopted=True)
            return WriteOutcome(key, kind, CREATED, found, adopted=True)
    try:
        created = create(body)
    except WriteRejectedError as exc:
        with ctx.ledger.begin() as conn:
            ledger_writes.mark_failed(conn, row.id, str(exc), run_id=ctx.run_id)
            _partner_event(conn, ctx, origin, partner_id, "freshbooks_write_failed",
                           {"kind": kind, "key": key, "reference": reference, "field": exc.field,
                            "message": exc.message})
        ctx.log.warning("freshbooks %s for %s %s refused by FreshBooks: %s", kind, partner_id, reference, exc)
        return WriteOutcome(key, kind, FAILED, reason=str(exc))
    except WriteOutcomeUnknownError as exc:
        ctx.log.warning("freshbooks %s for %s %s: outcome unknown (%s); the next run looks before resending",
                        kind, partner_id, reference, exc)
        return WriteOutcome(key, kind, UNKNOWN, reason=str(exc))
    except WritesRefusedError as exc:  # 403: the scope is missing; the claim stays until a reconnect
        ctx.log.warning("freshbooks %s for %s %s: %s", kind, partner_id, reference, exc)
        return WriteOutcome(key, kind, REFUSED, reason=str(exc))
    _record_created(ctx, writer, row.id, origin, partner_id, kind, key, reference, created, partner_document_id,
                    adopted=False)
    return WriteOutcome(key, kind, CREATED, created, created_now=True)


def _record_created(ctx: SyncContext, writer: FreshBooksWriter, row_id: int, origin: Origin | None,
                    partner_id: str, kind: str, key: str, reference: str, freshbooks_id: str,
                    partner_document_id: int | None, *, adopted: bool) -> None:
    event = "freshbooks_adopted" if adopted else "freshbooks_created"
    with ctx.ledger.begin() as conn:
        ledger_writes.mark_created(conn, row_id, freshbooks_id, run_id=ctx.run_id)
        _partner_event(conn, ctx, origin, partner_id, event,
                       {"kind": kind, "key": key, "reference": reference, "freshbooks_id": freshbooks_id,
                        "freshbooks_account_id": writer.account_id})
        audit.record(conn, kind=kind, account_id=writer.account_id, source_id=freshbooks_id,
                     event="created_by_freshcleo" if not adopted else "adopted_by_freshcleo",
                     partner_id=partner_id, run_id=ctx.run_id,
                     detail={"key": key, "reference": reference, "partner_document_id": partner_document_id,
                             **({"partner_trail_kind": trail_kind(origin.transaction_set),
                                 "partner_source_id": origin.source_id} if origin is not None else {})})
    ctx.log.info("freshbooks %s %s %s for %s %s", kind, freshbooks_id, "found" if adopted else "created",
                 partner_id, reference)


def _partner_event(conn: Any, ctx: SyncContext, origin: Origin | None, partner_id: str, event: str,
                   detail: dict[str, Any]) -> None:
    if origin is None:
        return
    audit.record(conn, kind=trail_kind(origin.transaction_set), account_id=partner_id,
                 source_id=origin.source_id, event=event, partner_id=partner_id, detail=detail,
                 run_id=ctx.run_id)
