"""Files pulled from Cleo inbound folders: recorded once (by folder, name and digest), parsed, archived."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, select, update

from freshcleo_pipeline.ledger.rows import dumps, insert_ignore, loads, utcnow
from freshcleo_pipeline.ledger.schema import inbound_files


@dataclass(frozen=True)
class InboundFile:
    id: int
    partner_id: str | None
    folder: str
    cleo_file_id: str
    file_name: str
    size: int
    sha256: str
    kind: str
    content: str
    state: str
    parsed: Any
    received_at: dt.datetime
    archived_at: dt.datetime | None


def _file(row: Any) -> InboundFile:
    return InboundFile(id=row["id"], partner_id=row["partner_id"], folder=row["folder"],
                       cleo_file_id=row["cleo_file_id"], file_name=row["file_name"], size=row["size"],
                       sha256=row["sha256"], kind=row["kind"], content=row["content"], state=row["state"],
                       parsed=loads(row["parsed"]), received_at=row["received_at"], archived_at=row["archived_at"])


def record(conn: Connection, *, partner_id: str | None, folder: str, cleo_file_id: str, file_name: str,
           content: str, sha256: str, kind: str, run_id: str | None, size: int | None = None) -> InboundFile:
    """Record a downloaded file (idempotent on folder + name + digest) and return its row.

    ``sha256`` and ``size`` describe the bytes as received; ``content`` is their text, which for a file that
    is not UTF-8 is the Latin-1 reading (encoding it again as Latin-1 gives the received bytes back).
    """
    insert_ignore(conn, inbound_files, [{
        "partner_id": partner_id, "folder": folder, "cleo_file_id": cleo_file_id, "file_name": file_name,
        "size": size if size is not None else len(content.encode("utf-8")), "sha256": sha256, "kind": kind,
        "content": content,
        "state": "recorded", "received_at": utcnow(), "run_id": run_id,
    }], ["folder", "file_name", "sha256"])
    row = conn.execute(select(inbound_files).where(
        inbound_files.c.folder == folder, inbound_files.c.file_name == file_name,
        inbound_files.c.sha256 == sha256)).mappings().one()
    return _file(row)


def set_state(conn: Connection, file_id: int, state: str, *, parsed: Any = None, error: str | None = None,
              archived: bool = False) -> None:
    values: dict[str, Any] = {"state": state, "error": error}
    if parsed is not None:
        values["parsed"] = dumps(parsed)
    if archived:
        values["archived_at"] = utcnow()
    conn.execute(update(inbound_files).where(inbound_files.c.id == file_id).values(**values))


def mark_archived(conn: Connection, file_id: int) -> None:
    """The file left its Cleo folder. A file whose reading failed keeps state ``error`` and its reason."""
    conn.execute(update(inbound_files).where(inbound_files.c.id == file_id).values(
        state=case((inbound_files.c.state == "error", "error"), else_="archived"), archived_at=utcnow()))


def not_archived(conn: Connection) -> list[InboundFile]:
    rows = conn.execute(select(inbound_files).where(inbound_files.c.archived_at.is_(None))
                        .order_by(inbound_files.c.id)).mappings()
    return [_file(r) for r in rows]


def by_name(conn: Connection, file_name: str) -> list[InboundFile]:
    rows = conn.execute(select(inbound_files).where(inbound_files.c.file_name == file_name)).mappings()
    return [_file(r) for r in rows]
