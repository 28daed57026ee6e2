"""The ledger's tables (SQLAlchemy Core): the system of record of every document's life.

Owns table and column definitions only; operations live in the sibling modules, migrations under
``migrations/``. Every table works the same on SQLite and PostgreSQL: timestamps are stored as naive UTC and
read back as aware UTC, money is stored as canonical decimal text (SQLite has no exact decimal type), JSON is
stored as text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, naive UTC at rest on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"ledger timestamps must be timezone-aware, got naive {value.isoformat()}")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identity columns.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Raw FreshBooks payloads, one row per document version (version = content hash).
source_snapshots = Table(
    "source_snapshots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("account_id", String(40), nullable=False),
    Column("source_id", String(40), nullable=False),
    Column("version", String(32), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=True),
    Column("partition_date", Date(), nullable=True),
    Column("vis_state", Integer(), nullable=False, default=0),
    Column("payload", Text(), nullable=False),
    Column("fetched_at", UtcDateTime(), nullable=False),
    Column("run_id", String(64), nullable=True),
    UniqueConstraint("kind", "account_id", "source_id", "version"),
    Index(None, "partition_date", "kind"),
    Index(None, "run_id"),  # what a run stored, for its partitions' figures
)

# Normalized business documents, with the routing decision and the reason when not routed.
documents = Table(
    "documents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("snapshot_id", Id, ForeignKey("source_snapshots.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("account_id", String(40), nullable=False),
    Column("source_id", String(40), nullable=False),
    Column("version", String(32), nullable=False),
    Column("partition_date", Date(), nullable=True),
    Column("reference", String(64), nullable=False, default=""),  # invoice / bill number, payment trace
    Column("status", String(20), nullable=False),  # routed | unrouted | draft | deleted | invalid
    Column("reason", Text(), nullable=False, default=""),
    Column("partner_id", String(40), nullable=True),
    Column("transaction_set", String(3), nullable=True),
    Column("currency", String(3), nullable=False, default="USD"),
    Column("total", String(32), nullable=False, default="0"),
    Column("body", Text(), nullable=True),  # the normalized document as JSON
    Column("warnings", Text(), nullable=False, default="[]"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("run_id", String(64), nullable=True),
    # The customer's PO number an invoice carries (invoices only): a customer's 850 finds the invoice answering
    # it by this, through an index, whatever the size of the book.
    Column("po_number", String(64), nullable=True),
    UniqueConstraint("kind", "account_id", "source_id", "version"),
    Index(None, "partition_date", "kind"),
    Index(None, "reference"),
    Index(None, "snapshot_id"),  # a partition's decisions are found from its newest snapshots
    Index(None, "kind", "partner_id", "po_number"),
    Index(None, "kind", "account_id", "reference"),  # a partner's 820 names invoices by number
)

# One X12 file: an interchange for one partner and one transaction set.
interchanges = Table(
    "interchanges",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", String(40), nullable=False),
    Column("transaction_set", String(3), nullable=False),
    Column("usage", String(1), nullable=False),  # ISA15 T or P
    Column("isa13", Integer(), nullable=False),
    Column("gs06", Integer(), nullable=False),
    Column("file_name", String(200), nullable=False, unique=True),
    Column("content", Text(), nullable=False),
    Column("size", Integer(), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("document_count", Integer(), nullable=False),
    Column("total", String(32), nullable=False, default="0"),
    # ready | uploading | in_doubt | conflict | delivered | failed | invalid (see ledger/outbox.py)
    Column("state", String(20), nullable=False),
    Column("attempts", Integer(), nullable=False, default=0),
    Column("last_error", Text(), nullable=True),
    Column("upload_started_at", UtcDateTime(), nullable=True),  # the last upload sent (or about to be)
    Column("in_doubt_since", UtcDateTime(), nullable=True),  # its outcome unknown and the file not in the folder
    Column("resend_count", Integer(), nullable=False, default=0, server_default="0"),
    Column("cleo_file_id", String(120), nullable=True),
    Column("cleo_receipt", Text(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("run_id", String(64), nullable=True),
    UniqueConstraint("partner_id", "usage", "isa13"),
    Index(None, "state"),
)

# The delivery outbox: one row per (partner, transaction set, FreshBooks document, content version).
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("partner_id", String(40), nullable=False),
    Column("transaction_set", String(3), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("account_id", String(40), nullable=False),
    Column("source_id", String(40), nullable=False),
    Column("version", String(32), nullable=False),
    Column("document_id", Id, ForeignKey("documents.id"), nullable=False),
    Column("partition_date", Date(), nullable=True),
    Column("purpose", String(10), nullable=False),  # original | replace | cancel
    Column("reference", String(64), nullable=False, default=""),
    Column("total", String(32), nullable=False, default="0"),
    Column("interchange_id", Id, ForeignKey("interchanges.id"), nullable=True),
    Column("isa13", Integer(), nullable=True),
    Column("gs06", Integer(), nullable=True),
    Column("st02", String(9), nullable=True),
    Column("file_name", String(200), nullable=True),
    Column("state", String(20), nullable=False),  # pending | rendered | delivered | failed | ignored | void
    Column("attempts", Integer(), nullable=False, default=0),
    Column("last_error", Text(), nullable=True),
    Column("ack_state", String(24), nullable=False, default="none"),
    Column("ack_detail", Text(), nullable=True),
    Column("ack_at", UtcDateTime(), nullable=True),
    Column("resend_of", Id, ForeignKey("outbox.id"), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("run_id", String(64), nullable=True),
    Index(None, "kind", "account_id", "source_id"),
    Index(None, "partner_id", "gs06", "st02"),
    Index(None, "state"),
    Index(None, "partition_date"),
    Index(None, "interchange_id"),  # the documents a file carries (lineage, trace)
    Index(None, "document_id"),  # the deliveries of a run's documents (reconciliation)
    Index(None, "run_id"),  # what a run rendered, for its partitions' figures
)

# Last allocated control number per scope (ISA13 per sender/receiver/usage, GS06 per functional id).
control_numbers = Table(
    "control_numbers",
    metadata,
    Column("scope", String(200), primary_key=True),
    Column("last_value", BigInteger(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# FreshBooks webhook callbacks we registered; each has its own receiver path and verifier.
webhook_callbacks = Table(
    "webhook_callbacks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("path_token", String(64), nullable=False, unique=True),
    Column("account_id", String(40), nullable=False),
    Column("event", String(60), nullable=False),
    Column("uri", Text(), nullable=False),
    Column("callback_id", String(40), nullable=True),
    Column("verifier_enc", Text(), nullable=True),
    Column("verified", Boolean(), nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("verified_at", UtcDateTime(), nullable=True),
    Column("last_event_at", UtcDateTime(), nullable=True),
)

# Verified webhook events, in arrival order; the sensor's cursor is the last handled id.
webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("callback_path", String(64), nullable=False),
    Column("account_id", String(40), nullable=False),
    Column("event_name", String(60), nullable=False),
    Column("object_id", String(40), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("raw_form", Text(), nullable=False),
    Column("dedupe_key", String(64), nullable=False),
    Column("duplicate_of", Id, ForeignKey("webhook_inbox.id"), nullable=True),
    Column("handled_run_id", String(64), nullable=True),
    Column("handled_partition", String(10), nullable=True),
    Column("handled_at", UtcDateTime(), nullable=True),
    Index(None, "dedupe_key"),
)

# OAuth tokens, encrypted; ``generation`` is the compare-and-swap guard of single-flight refresh.
oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("provider", String(20), primary_key=True),
    Column("connection", String(64), primary_key=True),
    Column("account_id", String(40), nullable=True),
    Column("business_id", String(40), nullable=True),
    Column("business_uuid", String(64), nullable=True),
    Column("access_token_enc", Text(), nullable=True),
    Column("refresh_token_enc", Text(), nullable=True),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("scope", Text(), nullable=False, default=""),
    Column("state", String(20), nullable=False),  # active | refreshing | needs_reauth
    Column("generation", Integer(), nullable=False, default=0),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Files pulled from Cleo inbound folders: 997s and partner documents.
inbound_files = Table(
    "inbound_files",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_id", String(40), nullable=True),
    Column("folder", String(200), nullable=False),
    Column("cleo_file_id", String(120), nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("size", Integer(), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("kind", String(10), nullable=False),  # 997 | 850 | 810 | 820 | unknown
    Column("content", Text(), nullable=False),
    Column("parsed", Text(), nullable=True),
    Column("state", String(20), nullable=False),  # recorded | applied | archived | error
    Column("error", Text(), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("archived_at", UtcDateTime(), nullable=True),
    Column("run_id", String(64), nullable=True),
    UniqueConstraint("folder", "file_name", "sha256"),
)

# Append-only trail of everything that happened to a document. No update or delete exists for it.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("account_id", String(40), nullable=False),
    Column("source_id", String(40), nullable=False),
    Column("event", String(40), nullable=False),
    Column("partner_id", String(40), nullable=True),
    Column("detail", Text(), nullable=False, default="{}"),
    Column("run_id", String(64), nullable=True),
    Index(None, "kind", "account_id", "source_id"),
)

# Input set aside instead of processed: one FreshBooks record or one inbound file per row, with the reason a
# person reads, the raw input (bounded) and what became of it. ``item_key`` names the unit ("freshbooks:invoice:
# 123", "cleo:<folder>/<name>"); ``digest`` tells versions of it apart, so the same bad input seen on every poll
# is one row whose ``occurrences`` grow, and a dismissed input stays dismissed.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("stage", String(20), nullable=False),  # extract | normalize | inbound
    Column("item_key", String(300), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # invoice | bill | payment | bill_payment | client | … | file
    Column("account_id", String(40), nullable=True),
    Column("partner_id", String(40), nullable=True),
    Column("reference", String(200), nullable=False, default=""),  # FreshBooks id, file name
    Column("partition_date", Date(), nullable=True),
    Column("reason_code", String(40), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("field", String(200), nullable=True),
    Column("value", Text(), nullable=True),
    Column("raw", LargeBinary(), nullable=True),
    Column("raw_size", BigInteger(), nullable=True),
    Column("detail", Text(), nullable=False, default="{}"),
    Column("state", String(20), nullable=False),  # open | retrying | resolved | dismissed
    Column("occurrences", Integer(), nullable=False, default=1),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("resolution", Text(), nullable=True),
    Column("run_id", String(64), nullable=True),
    UniqueConstraint("item_key", "digest"),
    Index(None, "state", "stage"),
)

# Cool-downs after an outside service refused us for a reason that waiting or a person must fix (a refused Cleo
# login): until ``until`` no process tries again, so retries, schedules and overlapping runs cannot lock the
# account.
cooldowns = Table(
    "cooldowns",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("until", UtcDateTime(), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("attempts", Integer(), nullable=False, default=1),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Every acknowledgment received for a delivered set (997, 999, TA1), kept whole: the outbox row holds the current
# state; these rows hold the history, so a later acknowledgment that contradicts an earlier one is a visible
# conflict, not an overwrite.
acknowledgments = Table(
    "acknowledgments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("outbox_id", Id, ForeignKey("outbox.id"), nullable=False),
    Column("inbound_file_id", Id, ForeignKey("inbound_files.id"), nullable=True),
    Column("partner_id", String(40), nullable=False),
    Column("ack_kind", String(4), nullable=False),  # 997 | 999 | TA1
    Column("isa13", String(9), nullable=True),  # the acknowledgment's own interchange control number
    Column("status", String(24), nullable=False),  # accepted | accepted_with_errors | partially_accepted | rejected
    Column("detail", Text(), nullable=False, default="{}"),
    Column("warnings", Text(), nullable=False, default="[]"),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("run_id", String(64), nullable=True),
    UniqueConstraint("outbox_id", "inbound_file_id", "ack_kind"),
    Index(None, "partner_id", "isa13"),
)

# Business documents partners send us (their 810s, 850s, 820s, 856s), read into data: one row per transaction set,
# with the numbers, dates and money a person matches on, and the normalized document where the models fit.
partner_documents = Table(
    "partner_documents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("inbound_file_id", Id, ForeignKey("inbound_files.id"), nullable=False),
    Column("partner_id", String(40), nullable=False),
    Column("transaction_set", String(3), nullable=False),
    Column("isa13", String(9), nullable=False),
    Column("gs06", String(9), nullable=False),
    Column("st02", String(9), nullable=False),
    Column("reference", String(64), nullable=False, default=""),  # their invoice / PO / trace number
    Column("document_date", Date(), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("total", String(32), nullable=True),
    Column("body", Text(), nullable=True),  # the normalized document as JSON, where the models fit
    Column("status", String(20), nullable=False),  # read | unreadable
    Column("reason", Text(), nullable=False, default=""),
    Column("warnings", Text(), nullable=False, default="[]"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("run_id", String(64), nullable=True),
    UniqueConstraint("inbound_file_id", "isa13", "gs06", "st02"),
    Index(None, "partner_id", "reference"),
    Index(None, "partner_id", "isa13"),  # a partner's interchange, as the lineage names it
)

# Acknowledgments we send partners for what they sent us: one row per idempotency key (partner + their ISA13 +
# their GS06 for a 997/999, partner + their ISA13 for a TA1), pointing at the interchange that carries it, so the
# same outbox machinery (text and control numbers stored before upload, Cleo checked first) sends it once.
acknowledgments_sent = Table(
    "acknowledgments_sent",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("partner_id", String(40), nullable=False),
    Column("inbound_file_id", Id, ForeignKey("inbound_files.id"), nullable=False),
    Column("ack_kind", String(4), nullable=False),  # 997 | 999 | TA1
    Column("their_isa13", String(9), nullable=False),
    Column("their_gs06", String(9), nullable=True),  # none for a TA1
    Column("functional_id", String(2), nullable=True),  # GS01 of the acknowledged group
    Column("status", String(2), nullable=False),  # AK901 A | E | P | R; TA104 A | E | R
    Column("detail", Text(), nullable=False, default="{}"),  # the sets and their AK501, the TA105 note
    Column("interchange_id", Id, ForeignKey("interchanges.id"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("run_id", String(64), nullable=True),
    Index(None, "partner_id", "their_isa13"),
    Index(None, "interchange_id"),
)

# What each partner document matched in FreshBooks and in what we sent: one row per partner document, the current
# result (the history is in the audit trail). A supplier's 810 against the 850 we sent, the FreshBooks bill it came
# from and the supplier's bill vendor; a customer's 850 against the client and the invoice answering it; a
# customer's 820 against the invoices it names.
partner_matches = Table(
    "partner_matches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("partner_document_id", Id, ForeignKey("partner_documents.id"), nullable=False, unique=True),
    Column("partner_id", String(40), nullable=False),
    Column("transaction_set", String(3), nullable=False),
    Column("reference", String(64), nullable=False, default=""),  # their number (BIG02 / BEG03 / TRN02)
    Column("document_date", Date(), nullable=True),
    # matched | mismatched | unmatched (810); answered | unanswered (850); reported (820, facts only)
    Column("status", String(20), nullable=False),
    Column("differences", Text(), nullable=False, default="[]"),  # [{field, theirs, sent, freshbooks}]
    Column("freshbooks_kind", String(20), nullable=True),  # bill | invoice | client | bill_vendor
    Column("freshbooks_id", String(40), nullable=True),
    Column("our_reference", String(64), nullable=True),  # our PO / invoice number it answers
    Column("our_isa13", String(9), nullable=True),  # the interchange that carried what it answers
    Column("detail", Text(), nullable=False, default="{}"),
    Column("checked_at", UtcDateTime(), nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),  # when status or differences last changed
    Column("changed_run_id", String(64), nullable=True),  # the run that changed them: "new" mismatches
    Column("run_id", String(64), nullable=True),
    Index(None, "partner_id", "status"),
    Index(None, "changed_run_id"),
)

# The only writes to FreshBooks (opt-in per partner): one row per idempotency key, claimed before the request
# leaves, so a re-run, a retry or a crash never creates a second bill, estimate, invoice, vendor or client.
freshbooks_writes = Table(
    "freshbooks_writes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("partner_id", String(40), nullable=False),
    Column("kind", String(20), nullable=False),  # bill | estimate | invoice | bill_vendor | client
    Column("partner_document_id", Id, ForeignKey("partner_documents.id"), nullable=True),
    Column("reference", String(64), nullable=False, default=""),  # bill number, PO number, or the name
    # claimed (request may have left) | created | failed (refused by FreshBooks, with the reason)
    Column("state", String(20), nullable=False),
    Column("request", Text(), nullable=False, default="{}"),  # the body sent (business fields only)
    Column("freshbooks_id", String(40), nullable=True),
    Column("error", Text(), nullable=True),
    Column("attempts", Integer(), nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("run_id", String(64), nullable=True),
    Index(None, "kind", "freshbooks_id"),
    Index(None, "partner_id", "kind", "reference"),
)

# What our X12 validator found in an interchange when it was rendered, for the content of that digest, so the
# blocking check and the reconciliation read the verdict instead of validating and tokenizing the file again.
# A verdict whose digest or charset differs from the file checked counts for nothing: the file is validated anew.
interchange_verdicts = Table(
    "interchange_verdicts",
    metadata,
    Column("interchange_id", Id, ForeignKey("interchanges.id"), primary_key=True),
    Column("sha256", String(64), nullable=False),  # of the content validated (UTF-8)
    Column("charset", String(20), nullable=False),  # the partner's charset it was validated against
    Column("error_count", Integer(), nullable=False),
    Column("first_error", Text(), nullable=True),  # None when valid
    Column("set_amounts", Text(), nullable=False, default="{}"),  # JSON: ST02 → the set's stated total
    Column("created_at", UtcDateTime(), nullable=False),
)
