"""Acknowledgments received, kept per set, and partner documents read into data.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('acknowledgments',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('outbox_id', _ID, nullable=False),
    sa.Column('inbound_file_id', _ID, nullable=True),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('ack_kind', sa.String(length=4), nullable=False),
    sa.Column('isa13', sa.String(length=9), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('warnings', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['inbound_file_id'], ['inbound_files.id'],
                            name=op.f('fk_acknowledgments_inbound_file_id_inbound_files')),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_acknowledgments_outbox_id_outbox')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acknowledgments')),
    sa.UniqueConstraint('outbox_id', 'inbound_file_id', 'ack_kind',
                        name=op.f('uq_acknowledgments_outbox_id_inbound_file_id_ack_kind'))
    )
    op.create_index(op.f('ix_acknowledgments_partner_id_isa13'), 'acknowledgments', ['partner_id', 'isa13'],
                    unique=False)
    op.create_table('partner_documents',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('inbound_file_id', _ID, nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('transaction_set', sa.String(length=3), nullable=False),
    sa.Column('isa13', sa.String(length=9), nullable=False),
    sa.Column('gs06', sa.String(length=9), nullable=False),
    sa.Column('st02', sa.String(length=9), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('document_date', sa.Date(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('total', sa.String(length=32), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('warnings', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['inbound_file_id'], ['inbound_files.id'],
                            name=op.f('fk_partner_documents_inbound_file_id_inbound_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_documents')),
    sa.UniqueConstraint('inbound_file_id', 'isa13', 'gs06', 'st02',
                        name=op.f('uq_partner_documents_inbound_file_id_isa13_gs06_st02'))
    )
    op.create_index(op.f('ix_partner_documents_partner_id_reference'), 'partner_documents',
                    ['partner_id', 'reference'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_partner_documents_partner_id_reference'), table_name='partner_documents')
    op.drop_table('partner_documents')
    op.drop_index(op.f('ix_acknowledgments_partner_id_isa13'), table_name='acknowledgments')
    op.drop_table('acknowledgments')
