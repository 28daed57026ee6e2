"""Alembic environment: runs on the connection the ledger hands over (never opens its own)."""

from alembic import context

from freshcleo_pipeline.ledger.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables there
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
