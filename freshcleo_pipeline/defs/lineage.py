"""One document, one place in the UI: the ``document_lineage`` asset, one dynamic partition per document; and one
file we sent, one place: the ``interchange_lineage`` asset, one dynamic partition per interchange.

A document's partition is named so the UI's partition search finds it by what people type:
``invoice-0000123-100123`` (kind, invoice/bill number, FreshBooks id), ``x12_850-PO-7781-acme-retail-000000012-12-0001``
for a partner's PO (kind, their number, partner, their ISA13-GS06-ST02); see ``trace_text.lineage_key``. Its
observations are the trail: one per document per run that touched it, with what that run did (fetched, normalized
and routed, written as X12 with ISA13/GS06/ST02, delivered with the Cleo receipt, acknowledged, overdue, in doubt,
quarantined) as metadata, the interchange's partition when the step was about one, and a link to the run.

An ISA13 of ours is not in a document's key (a document has one per delivery); it names an interchange instead:
``x12-acme-retail-000000123`` (partner, our ISA13 in nine digits; ``-test`` appended for a test interchange, whose
numbers are a sequence of their own), so typing ``000000123`` or ``123`` in the search of ``interchange_lineage``
lands on the file, and its metadata lists the partitions of the documents it carries (``documents`` as text,
``document_list`` as a markdown list; an acknowledgment we send lists the partner's sets it answers). Its
observations are one per run that created, delivered (or failed, doubted, re-sent) or had acknowledged it, with its
ISA13/GS06, file name, state after that run, Cleo receipt and acknowledgment. A second asset rather than more keys
in ``documents``: a file is not a document (its facts and its list of documents are its own), a search there finds
only files (``123`` would otherwise match every invoice whose number or id holds it), each asset keeps its own
budget of partitions (the UI's guidance is 100,000 per asset), and the documents' keys, which the sensor reads back
to keep a document in its first partition, stay of one shape.

Why a sensor and not the stages: the ledger's audit trail already records every step with its run id, so one
reader of that trail covers every stage, the CLI's runs and the daemon's alike, without touching any of them;
the runs pay nothing (each observation costs the instance a few milliseconds of writing, which a 10,000-document
day would otherwise add to its own runs), and a new deployment builds the lineage of its history on its own. The
cursor is the last audit event and quarantine id taken; each tick takes a bounded slice after it. The interchanges
a tick observes are those its events name (by file name, or for an acknowledgment by GS06/ST02), read with the
documents they carry in a few queries bounded by that slice.

What a tick costs (``benchmarks/lineage.py``): evaluating it is cheap; writing its observations is Dagster's
storage writing one event each, which the daemon does after the evaluation. The partitions already known are
kept in the code server's memory between ticks and only those added since are read (listing 100,000 keys on
every tick would cost more than the tick's own work).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from freshcleo_pipeline.defs.resources import LedgerResource
from freshcleo_pipeline.ledger import lineage
from freshcleo_pipeline.ledger.audit import AuditEvent
from freshcleo_pipeline.sync import trace_text

PARTITIONS_NAME = "documents"
INTERCHANGES_NAME = "interchanges"
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
# The document keys an interchange's metadata lists (the rest are counted; ``freshcleo trace`` has them all).
MAX_LISTED_DOCUMENTS = 200
# Events about one interchange of ours, which name it by its file name (an acknowledgment of our sets names them by
# GS06 and ST02 instead).
INTERCHANGE_EVENTS = frozenset({"rendered", "render_invalid", "delivered", "delivery_failed", "upload_in_doubt",
                                "resent", "delivery_proven_by_ack", "delivery_conflict", "ack_stored", "ack_sent"})
# An interchange's state after an event of it (an acknowledgment of its sets leaves it as it was).
STATE_AFTER = {"rendered": "ready", "render_invalid": "invalid", "delivered": "delivered",
               "delivery_failed": "failed", "upload_in_doubt": "in doubt", "resent": "re-sent",
               "delivery_proven_by_ack": "delivered (proven by acknowledgment)", "delivery_conflict": "conflict",
               "ack_stored": "ready", "ack_sent": "delivered"}
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._:]+")

documents_partitions = dg.DynamicPartitionsDefinition(name=PARTITIONS_NAME)
interchanges_partitions = dg.DynamicPartitionsDefinition(name=INTERCHANGES_NAME)

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

interchange_lineage = dg.AssetSpec(
    "interchange_lineage",
    partitions_def=interchanges_partitions,
    group_name="lineage",
    kinds={"ledger"},
    description="The life of one file we sent per partition (search by our ISA13, e.g. 000000123 or 123, or by "
    "partner): one observation per run that created, delivered or had acknowledged it, with its ISA13/GS06, file "
    "name, state, Cleo receipt, acknowledgment and the document_lineage partitions of the documents it carries. "
    "Recorded by document_lineage_sensor from the ledger's audit trail.",
)


def interchange_key(partner_id: str, isa13: int, usage: str = "P") -> str:
    """The ``interchange_lineage`` partition of one of our interchanges: ``x12-acme-retail-000000123``; a test
    interchange (ISA15 ``T``, numbered apart from production) ends in ``-test``."""
    partner = _KEY_UNSAFE.sub("-", partner_id).strip("-")
    return f"x12-{partner}-{isa13:09d}" + ("-test" if usage == "T" else "")


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
    new_interchange_keys: list[str] = field(default_factory=list)


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
    name: str = PARTITIONS_NAME

    @classmethod
    def of(cls, keys: Iterable[str], name: str = PARTITIONS_NAME) -> KnownPartitions:
        known = cls(name=name)
        known.add(keys)
        return known

    def add(self, keys: Iterable[str]) -> None:
        new = [k for k in keys if k not in self.keys]
        self.keys.update(new)
        if self.name == PARTITIONS_NAME:
            self.by_document.update(known_keys(new))

    def refresh(self, instance: dg.DagsterInstance, now: float) -> None:
        """Read the partitions added since the last read; everything again when the last full read is old."""
        if now - self.loaded_at > PARTITIONS_RELOAD_SECONDS:
            self.keys, self.by_document, self.storage_cursor, self.loaded_at = set(), {}, None, now
        while True:
            page = instance.get_paginated_dynamic_partitions(self.name, limit=PARTITION_PAGE, ascending=True,
                                                             cursor=self.storage_cursor)
            self.add(page.results)
            self.storage_cursor = page.cursor
            if not page.has_more:
                return


# One index per instance and partitions definition, for the life of the code server; a tick builds a new
# DagsterInstance from the same reference, so the reference (serialized) is the key. An instance without one
# (ephemeral, tests) gets no cache.
_known_partitions: dict[tuple[str, str], KnownPartitions] = {}
_known_partitions_lock = threading.Lock()


def known_partitions(instance: dg.DagsterInstance, name: str = PARTITIONS_NAME) -> KnownPartitions:
    """The instance's partitions of ``name`` (``documents`` or ``interchanges``), read incrementally between
    ticks."""
    if not instance.is_persistent:
        known = KnownPartitions(name=name)
        known.refresh(instance, time.monotonic())
        return known
    ref = dg.serialize_value(instance.get_ref())
    with _known_partitions_lock:
        known = _known_partitions.setdefault((ref, name), KnownPartitions(name=name))
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


def _observation(key: str, document: str, events: Sequence[AuditEvent],
                 interchange: str | None = None) -> dg.AssetObservation:
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
    if interchange is not None:
        metadata["interchange"] = interchange  # its partition of interchange_lineage
    if at is not None:
        metadata["at"] = dg.MetadataValue.timestamp(at)
    if first.run_id:
        metadata["run"] = dg.MetadataValue.dagster_run(first.run_id)
    return dg.AssetObservation(asset_key=document_lineage.key, partition=key, description="\n".join(lines),
                               metadata=metadata)


def file_name_of(event: AuditEvent) -> str | None:
    """The file name of the interchange of ours an event is about, when it names one."""
    name = event.detail.get("file_name") if event.event in INTERCHANGE_EVENTS else None
    return str(name) if name else None


def acked_set_of(event: AuditEvent) -> lineage.AckedSet | None:
    """The set of ours an acknowledgment event is about (partner, document, GS06, ST02), when it is one."""
    detail = event.detail
    if (not event.event.startswith("ack_") or event.event in INTERCHANGE_EVENTS or event.kind.startswith("x12_")
            or not event.partner_id or detail.get("gs06") is None or not detail.get("st02")):
        return None
    try:
        gs06 = int(detail["gs06"])
    except (TypeError, ValueError):
        return None
    return event.partner_id, (event.kind, event.account_id, event.source_id), gs06, str(detail["st02"])


@dataclass
class TickInterchanges:
    """The interchanges of ours a tick's events are about (by file name), how acknowledgments name them, and the
    ``interchanges`` partitions already known."""

    files: Mapping[str, lineage.InterchangeFacts] = field(default_factory=dict)
    carriers: Mapping[lineage.AckedSet, str] = field(default_factory=dict)
    known: KnownPartitions = field(default_factory=lambda: KnownPartitions(name=INTERCHANGES_NAME))

    def of(self, event: AuditEvent) -> lineage.InterchangeFacts | None:
        name = file_name_of(event)
        if name is None:
            acked = acked_set_of(event)
            name = self.carriers.get(acked) if acked is not None else None
        return self.files.get(name) if name is not None else None


def _listed(keys: Sequence[str]) -> tuple[str, str]:
    """The document keys as text (one a line) and as a markdown list, bounded."""
    shown = list(keys[:MAX_LISTED_DOCUMENTS])
    more = f"… and {len(keys) - len(shown)} more (freshcleo trace has them all)" if len(keys) > len(shown) else ""
    text = "\n".join([*shown, *([more] if more else [])])
    markdown = "\n".join([*(f"- `{k}`" for k in shown), *([f"- {more}"] if more else [])])
    return text or "none", markdown or "none"


def _acknowledgment(events: Sequence[AuditEvent]) -> str:
    """The acknowledgments of an interchange's sets in one run: ``997 accepted: 12 sets; 997 rejected: 1 set``."""
    verdicts: Counter[str] = Counter()
    for e in events:
        if e.event.startswith("ack_") and e.event not in INTERCHANGE_EVENTS:
            kind = e.detail.get("ack_kind") or e.detail.get("ack") or ""
            verdicts[f"{kind} {trace_text.humanize(e.event.removeprefix('ack_'))}".strip()] += 1
    return "; ".join(f"{verdict}: {n} set{'s' if n != 1 else ''}" for verdict, n in verdicts.items())


def _interchange_observation(key: str, facts: lineage.InterchangeFacts, documents: Sequence[str],
                             events: Sequence[AuditEvent]) -> dg.AssetObservation:
    """One run's events about one interchange: the same step on each of its sets is one line, counted."""
    steps: dict[str, int] = {}
    for e in events:
        detail = {k: v for k, v in e.detail.items() if k != "st02"}
        line = f"{trace_text.stamp(e.occurred_at)}  {trace_text.phrase(e.event, detail, e.partner_id)}"
        steps[line] = steps.get(line, 0) + 1
    lines = [line + (f" ({n} sets)" if n > 1 else "") for line, n in steps.items()]
    first, last = events[0], events[-1]
    changes = [e.event for e in events if e.event in STATE_AFTER]
    text, markdown = _listed(documents)
    metadata: dict[str, Any] = {
        "interchange": f"{facts.transaction_set} {facts.file_name}",
        "partner": facts.partner_id,
        "transaction_set": facts.transaction_set,
        "isa13": trace_text.isa13(facts.isa13),
        "gs06": str(facts.gs06),
        "file_name": facts.file_name,
        "usage": facts.usage,
        "state": STATE_AFTER[changes[-1]] if changes else trace_text.humanize(facts.state),
        "events": " → ".join(dict.fromkeys(e.event for e in events)),
        "outcome": last.event,
        "document_count": len(documents),
        "documents": text,
        "document_list": dg.MetadataValue.md(markdown),
        "steps": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines)),
    }
    if any(e.event in ("delivered", "ack_sent", "delivery_proven_by_ack") for e in events):
        if facts.cleo_file_id:
            metadata["cleo_file_id"] = facts.cleo_file_id
        if facts.cleo_receipt:
            metadata["cleo_receipt"] = _fact(facts.cleo_receipt)
    acknowledged = _acknowledgment(events)
    if acknowledged:
        metadata["acknowledgment"] = acknowledged
        files = sorted({str(e.detail["file"]) for e in events if e.detail.get("file")})
        if files:
            metadata["acknowledgment_file"] = ", ".join(files)
    problem = next((e.detail.get("error") or e.detail.get("reason") for e in reversed(events)
                    if e.event in ("delivery_failed", "upload_in_doubt", "delivery_conflict")), None)
    if problem:
        metadata["error"] = _fact(problem)
    at = trace_text.utc(last.occurred_at)
    if at is not None:
        metadata["at"] = dg.MetadataValue.timestamp(at)
    if first.run_id:
        metadata["run"] = dg.MetadataValue.dagster_run(first.run_id)
    return dg.AssetObservation(asset_key=interchange_lineage.key, partition=key, description="\n".join(lines),
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
                 cursor: Cursor, interchanges: TickInterchanges | None = None) -> LineagePlan:
    """One observation per (document, run) of ``events`` (in the order they first appear), one per quarantine
    mark, and one per (interchange, run) of the events about an interchange of ours; pure, no I/O, ``existing``
    left as it is (its partitions are added only once the daemon has added them, and it reads them back)."""
    interchanges = interchanges if interchanges is not None else TickInterchanges()
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

    def carried_key(doc: lineage.DocumentKey) -> str:
        """The partition of a document an interchange carries: the one it has (or gets in this tick), else the
        one its events will give it; never a new partition by itself."""
        kind, account, source = doc
        if not kind.startswith("x12_"):
            found = known.get((kind, source)) or existing.by_document.get((kind, source))
            if found is not None:
                return found
        return trace_text.lineage_key(kind, account, source, references.get(doc))

    files: dict[str, lineage.InterchangeFacts] = {}
    interchange_groups: dict[tuple[str, str | None], list[AuditEvent]] = {}
    interchange_of: dict[tuple[lineage.DocumentKey, str | None], str] = {}
    groups: dict[tuple[lineage.DocumentKey, str | None], list[AuditEvent]] = {}
    for event in events:
        doc = (event.kind, event.account_id, event.source_id)
        groups.setdefault((doc, event.run_id), []).append(event)
        facts = interchanges.of(event) if interchanges.files else None
        if facts is not None:
            ikey = interchange_key(facts.partner_id, facts.isa13, facts.usage)
            files[ikey] = facts
            interchange_groups.setdefault((ikey, event.run_id), []).append(event)
            interchange_of[(doc, event.run_id)] = ikey
    for (doc, run), grouped in groups.items():
        plan.observations.append(_observation(key_of(doc), name(doc), grouped, interchange_of.get((doc, run))))
    for mark in marks:
        doc = (mark.kind, mark.account_id, mark.source_id)
        plan.observations.append(_quarantine_observation(key_of(doc), name(doc), mark))
    for (ikey, _), grouped in interchange_groups.items():
        facts = files[ikey]
        documents = list(dict.fromkeys(carried_key(d) for d in facts.documents))
        plan.observations.append(_interchange_observation(ikey, facts, documents, grouped))
        if ikey not in interchanges.known.keys and ikey not in plan.new_interchange_keys:
            plan.new_interchange_keys.append(ikey)
    return plan


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records each document's lineage (document_lineage, one partition per document) and each "
    "interchange's (interchange_lineage, one partition per file we sent, found by its ISA13) from the ledger's "
    "audit trail and quarantine: one observation per document, and per interchange, per run that touched it, with "
    "the run linked.",
)
def document_lineage_sensor(context: dg.SensorEvaluationContext,
                            ledger: LedgerResource) -> dg.SensorResult | dg.SkipReason:
    cursor = Cursor.parse(context.cursor)
    with ledger.get_ledger().begin() as conn:  # the resource disposes of the engine after the evaluation
        events = lineage.events_after(conn, cursor.audit, MAX_EVENTS_PER_TICK)
        marks = lineage.quarantined_after(conn, cursor.quarantine, MAX_MARKS_PER_TICK)
        carriers = lineage.carriers(conn, {s for e in events if (s := acked_set_of(e)) is not None})
        files = lineage.interchanges_named(conn, {n for e in events if (n := file_name_of(e)) is not None}
                                           | set(carriers.values()))
        references = lineage.references(conn, lineage.keys_of(events, marks)
                                        | {d for f in files.values() for d in f.documents})
    if not events and not marks:
        return dg.SkipReason(f"no audit event after {cursor.audit}, no quarantine entry after {cursor.quarantine}")
    interchanges = TickInterchanges(files, carriers, known_partitions(context.instance, INTERCHANGES_NAME))
    plan = plan_lineage(events, marks, references, known_partitions(context.instance), cursor, interchanges)
    context.log.info(f"{len(plan.observations)} observations from {len(events)} audit events and {len(marks)} "
                     f"quarantine entries; {len(plan.new_keys)} new documents, {len(plan.new_interchange_keys)} "
                     "new interchanges")
    requests = [documents_partitions.build_add_request(plan.new_keys)] if plan.new_keys else []
    if plan.new_interchange_keys:
        requests.append(interchanges_partitions.build_add_request(plan.new_interchange_keys))
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
        name = request.partitions_def_name
        keys = [k for k in request.partition_keys or [] if not instance.has_dynamic_partition(name, k)]
        instance.add_dynamic_partitions(name, keys)


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
