"""Lookups that read every row of the book become index searches.

A customer's 850 looks for the invoice carrying its PO number and a customer's 820 names invoices by number;
both were reads of every invoice of the book. The PO number gets a column of its own, filled here from the
stored normalized bodies. The lineage sensor's per-tick reads (the documents a file carries, a partner's
interchange) get the indexes they search by.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table('documents') as batch:
        batch.add_column(sa.Column('po_number', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_documents_kind_partner_id_po_number'), 'documents',
                    ['kind', 'partner_id', 'po_number'], unique=False)
    op.create_index(op.f('ix_documents_kind_account_id_reference'), 'documents',
                    ['kind', 'account_id', 'reference'], unique=False)
    op.create_index(op.f('ix_outbox_interchange_id'), 'outbox', ['interchange_id'], unique=False)
    op.create_index(op.f('ix_acknowledgments_sent_interchange_id'), 'acknowledgments_sent', ['interchange_id'],
                    unique=False)
    op.create_index(op.f('ix_partner_documents_partner_id_isa13'), 'partner_documents', ['partner_id', 'isa13'],
                    unique=False)
    documents = sa.table('documents', sa.column('id', sa.Integer()), sa.column('kind', sa.String()),
                         sa.column('body', sa.Text()), sa.column('po_number', sa.String()))
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(documents.c.id, documents.c.body)
                            .where(documents.c.kind == 'invoice', documents.c.id > last, documents.c.body.is_not(None))
                            .order_by(documents.c.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1][0]
        for ident, body in rows:
            try:
                number = str((json.loads(body) or {}).get('po_number') or '').strip()[:64]
            except (ValueError, AttributeError):
                continue
            if number:
                conn.execute(documents.update().where(documents.c.id == ident).values(po_number=number))


def downgrade() -> None:
    op.drop_index(op.f('ix_partner_documents_partner_id_isa13'), table_name='partner_documents')
    op.drop_index(op.f('ix_acknowledgments_sent_interchange_id'), table_name='acknowledgments_sent')
    op.drop_index(op.f('ix_outbox_interchange_id'), table_name='outbox')
    op.drop_index(op.f('ix_documents_kind_account_id_reference'), table_name='documents')
    op.drop_index(op.f('ix_documents_kind_partner_id_po_number'), table_name='documents')
    with op.batch_alter_table('documents') as batch:
        batch.drop_column('po_number')
