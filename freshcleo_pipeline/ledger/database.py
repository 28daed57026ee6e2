"""The ledger's engine and schema version: connect, migrate, refuse to run on an unknown schema.

Owns engine creation (SQLite pragmas, PostgreSQL pooling), transactions, and the alembic upgrade. Knows no
business operation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InvalidatePoolError, OperationalError, SQLAlchemyError

from freshcleo_pipeline.errors import ConfigError, LedgerError
from freshcleo_pipeline.ledger.schema import metadata

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it only has to be the same for every freshcleo process upgrading one database.
_PG_MIGRATION_LOCK = 7_341_002_118
# A pooled server connection idle for longer than this is pinged before use (a restarted or failed-over server
# leaves dead ones in the pool). One handed back a moment ago is not: a run opens a short transaction per page or
# file, and a ping before each of them was one more round trip per transaction.
PING_AFTER_IDLE_SECONDS = 1.0


def _alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


class Ledger:
    """An engine on the ledger database plus its schema checks."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ConfigError("FRESHCLEO_LEDGER_URL", url, "an SQLAlchemy database URL") from None
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine_kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        self.url = parsed
        self.engine: Engine = create_engine(parsed, **engine_kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        elif not engine_kwargs.get("pool_pre_ping"):
            _ping_when_idle(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def describe(self) -> str:
        """The URL without its password, for logs and messages."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction, committed on success and rolled back on error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise LedgerError(f"ledger database {self.describe()}: {exc.orig}") from exc

    def ping(self) -> None:
        """One round trip to the database (health checks); raises ``LedgerError`` when it does not answer."""
        with self.begin() as conn:
            conn.execute(text("SELECT 1"))

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def upgrade(self) -> str:
        """Apply pending migrations (serialized across processes on PostgreSQL); return the revision."""
        head = head_revision()
        with self.engine.begin() as conn:
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            current = MigrationContext.configure(conn).get_current_revision()
            self._refuse_unknown(current)
            if current != head:
                log.info("ledger %s: migrating %s -> %s", self.describe(), current or "empty", head)
                command.upgrade(_alembic_config(conn), "head")
        return head

    def ensure_schema(self, *, upgrade: bool = True) -> None:
        """Called by every entry point: migrate when allowed, otherwise refuse on a stale schema."""
        try:
            current = self.current_revision()
        except SQLAlchemyError as exc:
            raise LedgerError(f"cannot reach the ledger database {self.describe()}: {exc}") from exc
        self._refuse_unknown(current)
        if current == head_revision():
            return
        if not upgrade:
            raise LedgerError(
                f"the ledger database {self.describe()} is at schema revision {current or 'none'}, this "
                f"version of freshcleo needs {head_revision()}: run `freshcleo db upgrade`"
            )
        self.upgrade()

    def _refuse_unknown(self, current: str | None) -> None:
        if current is None:
            return
        known = {rev.revision for rev in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
        if current not in known:
            raise LedgerError(
                f"the ledger database {self.describe()} is at schema revision {current}, which this version "
                "of freshcleo does not know (it was written by a newer version); refusing to touch it"
            )

    def refresh_statistics(self, tables: Sequence[str]) -> list[str]:
        """On PostgreSQL, ANALYZE those of ``tables`` that changed by more than a tenth (and 50 rows) since they
        were last analyzed; returns the tables analyzed. A backfill loads thousands of rows and reads them back
        within seconds, before autovacuum (if it runs at all) has looked: a table never analyzed plans a search
        by 500 ids as a scan of the whole table. The threshold keeps this a few ANALYZEs per run, fewer as the
        book grows. SQLite plans from the indexes alone."""
        unknown = set(tables) - set(metadata.tables)
        if unknown:
            raise ValueError(f"not ledger tables: {sorted(unknown)}")
        if not self.is_postgres:
            return []
        with self.begin() as conn:
            counts = conn.execute(text(
                "SELECT relname, n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname = ANY(:tables)"), {"tables": list(tables)}).all()
        stale = sorted(name for name, live, changed in counts if changed > 50 + live // 10)
        for name in stale:
            # One short transaction each: ANALYZE of a table waits for another one of the same table.
            with self.begin() as conn:
                conn.execute(text(f'ANALYZE "{name}"'))
        return stale

    def dispose(self) -> None:
        self.engine.dispose()


def _ping_when_idle(engine: Engine) -> None:
    """``pool_pre_ping`` for connections idle longer than ``PING_AFTER_IDLE_SECONDS`` only. A connection whose
    ping fails is replaced, with every other pooled connection older than it, before the caller gets one."""

    def connected(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise
            raise InvalidatePoolError(f"ledger connection lost while idle: {exc}") from exc

    event.listen(engine, "connect", connected)
    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the UI, the sensor) do not block the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def open_ledger(url: str, *, upgrade: bool = True) -> Ledger:
    ledger = Ledger(url)
    ledger.ensure_schema(upgrade=upgrade)
    return ledger
