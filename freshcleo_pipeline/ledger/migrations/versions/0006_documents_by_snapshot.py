"""Documents found by their snapshot: each partition's figures join the newest snapshots to their decisions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_documents_snapshot_id'), 'documents', ['snapshot_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_documents_snapshot_id'), table_name='documents')
