"""Partner documents matched against FreshBooks and what we sent; the opt-in writes to FreshBooks, once each.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'partner_matches',
        sa.Column('id', _ID, autoincrement=True, nullable=False),
        sa.Column('partner_document_id', _ID, nullable=False),
        sa.Column('partner_id', sa.String(length=40), nullable=False),
        sa.Column('transaction_set', sa.String(length=3), nullable=False),
        sa.Column('reference', sa.String(length=64), nullable=False),
        sa.Column('document_date', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('differences', sa.Text(), nullable=False),
        sa.Column('freshbooks_kind', sa.String(length=20), nullable=True),
        sa.Column('freshbooks_id', sa.String(length=40), nullable=True),
        sa.Column('our_reference', sa.String(length=64), nullable=True),
        sa.Column('our_isa13', sa.String(length=9), nullable=True),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('checked_at', sa.DateTime(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.Column('changed_run_id', sa.String(length=64), nullable=True),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['partner_document_id'], ['partner_documents.id'],
                                name=op.f('fk_partner_matches_partner_document_id_partner_documents')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_matches')),
        sa.UniqueConstraint('partner_document_id', name=op.f('uq_partner_matches_partner_document_id')),
    )
    op.create_index(op.f('ix_partner_matches_partner_id_status'), 'partner_matches', ['partner_id', 'status'])
    op.create_index(op.f('ix_partner_matches_changed_run_id'), 'partner_matches', ['changed_run_id'])
    op.create_table(
        'freshbooks_writes',
        sa.Column('id', _ID, autoincrement=True, nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('partner_id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('partner_document_id', _ID, nullable=True),
        sa.Column('reference', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('request', sa.Text(), nullable=False),
        sa.Column('freshbooks_id', sa.String(length=40), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['partner_document_id'], ['partner_documents.id'],
                                name=op.f('fk_freshbooks_writes_partner_document_id_partner_documents')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_freshbooks_writes')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_freshbooks_writes_idempotency_key')),
    )
    op.create_index(op.f('ix_freshbooks_writes_kind_freshbooks_id'), 'freshbooks_writes', ['kind', 'freshbooks_id'])
    op.create_index(op.f('ix_freshbooks_writes_partner_id_kind_reference'), 'freshbooks_writes',
                    ['partner_id', 'kind', 'reference'])


def downgrade() -> None:
    op.drop_table('freshbooks_writes')
    op.drop_table('partner_matches')
