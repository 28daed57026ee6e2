"""One document, one place in the UI: the ``document_lineage`` asset, one dynamic partition per document.

A partition is named so the UI's partition search finds it by what people type: ``invoice-0000123-100123``
(kind, invoice/bill number, FreshBooks id), ``x12_850-PO-7781-acme-retail-12-12-0001`` for a partner's PO
(kind, their number, partner, ISA13-GS06-ST02); see ``trace_text.lineage_key``. Its observations are the trail:
one per document per run that touched it, with what that run did (fetched, normalized and routed, written as X12
with ISA13/GS06/ST02, delivered with the Cleo receipt, acknowledged, overdue, in doubt, quarantined) as metadata
and a link to the run. An ISA13 of ours is not in the key (a document has one per delivery); it is in the
observations' metadata, and ``freshcleo trace <ISA13>`` prints the partition of the document it names.

Why a sensor and not the stages: the ledger's audit trail already records every step with its run id, so one
reader of that trail covers every stage, the CLI's runs and the daemon's alike, without touching any of them;
the runs pay nothing (each observation costs the instance a few milliseconds of writing, which a 10,000-document
day would otherwise add to its own runs), and a new deployment builds the lineage of its history on its own. The
cursor is the last audit event and quarantine id taken; each tick takes a bounded slice after it.

What a tick costs (``benchmarks/lineage.py``): evaluating it is cheap; writing its observations is Dagster's
storage writing one event each, which the daemon does after the evaluation. The partitions already known are
kept in the code server's memory between ticks and only those added since are read (listing 100,000 keys on
every tick would cost more than the tick's own work).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.ledger import lineage
from freshcleo_pipeline.ledger.audit import AuditEvent
from freshcleo_pipeline.sync import trace_text

PARTITIONS_NAME = "documents"
MAX_EVENTS_PER_TICK = 5000
MAX_MARKS_PER_TICK = 1000
# What of an event's detail is worth showing as a fact of its own; the rest stays in the ledger (and in
# ``freshcleo trace``). The audit trail holds no secrets, and this list keeps it that way in the UI too.
FACTS = ("version", "partition", "purpose", "file_name", "isa13", "gs06", "st02", "cleo_file_id", "ack_kind",
         "code", "status", "reason", "error", "window_hours", "folder")
MAX_TEXT = 500
# Partitions are read in pages of this size; the whole list is read again after this long, so that a partition
# an operator deleted is added again when its document next appears.
PARTITION_PAGE = 10_000
PARTITIONS_RELOAD_SECONDS = 3600.0

documents_partitions = dg.DynamicPartitionsDefinition(name=PARTITIONS_NAME)

document_lineage = dg.AssetSpec(
    "document_lineage",
    partitions_def=documents_partitions,
    group_name="lineage",
    kinds={"ledger"},
    description="The life of one document per partition (search by invoice or bill number, FreshBooks id, or a "
    "partner's PO number): one observation per run that touched it, with the step's facts (version, partner, "
    "ISA13/GS06/ST02, file, Cleo receipt, acknowledgment, quarantine reason) and a link to the run. Recorded by "
    "document_lineage_sensor from the ledger's audit trail.",
)


@dataclass
class Cursor:
    audit: int = 0
    quarantine: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(int(data["audit"]), int(data["quarantine"]))
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"document_lineage_sensor cursor {text[:80]!r}: expected JSON "
                             "{\"audit\": <int>, \"quarantine\": <int>}; reset the sensor's cursor") from None

    def dump(self) -> str:
        return json.dumps({"audit": self.audit, "quarantine": self.quarantine})


@dataclass
class LineagePlan:
    """What one tick records: the observations, the partitions they need, the cursor after them."""

    cursor: Cursor
    observations: list[dg.AssetObservation] = field(default_factory=list)
    new_keys: list[str] = field(default_factory=list)


def known_keys(existing: Iterable[str]) -> dict[tuple[str, str], str]:
    """(kind, FreshBooks id) → partition, for FreshBooks documents: a document keeps the partition it was first
    given even when a later version brings (or changes) its number."""
    found: dict[tuple[str, str], str] = {}
    for key in existing:
        kind, _, _ = key.partition("-")
        if not kind.startswith("x12_"):
            found[(kind, key.rpartition("-")[2])] = key
    return found


@dataclass
class KnownPartitions:
    """The ``documents`` partitions of one instance as the sensor last read them, and where reading stopped (a
    storage id cursor: partitions are only ever appended after it)."""

    keys: set[str] = field(default_factory=set)
    by_document: dict[tuple[str, str], str] = field(default_factory=dict)
    storage_cursor: str | None = None
    loaded_at: float = 0.0

    @classmethod
    def of(cls, keys: Iterable[str]) -> KnownPartitions:
        known = cls()
        known.add(keys)
        return known

    def add(self, keys: Iterable[str]) -> None:
        new = [k for k in keys if k not in self.keys]
        self.keys.update(new)
        self.by_document.update(known_keys(new))

    def refresh(self, instance: dg.DagsterInstance, now: float) -> None:
        """Read the partitions added since the last read; everything again when the last full read is old."""
        if now - self.loaded_at > PARTITIONS_RELOAD_SECONDS:
            self.keys, self.by_document, self.storage_cursor, self.loaded_at = set(), {}, None, now
        while True:
            page = instance.get_paginated_dynamic_partitions(PARTITIONS_NAME, limit=PARTITION_PAGE, ascending=True,
                                                             cursor=self.storage_cursor)
            self.add(page.results)
            self.storage_cursor = page.cursor
            if not page.has_more:
                return


# One index per instance, for the life of the code server; a tick builds a new DagsterInstance from the same
# reference, so the reference (serialized) is the key. An instance without one (ephemeral, tests) gets no cache.
_known_partitions: dict[str, KnownPartitions] = {}
_known_partitions_lock = threading.Lock()


def known_partitions(instance: dg.DagsterInstance) -> KnownPartitions:
    """The instance's ``documents`` partitions, read incrementally between ticks."""
    if not instance.is_persistent:
        known = KnownPartitions()
        known.refresh(instance, time.monotonic())
        return known
    ref = dg.serialize_value(instance.get_ref())
    with _known_partitions_lock:
        known = _known_partitions.setdefault(ref, KnownPartitions())
        known.refresh(instance, time.monotonic())
        return known


def _fact(value: Any) -> str:
    text = trace_text.plain(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _facts(events: Sequence[AuditEvent]) -> dict[str, Any]:
    """The facts of a run's events on one document, the latest value of each winning."""
    facts: dict[str, Any] = {}
    for event in events:
        if event.partner_id:
            facts["partner"] = event.partner_id
        for name in FACTS:
            value = event.detail.get(name)
            if value not in (None, "", [], {}):
                facts[name] = trace_text.isa13(value) if name == "isa13" else _fact(value)
    return facts


def _observation(key: str, document: str, events: Sequence[AuditEvent]) -> dg.AssetObservation:
    first, last = events[0], events[-1]
    lines = [f"{trace_text.stamp(e.occurred_at)}  {trace_text.phrase(e.event, e.detail, e.partner_id)}"
             for e in events]
    at = trace_text.utc(last.occurred_at)
    metadata: dict[str, Any] = {
        "document": document,
        "freshbooks_id" if not first.kind.startswith("x12_") else "control_numbers": first.source_id,
        "events": " → ".join(e.event for e in events),
        "outcome": last.event,
        "steps": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines)),
        **_facts(events),
    }
    if at is not None:
        metadata["at"] = dg.MetadataValue.timestamp(at)
    if first.run_id:
        metadata["run"] = dg.MetadataValue.dagster_run(first.run_id)
    return dg.AssetObservation(asset_key=document_lineage.key, partition=key, description="\n".join(lines),
                               metadata=metadata)


def _quarantine_observation(key: str, document: str, mark: lineage.QuarantineMark) -> dg.AssetObservation:
    line = (f"{trace_text.stamp(mark.first_seen_at)}  set aside in quarantine #{mark.id} ({mark.stage}): "
            f"{trace_text.humanize(mark.reason_code)} — {mark.reason}")
    metadata: dict[str, Any] = {"document": document, "freshbooks_id": mark.source_id, "events": "quarantined",
                                "outcome": "quarantined", "quarantine_id": mark.id,
                                "reason_code": mark.reason_code, "reason": _fact(mark.reason),
                                "steps": dg.MetadataValue.md(f"- {line}")}
    if mark.run_id:
        metadata["run"] = dg.MetadataValue.dagster_run(mark.run_id)
    return dg.AssetObservation(asset_key=document_lineage.key, partition=key, description=line, metadata=metadata)


def plan_lineage(events: Sequence[AuditEvent], marks: Sequence[lineage.QuarantineMark],
                 references: Mapping[lineage.DocumentKey, str], existing: KnownPartitions,
                 cursor: Cursor) -> LineagePlan:
    """One observation per (document, run) of ``events`` (in the order they first appear) and one per quarantine
    mark; pure, no I/O, ``existing`` left as it is (its partitions are added only once the daemon has added them,
    and it reads them back)."""
    present: set[str] = set()
    known: dict[tuple[str, str], str] = {}
    plan = LineagePlan(cursor=Cursor(max([cursor.audit, *(e.id for e in events)]),
                                     max([cursor.quarantine, *(m.id for m in marks)])))

    def key_of(doc: lineage.DocumentKey) -> str:
        kind, account, source = doc
        key = None
        if not kind.startswith("x12_"):
            key = known.get((kind, source)) or existing.by_document.get((kind, source))
        if key is None:
            key = trace_text.lineage_key(kind, account, source, references.get(doc))
            if not kind.startswith("x12_"):
                known[(kind, source)] = key
        if key not in present and key not in existing.keys:
            present.add(key)
            plan.new_keys.append(key)
        return key

    def name(doc: lineage.DocumentKey) -> str:
        kind = doc[0].removeprefix("x12_")
        return f"{kind} {references.get(doc) or doc[2]}"

    groups: dict[tuple[lineage.DocumentKey, str | None], list[AuditEvent]] = {}
    for event in events:
        groups.setdefault(((event.kind, event.account_id, event.source_id), event.run_id), []).append(event)
    for (doc, _), grouped in groups.items():
        plan.observations.append(_observation(key_of(doc), name(doc), grouped))
    for mark in marks:
        doc = (mark.kind, mark.account_id, mark.source_id)
        plan.observations.append(_quarantine_observation(key_of(doc), name(doc), mark))
    return plan


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records each document's lineage (document_lineage, one partition per document) from the ledger's "
    "audit trail and quarantine: one observation per document per run that touched it, with the run linked.",
)
def document_lineage_sensor(context: dg.SensorEvaluationContext,
                            ledger: LedgerResource) -> dg.SensorResult | dg.SkipReason:
    cursor = Cursor.parse(context.cursor)
    with ledger.get_ledger().begin() as conn:  # the resource disposes of the engine after the evaluation
        events = lineage.events_after(conn, cursor.audit, MAX_EVENTS_PER_TICK)
        marks = lineage.quarantined_after(conn, cursor.quarantine, MAX_MARKS_PER_TICK)
        references = lineage.references(conn, lineage.keys_of(events, marks))
    if not events and not marks:
        return dg.SkipReason(f"no audit event after {cursor.audit}, no quarantine entry after {cursor.quarantine}")
    plan = plan_lineage(events, marks, references, known_partitions(context.instance), cursor)
    context.log.info(f"{len(plan.observations)} observations from {len(events)} audit events and {len(marks)} "
                     f"quarantine entries; {len(plan.new_keys)} new documents")
    requests = [documents_partitions.build_add_request(plan.new_keys)] if plan.new_keys else []
    return dg.SensorResult(asset_events=plan.observations, dynamic_partitions_requests=requests,
                           cursor=plan.cursor.dump())


def evaluate(instance: dg.DagsterInstance, ledger: LedgerResource, cursor: str | None) -> dg.SensorResult | None:
    """One evaluation of the sensor, as the code server does it; None when there is nothing new."""
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"ledger": ledger}) as context:
        result = document_lineage_sensor(context)
    return result if isinstance(result, dg.SensorResult) else None


def record(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """What the sensor daemon does with a result (``dagster._daemon.sensor``): each observation reported on its
    own, then each requested partition looked up and the missing ones added."""
    report_observations(instance, result)
    add_partitions(instance, result)


def report_observations(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    for event in result.asset_events:
        instance.report_runless_asset_event(event)


def add_partitions(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    for request in result.dynamic_partitions_requests or []:
        keys = [k for k in request.partition_keys or [] if not instance.has_dynamic_partition(PARTITIONS_NAME, k)]
        instance.add_dynamic_partitions(PARTITIONS_NAME, keys)


def catch_up(instance: dg.DagsterInstance, ledger: LedgerResource, cursor: str | None = None,
             max_ticks: int = 10_000) -> str | None:
    """Evaluate the sensor until the ledger is covered and record its results as the daemon does (observations,
    then new partitions); returns the last cursor. For tests, benchmarks and the screenshot script, which run no
    daemon; the daemon's own cursor is not touched."""
    for _ in range(max_ticks):
        result = evaluate(instance, ledger, cursor)
        if result is None:
            return cursor
        record(instance, result)
        cursor = result.cursor
    return cursor
