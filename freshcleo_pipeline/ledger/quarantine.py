"""Quarantine: input set aside instead of processed, with the reason a person reads and what became of it.

One row per unit of input and version of it (``item_key`` + ``digest``): a FreshBooks record that cannot be
read, a document that cannot be normalized, an inbound file that cannot be taken. The same bad input seen again
on the next poll bumps ``occurrences`` instead of adding rows; a dismissed input stays dismissed when it comes
back unchanged; a later version that processes resolves the open rows of its item.

States: ``open`` (waiting for a person), ``retrying`` (a person asked for another attempt; the stage that owns
it takes it on its next run), ``resolved`` (processed after all), ``dismissed`` (a person said why it is set
aside for good). No row is ever deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update

from freshcleo_pipeline.ledger.rows import dumps, insert_ignore, loads, utcnow
from freshcleo_pipeline.ledger.schema import quarantine

OPEN = "open"
RETRYING = "retrying"
RESOLVED = "resolved"
DISMISSED = "dismissed"
#: States that still need something: a person's decision or the stage's next attempt.
PENDING = (OPEN, RETRYING)
STATES = (OPEN, RETRYING, RESOLVED, DISMISSED)
STAGES = ("extract", "normalize", "inbound", "review")  # review: a delivered payment changed (policy flag)

#: Raw input kept with a row; bigger input keeps its size and digest only (it was never loaded whole).
MAX_RAW_BYTES = 2 * 1024 * 1024
_MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class Entry:
    id: int
    stage: str
    item_key: str
    digest: str
    kind: str
    account_id: str | None
    partner_id: str | None
    reference: str
    partition_date: dt.date | None
    reason_code: str
    reason: str
    field: str | None
    value: str | None
    raw_size: int | None
    detail: dict[str, Any]
    state: str
    occurrences: int
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    closed_at: dt.datetime | None
    resolution: str | None
    run_id: str | None

    @property
    def pending(self) -> bool:
        return self.state in PENDING


_SUMMARY_COLUMNS = [c for c in quarantine.c if c.name != "raw"]


def _entry(row: Any) -> Entry:
    return Entry(id=row["id"], stage=row["stage"], item_key=row["item_key"], digest=row["digest"], kind=row["kind"],
                 account_id=row["account_id"], partner_id=row["partner_id"], reference=row["reference"],
                 partition_date=row["partition_date"], reason_code=row["reason_code"], reason=row["reason"],
                 field=row["field"], value=row["value"], raw_size=row["raw_size"], detail=loads(row["detail"]) or {},
                 state=row["state"], occurrences=row["occurrences"], first_seen_at=row["first_seen_at"],
                 last_seen_at=row["last_seen_at"], closed_at=row["closed_at"], resolution=row["resolution"],
                 run_id=row["run_id"])


def digest_of(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def shown_value(value: object) -> str | None:
    """A value as a person reads it in a reason: repr, bounded."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[:_MAX_VALUE_CHARS] + f"… ({len(text)} characters)"


def put(conn: Connection, *, stage: str, item_key: str, digest: str, kind: str, reason_code: str, reason: str,
        reference: str = "", account_id: str | None = None, partner_id: str | None = None,
        partition_date: dt.date | None = None, field: str | None = None, value: object = None,
        raw: bytes | None = None, raw_size: int | None = None, detail: dict[str, Any] | None = None,
        run_id: str | None = None) -> Entry:
    """Set one input aside (or count it again when this version of it is already set aside); returns its row.

    A row a person dismissed stays dismissed. A resolved row that fails again is opened again.
    """
    if stage not in STAGES:
        raise ValueError(f"stage: got {stage!r}; expected one of {', '.join(STAGES)}")
    now = utcnow()
    kept = raw if raw is not None and len(raw) <= MAX_RAW_BYTES else None
    size = raw_size if raw_size is not None else (len(raw) if raw is not None else None)
    values = {
        "kind": kind, "account_id": account_id, "partner_id": partner_id, "reference": reference[:200],
        "partition_date": partition_date, "reason_code": reason_code, "reason": reason, "field": field,
        "value": shown_value(value), "raw_size": size, "detail": dumps(detail or {}), "run_id": run_id,
    }
    inserted = insert_ignore(conn, quarantine, [{
        "stage": stage, "item_key": item_key[:300], "digest": digest, **values, "raw": kept, "state": OPEN,
        "occurrences": 1, "first_seen_at": now, "last_seen_at": now,
    }], ["item_key", "digest"])
    where = (quarantine.c.item_key == item_key[:300]) & (quarantine.c.digest == digest)
    if not inserted:
        current = conn.execute(select(quarantine.c.state).where(where)).scalar_one()
        if current == DISMISSED:
            conn.execute(update(quarantine).where(where).values(
                occurrences=quarantine.c.occurrences + 1, last_seen_at=now))
        else:
            conn.execute(update(quarantine).where(where).values(
                stage=stage, state=OPEN, occurrences=quarantine.c.occurrences + 1, last_seen_at=now,
                closed_at=None, resolution=None, **values))
    row = conn.execute(select(*_SUMMARY_COLUMNS).where(where)).mappings().one()
    return _entry(row)


def resolve(conn: Connection, item_keys: Sequence[str], resolution: str, *, stages: Sequence[str] = STAGES) -> int:
    """Close the pending rows of these items: they were processed after all (a later version, a retry)."""
    closed = 0
    keys = [k[:300] for k in item_keys]
    for start in range(0, len(keys), 500):
        result = conn.execute(update(quarantine).where(
            quarantine.c.item_key.in_(keys[start:start + 500]), quarantine.c.state.in_(PENDING),
            quarantine.c.stage.in_(list(stages))).values(state=RESOLVED, closed_at=utcnow(), resolution=resolution))
        closed += max(result.rowcount, 0)
    return closed


def pending_keys(conn: Connection, stage: str, item_keys: Sequence[str] | None = None) -> set[str]:
    """Items of a stage with a pending row (optionally among ``item_keys``)."""
    query = select(quarantine.c.item_key).where(quarantine.c.stage == stage, quarantine.c.state.in_(PENDING))
    if item_keys is None:
        return {r[0] for r in conn.execute(query)}
    found: set[str] = set()
    keys = list(item_keys)
    for start in range(0, len(keys), 500):
        found |= {r[0] for r in conn.execute(query.where(quarantine.c.item_key.in_(keys[start:start + 500])))}
    return found


def states(conn: Connection, stage: str, item_keys: Sequence[str]) -> dict[tuple[str, str], str]:
    """(item_key, digest) → state of every row of a stage among ``item_keys``, whatever its state."""
    found: dict[tuple[str, str], str] = {}
    keys = [k[:300] for k in item_keys]
    query = select(quarantine.c.item_key, quarantine.c.digest, quarantine.c.state).where(quarantine.c.stage == stage)
    for start in range(0, len(keys), 500):
        for key, digest, state in conn.execute(query.where(quarantine.c.item_key.in_(keys[start:start + 500]))):
            found[(key, digest)] = state
    return found


def resolve_versions(conn: Connection, item_key: str, digests: Sequence[str], resolution: str) -> int:
    """Close the pending rows of these versions of one item only (other versions of it keep their state: a
    partner reusing a file name for new content does not settle what was wrong with the old content)."""
    result = conn.execute(update(quarantine).where(
        quarantine.c.item_key == item_key[:300], quarantine.c.digest.in_(list(digests)),
        quarantine.c.state.in_(PENDING)).values(state=RESOLVED, closed_at=utcnow(), resolution=resolution))
    return max(result.rowcount, 0)


def get(conn: Connection, entry_id: int) -> Entry | None:
    row = conn.execute(select(*_SUMMARY_COLUMNS).where(quarantine.c.id == entry_id)).mappings().first()
    return _entry(row) if row is not None else None


def raw_of(conn: Connection, entry_id: int) -> bytes | None:
    value = conn.execute(select(quarantine.c.raw).where(quarantine.c.id == entry_id)).scalar_one_or_none()
    return bytes(value) if value is not None else None


def entries(conn: Connection, *, states: Sequence[str] = PENDING, stage: str | None = None,
            partner_id: str | None = None, item_key: str | None = None, limit: int = 200) -> list[Entry]:
    query = select(*_SUMMARY_COLUMNS).where(quarantine.c.state.in_(list(states)))
    if stage is not None:
        query = query.where(quarantine.c.stage == stage)
    if partner_id is not None:
        query = query.where(quarantine.c.partner_id == partner_id)
    if item_key is not None:
        query = query.where(quarantine.c.item_key == item_key)
    rows = conn.execute(query.order_by(quarantine.c.id.desc()).limit(limit)).mappings()
    return [_entry(r) for r in rows]


def counts(conn: Connection, *, states: Sequence[str] = PENDING, stages: Sequence[str] = STAGES,
           days: Sequence[dt.date] | None = None) -> Counter[tuple[str, str]]:
    """(stage, reason_code) → rows in ``states``; with ``days``, only rows of those partition days."""
    query = (select(quarantine.c.stage, quarantine.c.reason_code, func.count())
             .where(quarantine.c.state.in_(list(states)), quarantine.c.stage.in_(list(stages)))
             .group_by(quarantine.c.stage, quarantine.c.reason_code))
    if days is not None:
        query = query.where(quarantine.c.partition_date.in_(list(days)))
    return Counter({(stage, code): int(n) for stage, code, n in conn.execute(query)})


def dismiss(conn: Connection, entry_id: int, reason: str) -> Entry:
    """A person sets the input aside for good, saying why."""
    entry = _require(conn, entry_id)
    if not reason.strip():
        raise ValueError("reason: got ''; expected why this input is set aside for good")
    if entry.state in (RESOLVED, DISMISSED):
        raise ValueError(f"quarantine {entry_id}: state is {entry.state}; only open or retrying entries can be "
                         "dismissed")
    conn.execute(update(quarantine).where(quarantine.c.id == entry_id).values(
        state=DISMISSED, closed_at=utcnow(), resolution=reason.strip()))
    return _require(conn, entry_id)


def request_retry(conn: Connection, entry_id: int) -> Entry:
    """A person asks for another attempt; the owning stage takes it on its next run."""
    entry = _require(conn, entry_id)
    if entry.state == RESOLVED:
        raise ValueError(f"quarantine {entry_id}: already resolved ({entry.resolution})")
    conn.execute(update(quarantine).where(quarantine.c.id == entry_id).values(
        state=RETRYING, closed_at=None, resolution=None))
    return _require(conn, entry_id)


def retrying(conn: Connection, stage: str) -> list[Entry]:
    return entries(conn, states=(RETRYING,), stage=stage, limit=10_000)


def _require(conn: Connection, entry_id: int) -> Entry:
    entry = get(conn, entry_id)
    if entry is None:
        raise ValueError(f"quarantine id: got {entry_id}; no such entry (see `freshcleo quarantine list`)")
    return entry


def freshbooks_matches(conn: Connection, reference: str) -> list[tuple[str, str, str]]:
    """(kind, account_id, FreshBooks id) of quarantined FreshBooks records with this id, for ``trace``."""
    rows = conn.execute(select(quarantine.c.kind, quarantine.c.account_id, quarantine.c.reference).where(
        quarantine.c.stage.in_(("extract", "normalize")), quarantine.c.reference == reference)).all()
    return sorted({(kind, account or "", ref) for kind, account, ref in rows})


def of_document(conn: Connection, kind: str, source_id: str) -> list[Entry]:
    """Every entry about one FreshBooks document, oldest first: the record itself, and the review entries of its
    deliveries (``outbound:<partner>:<kind>:<id>``, ``guide:<partner>:<kind>:<id>``)."""
    suffix = f":{kind}:{source_id}"
    rows = conn.execute(select(*_SUMMARY_COLUMNS).where(
        (quarantine.c.item_key == freshbooks_item_key(kind, source_id))
        | ((quarantine.c.stage == "review") & quarantine.c.item_key.endswith(suffix, autoescape=True)))
        .order_by(quarantine.c.id)).mappings()
    return [_entry(r) for r in rows]


def freshbooks_item_key(kind: str, source_id: str) -> str:
    """The item key of a FreshBooks record: the one name extraction, normalization and trace agree on."""
    return f"freshbooks:{kind}:{source_id}"
