"""Uploads whose outcome is unknown: when the upload was sent, since when it is in doubt, how often re-sent.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('interchanges') as batch:
        batch.add_column(sa.Column('upload_started_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('in_doubt_since', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('resend_count', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('interchanges') as batch:
        batch.drop_column('resend_count')
        batch.drop_column('in_doubt_since')
        batch.drop_column('upload_started_at')
