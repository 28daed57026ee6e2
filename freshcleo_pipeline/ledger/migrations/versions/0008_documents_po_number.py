"""Invoices found by the customer's PO number, and by number within an account, through indexes.

A customer's 850 looks for the invoice carrying its PO number and a customer's 820 names invoices by number;
both were reads of every invoice of the book. The PO number gets a column of its own, filled here from the
stored normalized bodies.

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
    op.drop_index(op.f('ix_documents_kind_account_id_reference'), table_name='documents')
    op.drop_index(op.f('ix_documents_kind_partner_id_po_number'), table_name='documents')
    with op.batch_alter_table('documents') as batch:
        batch.drop_column('po_number')
