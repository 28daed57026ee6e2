"""The validator's verdict on each rendered interchange, with the totals its sets state, kept by content digest.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'interchange_verdicts',
        sa.Column('interchange_id', _ID, nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('charset', sa.String(length=20), nullable=False),
        sa.Column('error_count', sa.Integer(), nullable=False),
        sa.Column('first_error', sa.Text(), nullable=True),
        sa.Column('set_amounts', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['interchange_id'], ['interchanges.id'],
                                name=op.f('fk_interchange_verdicts_interchange_id_interchanges')),
        sa.PrimaryKeyConstraint('interchange_id', name=op.f('pk_interchange_verdicts')),
    )


def downgrade() -> None:
    op.drop_table('interchange_verdicts')
