"""Operations on ``webhook_inbox``: verified FreshBooks events waiting for (or taken by) a pipeline run.

Owns insertion with duplicate detection, reading in id order for the sensor, and the record of which run
request took each row. Only the receiver writes rows, and only after the signature verified; nothing here
checks signatures or knows about partitions or Dagster.

Duplicates. FreshBooks events carry ids only (no timestamp), so the same change delivered twice and two
changes of one document look identical. An identical event (same ``dedupe_key``: a hash of the fields,
key order aside) is therefore a *duplicate* only while its original still waits for a run on the same UTC
day: that run reads the document's state as of when it runs, which covers both. Once the original was taken
by a run, an identical event is new work (the document may have changed again after that run read it).
Two identical deliveries racing each other may both be recorded as new: that costs one redundant run,
never a lost event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from freshcleo_pipeline.ledger.schema import webhook_inbox


@dataclass(frozen=True)
class InboxRow:
    id: int
    callback_path: str
    account_id: str
    event_name: str
    object_id: str
    received_at: dt.datetime
    duplicate_of: int | None
    handled_run_id: str | None
    handled_partition: str | None
    handled_at: dt.datetime | None


def dedupe_key(fields: Mapping[str, str]) -> str:
    """SHA-256 of the event's canonical form (fields sorted by name): equal for a re-delivered event."""
    canonical = json.dumps({str(k): str(v) for k, v in fields.items()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _row(m: RowMapping) -> InboxRow:
    return InboxRow(id=m["id"], callback_path=m["callback_path"], account_id=m["account_id"],
                    event_name=m["event_name"], object_id=m["object_id"], received_at=m["received_at"],
                    duplicate_of=m["duplicate_of"], handled_run_id=m["handled_run_id"],
                    handled_partition=m["handled_partition"], handled_at=m["handled_at"])


def record_event(conn: Connection, *, callback_path: str, account_id: str, event_name: str, object_id: str,
                 fields: Mapping[str, str], raw_form: str, received_at: dt.datetime) -> InboxRow:
    """Insert a verified event; mark it ``duplicate_of`` a pending identical one instead of new work."""
    key = dedupe_key(fields)
    day_start = received_at.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    original = conn.execute(
        select(webhook_inbox.c.id)
        .where(webhook_inbox.c.dedupe_key == key, webhook_inbox.c.duplicate_of.is_(None),
               webhook_inbox.c.handled_at.is_(None), webhook_inbox.c.received_at >= day_start)
        .order_by(webhook_inbox.c.id).limit(1)
    ).scalar()
    new_id = conn.execute(
        insert(webhook_inbox).values(
            callback_path=callback_path, account_id=account_id, event_name=event_name, object_id=object_id,
            received_at=received_at, raw_form=raw_form, dedupe_key=key, duplicate_of=original,
        ).returning(webhook_inbox.c.id)
    ).scalar_one()
    return InboxRow(id=new_id, callback_path=callback_path, account_id=account_id, event_name=event_name,
                    object_id=object_id, received_at=received_at, duplicate_of=original, handled_run_id=None,
                    handled_partition=None, handled_at=None)


def rows_after(conn: Connection, after_id: int, limit: int) -> list[InboxRow]:
    """New work after a cursor: rows with a greater id, duplicates excluded, in id order, at most ``limit``."""
    query = (select(webhook_inbox).where(webhook_inbox.c.id > after_id, webhook_inbox.c.duplicate_of.is_(None))
             .order_by(webhook_inbox.c.id).limit(limit))
    return [_row(m) for m in conn.execute(query).mappings()]


def get_row(conn: Connection, row_id: int) -> InboxRow | None:
    found = conn.execute(select(webhook_inbox).where(webhook_inbox.c.id == row_id)).mappings().first()
    return _row(found) if found is not None else None


def all_rows(conn: Connection) -> list[InboxRow]:
    return [_row(m) for m in conn.execute(select(webhook_inbox).order_by(webhook_inbox.c.id)).mappings()]


def last_handled_id(conn: Connection) -> int:
    """The greatest id a run request took (0 when none): where a sensor without a cursor resumes."""
    # Duplicates are marked together with their original, so they can carry ids past the sensor's position.
    return int(conn.execute(select(func.max(webhook_inbox.c.id))
                            .where(webhook_inbox.c.handled_at.is_not(None),
                                   webhook_inbox.c.duplicate_of.is_(None))).scalar() or 0)


def mark_handled(conn: Connection, ids: Iterable[int], *, run_ref: str | None, partition: str | None,
                 at: dt.datetime) -> int:
    """Record that the run request ``run_ref`` (for ``partition``) took these rows and their duplicates.

    ``run_ref`` and ``partition`` are None for rows consumed without a run (dated before the partitions).
    """
    id_list = list(ids)
    if not id_list:
        return 0
    result = conn.execute(update(webhook_inbox)
                          .where(or_(webhook_inbox.c.id.in_(id_list), webhook_inbox.c.duplicate_of.in_(id_list)))
                          .values(handled_run_id=run_ref, handled_partition=partition, handled_at=at))
    return int(result.rowcount)
