"""Acknowledgments we send partners (997, 999, TA1), each carried by an outbound interchange.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('acknowledgments_sent',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('inbound_file_id', _ID, nullable=False),
    sa.Column('ack_kind', sa.String(length=4), nullable=False),
    sa.Column('their_isa13', sa.String(length=9), nullable=False),
    sa.Column('their_gs06', sa.String(length=9), nullable=True),
    sa.Column('functional_id', sa.String(length=2), nullable=True),
    sa.Column('status', sa.String(length=2), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('interchange_id', _ID, nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['inbound_file_id'], ['inbound_files.id'],
                            name=op.f('fk_acknowledgments_sent_inbound_file_id_inbound_files')),
    sa.ForeignKeyConstraint(['interchange_id'], ['interchanges.id'],
                            name=op.f('fk_acknowledgments_sent_interchange_id_interchanges')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acknowledgments_sent')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_acknowledgments_sent_idempotency_key'))
    )
    op.create_index(op.f('ix_acknowledgments_sent_partner_id_their_isa13'), 'acknowledgments_sent',
                    ['partner_id', 'their_isa13'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_acknowledgments_sent_partner_id_their_isa13'), table_name='acknowledgments_sent')
    op.drop_table('acknowledgments_sent')
