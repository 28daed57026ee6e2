"""The ledger: the SQL system of record of every document's life (snapshots, documents, outbox, trail).

Operations are plain functions taking a SQLAlchemy ``Connection`` so callers choose the transaction
boundaries; ``Ledger`` owns the engine and the schema version. No Dagster here.

``Connection`` is re-exported so callers can annotate the connections they pass along without importing
SQLAlchemy themselves: outside this package nothing builds a statement.
"""

from sqlalchemy import Connection

from freshcleo_pipeline.ledger.database import Ledger, open_ledger

__all__ = ["Connection", "Ledger", "open_ledger"]
