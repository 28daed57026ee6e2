"""Initial ledger schema: snapshots, documents, interchanges, outbox, control numbers, webhooks, tokens,
inbound files and the audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index(op.f('ix_audit_events_kind_account_id_source_id'), 'audit_events', ['kind', 'account_id', 'source_id'], unique=False)
    op.create_table('control_numbers',
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('last_value', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_control_numbers'))
    )
    op.create_table('inbound_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=True),
    sa.Column('folder', sa.String(length=200), nullable=False),
    sa.Column('cleo_file_id', sa.String(length=120), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('parsed', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('archived_at', sa.DateTime(), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_files')),
    sa.UniqueConstraint('folder', 'file_name', 'sha256', name=op.f('uq_inbound_files_folder_file_name_sha256'))
    )
    op.create_table('interchanges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('transaction_set', sa.String(length=3), nullable=False),
    sa.Column('usage', sa.String(length=1), nullable=False),
    sa.Column('isa13', sa.Integer(), nullable=False),
    sa.Column('gs06', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('document_count', sa.Integer(), nullable=False),
    sa.Column('total', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('cleo_file_id', sa.String(length=120), nullable=True),
    sa.Column('cleo_receipt', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interchanges')),
    sa.UniqueConstraint('file_name', name=op.f('uq_interchanges_file_name')),
    sa.UniqueConstraint('partner_id', 'usage', 'isa13', name=op.f('uq_interchanges_partner_id_usage_isa13'))
    )
    op.create_index(op.f('ix_interchanges_state'), 'interchanges', ['state'], unique=False)
    op.create_table('oauth_tokens',
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=True),
    sa.Column('business_id', sa.String(length=40), nullable=True),
    sa.Column('business_uuid', sa.String(length=64), nullable=True),
    sa.Column('access_token_enc', sa.Text(), nullable=True),
    sa.Column('refresh_token_enc', sa.Text(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('provider', 'connection', name=op.f('pk_oauth_tokens'))
    )
    op.create_table('source_snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('partition_date', sa.Date(), nullable=True),
    sa.Column('vis_state', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_snapshots')),
    sa.UniqueConstraint('kind', 'account_id', 'source_id', 'version', name=op.f('uq_source_snapshots_kind_account_id_source_id_version'))
    )
    op.create_index(op.f('ix_source_snapshots_partition_date_kind'), 'source_snapshots', ['partition_date', 'kind'], unique=False)
    op.create_table('webhook_callbacks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('path_token', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('event', sa.String(length=60), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('callback_id', sa.String(length=40), nullable=True),
    sa.Column('verifier_enc', sa.Text(), nullable=True),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.Column('last_event_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_callbacks')),
    sa.UniqueConstraint('path_token', name=op.f('uq_webhook_callbacks_path_token'))
    )
    op.create_table('webhook_inbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('callback_path', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('event_name', sa.String(length=60), nullable=False),
    sa.Column('object_id', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('raw_form', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=64), nullable=False),
    sa.Column('duplicate_of', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('handled_run_id', sa.String(length=64), nullable=True),
    sa.Column('handled_partition', sa.String(length=10), nullable=True),
    sa.Column('handled_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['duplicate_of'], ['webhook_inbox.id'], name=op.f('fk_webhook_inbox_duplicate_of_webhook_inbox')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_inbox'))
    )
    op.create_index(op.f('ix_webhook_inbox_dedupe_key'), 'webhook_inbox', ['dedupe_key'], unique=False)
    op.create_table('documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('snapshot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('partition_date', sa.Date(), nullable=True),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=True),
    sa.Column('transaction_set', sa.String(length=3), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('warnings', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['snapshot_id'], ['source_snapshots.id'], name=op.f('fk_documents_snapshot_id_source_snapshots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('kind', 'account_id', 'source_id', 'version', name=op.f('uq_documents_kind_account_id_source_id_version'))
    )
    op.create_index(op.f('ix_documents_partition_date_kind'), 'documents', ['partition_date', 'kind'], unique=False)
    op.create_index(op.f('ix_documents_reference'), 'documents', ['reference'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('transaction_set', sa.String(length=3), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('document_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('partition_date', sa.Date(), nullable=True),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('total', sa.String(length=32), nullable=False),
    sa.Column('interchange_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('isa13', sa.Integer(), nullable=True),
    sa.Column('gs06', sa.Integer(), nullable=True),
    sa.Column('st02', sa.String(length=9), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('ack_state', sa.String(length=24), nullable=False),
    sa.Column('ack_detail', sa.Text(), nullable=True),
    sa.Column('ack_at', sa.DateTime(), nullable=True),
    sa.Column('resend_of', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_outbox_document_id_documents')),
    sa.ForeignKeyConstraint(['interchange_id'], ['interchanges.id'], name=op.f('fk_outbox_interchange_id_interchanges')),
    sa.ForeignKeyConstraint(['resend_of'], ['outbox.id'], name=op.f('fk_outbox_resend_of_outbox')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    op.create_index(op.f('ix_outbox_kind_account_id_source_id'), 'outbox', ['kind', 'account_id', 'source_id'], unique=False)
    op.create_index(op.f('ix_outbox_partition_date'), 'outbox', ['partition_date'], unique=False)
    op.create_index(op.f('ix_outbox_partner_id_gs06_st02'), 'outbox', ['partner_id', 'gs06', 'st02'], unique=False)
    op.create_index(op.f('ix_outbox_state'), 'outbox', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_outbox_state'), table_name='outbox')
    op.drop_index(op.f('ix_outbox_partner_id_gs06_st02'), table_name='outbox')
    op.drop_index(op.f('ix_outbox_partition_date'), table_name='outbox')
    op.drop_index(op.f('ix_outbox_kind_account_id_source_id'), table_name='outbox')
    op.drop_table('outbox')
    op.drop_index(op.f('ix_documents_reference'), table_name='documents')
    op.drop_index(op.f('ix_documents_partition_date_kind'), table_name='documents')
    op.drop_table('documents')
    op.drop_index(op.f('ix_webhook_inbox_dedupe_key'), table_name='webhook_inbox')
    op.drop_table('webhook_inbox')
    op.drop_table('webhook_callbacks')
    op.drop_index(op.f('ix_source_snapshots_partition_date_kind'), table_name='source_snapshots')
    op.drop_table('source_snapshots')
    op.drop_table('oauth_tokens')
    op.drop_index(op.f('ix_interchanges_state'), table_name='interchanges')
    op.drop_table('interchanges')
    op.drop_table('inbound_files')
    op.drop_table('control_numbers')
    op.drop_index(op.f('ix_audit_events_kind_account_id_source_id'), table_name='audit_events')
    op.drop_table('audit_events')
