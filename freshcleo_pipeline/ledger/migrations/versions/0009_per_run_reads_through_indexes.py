"""Per-run reads of the ledger find their rows through indexes, whatever the size of the book.

A run's reconciliation reads the outbox rows of its documents, and its partitions' figures read the snapshots and
outbox rows the run stored: each was a read of every row of its table, so a run cost more the bigger the book.
They get the indexes they search by.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_outbox_document_id'), 'outbox', ['document_id'], unique=False)
    op.create_index(op.f('ix_outbox_run_id'), 'outbox', ['run_id'], unique=False)
    op.create_index(op.f('ix_source_snapshots_run_id'), 'source_snapshots', ['run_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_source_snapshots_run_id'), table_name='source_snapshots')
    op.drop_index(op.f('ix_outbox_run_id'), table_name='outbox')
    op.drop_index(op.f('ix_outbox_document_id'), table_name='outbox')
