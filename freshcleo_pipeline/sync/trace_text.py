"""One document's life as people and machines read it: a chronological timeline, or one JSON document.

Pure formatting of a ``DocumentTrace`` that ``sync/trace.py`` has read from the ledger: no I/O, no clock. Every
audit event the pipeline records has its own phrase here; an event this module does not know yet is still
shown readably (its name in words, its detail as ``key value`` pairs), never as a Python repr or raw JSON.
Times are UTC; run ids are shortened to their first 8 characters, enough to find the run in the Dagster UI.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from freshcleo_pipeline.ledger.acknowledgments import Acknowledgment
    from freshcleo_pipeline.sync.trace import DocumentTrace

RUN_ID_LENGTH = 8
VERSION_LENGTH = 12

Detail = Mapping[str, Any]


@dataclass(frozen=True)
class Entry:
    """One line of the timeline (plus indented notes), with what a machine needs to sort and select it."""

    at: dt.datetime | None
    event: str
    text: str
    partner: str | None = None
    run_id: str | None = None
    notes: tuple[str, ...] = ()
    detail: Detail = field(default_factory=dict)

    def lines(self) -> list[str]:
        run = f" — run {short_run(self.run_id)}" if self.run_id else ""
        return [f"{stamp(self.at)}  {self.text}{run}", *(f"{' ' * 21}{note}" for note in self.notes)]


# ---- small pieces ----

def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Aware UTC; the ledger's SQLite columns come back naive but hold UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def stamp(moment: dt.datetime | None) -> str:
    at = utc(moment)
    return at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else "????-??-?? ??:??:??"


def short_run(run_id: str | None) -> str:
    return (run_id or "")[:RUN_ID_LENGTH] or "-"


def short_version(version: Any) -> str:
    return str(version or "")[:VERSION_LENGTH] or "-"


def isa13(value: Any) -> str:
    """ISA13 as it appears in the envelope: nine digits."""
    text = str(value if value is not None else "")
    return text.zfill(9) if text.isdigit() else text or "-"


def humanize(name: str) -> str:
    return name.replace("_", " ").strip()


def plain(value: Any) -> str:
    """A detail value in words: scalars as they are, lists comma-separated, mappings as ``key value`` pairs."""
    if value is None or value == "":
        return "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{humanize(str(k))} {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return "; ".join(plain(v) for v in value) or "none"
    return str(value)


def pairs(detail: Detail, skip: tuple[str, ...] = ()) -> str:
    return ", ".join(f"{humanize(str(k))} {plain(v)}" for k, v in detail.items()
                     if k not in skip and v not in (None, "", [], {}))


def _control(detail: Detail) -> str:
    parts = [f"ISA13 {isa13(detail['isa13'])}" if detail.get("isa13") is not None else "",
             f"GS06 {detail['gs06']}" if detail.get("gs06") is not None else "",
             f"ST02 {detail['st02']}" if detail.get("st02") else ""]
    found = ", ".join(p for p in parts if p)
    return f" ({found})" if found else ""


# ---- adjustments: the X12 layer's changes to document text ----

_REASON_WORDS = {
    "whitespace_normalized": "whitespace normalized", "transliterated": "transliterated to ASCII",
    "characters_dropped": "unrepresentable characters dropped", "uppercased": "upper-cased",
    "delimiter_replaced": "delimiter replaced by a space", "character_replaced": "character replaced by a space",
    "truncated": "truncated", "omitted": "omitted", "defaulted": "defaulted", "coded": "coded",
}
_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_FIELD = re.compile(rf"(element|field|original|result)=({_STRING})")
_REASON = re.compile(r"<Reason\.\w+: '(\w+)'>|'(\w+)'")


def adjustment(value: Any) -> str:
    """``N102 upper-cased: 'Acme' → 'ACME'`` from a stored adjustment (a mapping, or the tuple's text form that
    earlier runs kept in the audit trail); anything else is shown as it is."""
    if isinstance(value, Mapping):
        parts: dict[str, Any] = dict(value)
        reasons = [str(r) for r in parts.get("reasons") or ()]
    else:
        text = str(value)
        parts = {}
        for name, literal in _FIELD.findall(text):
            try:
                parts[name] = ast.literal_eval(literal)
            except (SyntaxError, ValueError):
                parts[name] = literal.strip("'\"")
        tail = text.partition("reasons=")[2]
        reasons = [a or b for a, b in _REASON.findall(tail)]
        if "element" not in parts:
            return text
    how = " and ".join(_REASON_WORDS.get(r, humanize(r)) for r in reasons) or "changed"
    result = parts.get("result")
    change = f"{parts.get('original', '')!r} → {result!r}" if result else f"{parts.get('original', '')!r} left out"
    where = f" ({parts['field']})" if parts.get("field") else ""
    return f"{parts.get('element', '?')}{where} {how}: {change}"


# ---- the phrase of each audit event ----

def _ack_words(detail: Detail) -> str:
    kind = str(detail.get("ack_kind") or detail.get("ack") or "")
    if detail.get("ta1_code"):
        return f"TA1 {detail['ta1_code']}"
    segment = "IK5" if kind == "999" else "AK5"
    code = detail.get("code")
    if code:
        return f"{kind} {segment} {code}"
    return f"{kind} AK9 {detail['group_code']}" if detail.get("group_code") else kind or "acknowledgment"


def _ack_event(verdict: str) -> Callable[[Detail, str], str]:
    def phrase(d: Detail, partner: str) -> str:
        where = f" in {d['file']}" if d.get("file") else ""
        errors = [*(d.get("set_errors") or ()), *(d.get("group_errors") or ())]
        why = f"; errors {', '.join(map(str, errors))}" if errors else ""
        return f"{verdict} by {partner} ({_ack_words(d)}){where}{why}"
    return phrase


def _ack_conflict(d: Detail, partner: str) -> str:
    earlier = "; ".join(f"{c.get('ack_kind')} {humanize(str(c.get('status')))} in {c.get('file')}"
                        for c in d.get("conflicts_with") or ())
    status = humanize(str(d.get("status") or "?"))
    return (f"acknowledgments from {partner} disagree: {_ack_words(d)} in {d.get('file') or '-'} says {status}"
            + (f", earlier {earlier}" if earlier else "") + " — needs a person")


def _not_routed(verdict: str) -> Callable[[Detail, str], str]:
    def phrase(d: Detail, partner: str) -> str:
        return f"version {short_version(d.get('version'))} {verdict}" + (f": {d['reason']}" if d.get("reason") else "")
    return phrase


def _normalized(d: Detail, partner: str) -> str:
    status = d.get("status")
    to = f"routed to {partner}" if partner != "-" else "routed"
    what = f"deleted in FreshBooks, {to}" if status == "deleted" else to
    warned = len(d.get("warnings") or ())
    return (f"normalized version {short_version(d.get('version'))}: {what}"
            + (f" ({warned} warning{'s' if warned != 1 else ''})" if warned else ""))


def _extracted(d: Detail, partner: str) -> str:
    state = f", visibility {d['vis_state']}" if str(d.get("vis_state")) not in ("None", "", "0") else ""
    retry = f" (retry of quarantine #{d['retried']})" if d.get("retried") else ""
    return (f"fetched from FreshBooks: version {short_version(d.get('version'))}, partition "
            f"{d.get('partition') or '-'}{state}{retry}")


def _queued(d: Detail, partner: str) -> str:
    why = f" ({d['reason']})" if d.get("reason") else ""
    return f"queued for {partner} as {humanize(str(d.get('purpose') or 'document'))} of version " \
           f"{short_version(d.get('version'))}{why}"


def _rendered(valid: bool) -> Callable[[Detail, str], str]:
    def phrase(d: Detail, partner: str) -> str:
        head = f"written as X12 for {partner}" if valid else f"written as X12 for {partner} but invalid"
        return f"{head}: {d.get('file_name') or '-'}{_control(d)}"
    return phrase


def _delivered(d: Detail, partner: str) -> str:
    again = " (it was already there)" if d.get("outcome") == "already_present" else ""
    again += " (re-sent)" if d.get("resent") else ""
    cleo = f", Cleo file {d['cleo_file_id']}" if d.get("cleo_file_id") else ""
    return f"delivered to {partner} as {d.get('file_name') or '-'}{_control(d)}{cleo}{again}"


def _ack_sent(d: Detail, partner: str) -> str:
    cleo = f", Cleo file {d['cleo_file_id']}" if d.get("cleo_file_id") else ""
    return f"{d.get('ack') or 'acknowledgment'} {d.get('status') or ''} sent to {partner} as " \
           f"{d.get('file_name') or '-'} (ISA13 {isa13(d.get('isa13'))}){cleo}".replace("  ", " ")


def _ack_stored(d: Detail, partner: str) -> str:
    return f"{d.get('ack') or 'acknowledgment'} {d.get('status') or ''} written for {partner} as " \
           f"{d.get('file_name') or '-'} (ISA13 {isa13(d.get('isa13'))}, GS06 {d.get('gs06') or '-'})" \
           .replace("  ", " ")


def _received(d: Detail, partner: str) -> str:
    what = " ".join(str(d[k]) for k in ("reference",) if d.get(k))
    money = f", {d.get('currency') or ''} {d['total']}".replace(" ,", ",") if d.get("total") else ""
    dated = f", dated {d['date']}" if d.get("date") else ""
    return f"received from {partner}" + (f": {what}" if what else "") + dated + money


def _matched(verdict: str) -> Callable[[Detail, str], str]:
    def phrase(d: Detail, partner: str) -> str:
        against = f" FreshBooks {d['freshbooks']}" if d.get("freshbooks") else ""
        answers = f" (answers our {d['our_reference']})" if d.get("our_reference") else ""
        was = f", was {d['previous']}" if d.get("previous") else ""
        return f"{verdict}{against}{answers}{was}: {d.get('summary') or '-'}"
    return phrase


def _partner_said(d: Detail, partner: str) -> str:
    return f"{partner}'s {d.get('their_reference') or 'document'} ({d.get('partner_document') or '-'}): " \
           f"{d.get('summary') or '-'}"


def _write(verdict: str) -> Callable[[Detail, str], str]:
    def phrase(d: Detail, partner: str) -> str:
        made = f" {d['freshbooks_id']}" if d.get("freshbooks_id") else ""
        why = f": {d['field']}: {d['message']}" if d.get("message") else ""
        return f"FreshBooks {humanize(str(d.get('kind') or 'object'))}{made} {verdict} " \
               f"(reference {d.get('reference') or '-'}){why}"
    return phrase


def _made_by_us(verdict: str) -> Callable[[Detail, str], str]:
    def phrase(d: Detail, partner: str) -> str:
        source = f" from {partner}'s {d['partner_source_id']}" if d.get("partner_source_id") else f" for {partner}"
        return f"{verdict} by freshcleo{source} (reference {d.get('reference') or '-'})"
    return phrase


PHRASES: dict[str, Callable[[Detail, str], str]] = {
    "freshbooks_write_claimed": _write("to be created: claimed before the request leaves"),
    "freshbooks_created": _write("created"),
    "freshbooks_adopted": _write("found after an answer was lost, and taken as created"),
    "freshbooks_write_failed": _write("refused by FreshBooks, not created"),
    "created_by_freshcleo": _made_by_us("created"),
    "adopted_by_freshcleo": _made_by_us("created (answer lost, then found)"),
    "match_matched": _matched("matched"),
    "match_mismatched": _matched("MISMATCHED"),
    "match_unmatched": _matched("unmatched: nothing we sent or hold answers it"),
    "match_answered": _matched("answered by an invoice"),
    "match_unanswered": _matched("not answered by any invoice yet"),
    "match_reported": _matched("remittance compared with FreshBooks"),
    "partner_810_matched": _partner_said,
    "partner_810_unmatched": _partner_said,
    "partner_850_unanswered": _partner_said,
    "partner_810_mismatched": _partner_said,
    "partner_850_answered": _partner_said,
    "partner_820_reported": _partner_said,
    "extracted": _extracted,
    "normalized": _normalized,
    "superseded": _not_routed("superseded"),
    "from_partner": _not_routed("was created by freshcleo from the supplier's invoice, not sent back"),
    "draft": _not_routed("is a draft, not sent"),
    "unrouted": _not_routed("not routed to any partner"),
    "invalid": _not_routed("could not be read"),
    "queued": _queued,
    "not_sent": lambda d, p: f"not sent to {p}" + (f": {d['reason']}" if d.get("reason") else ""),
    "render_failed": lambda d, p: f"could not be written as X12 for {p}: {d.get('error') or '-'}",
    "rendered": _rendered(True),
    "render_invalid": _rendered(False),
    "delivered": _delivered,
    "delivery_failed": lambda d, p: f"delivery of {d.get('file_name') or '-'} to {p} failed: {d.get('error') or '-'}",
    "ack_accepted": _ack_event("accepted"),
    "ack_accepted_with_errors": _ack_event("accepted with errors"),
    "ack_rejected": _ack_event("rejected"),
    "ack_needs_review": _ack_event("acknowledged without a verdict (needs review)"),
    "ack_conflict": _ack_conflict,
    "ack_overdue": lambda d, p: (f"no acknowledgment from {p} within {d.get('window_hours', '?')} h of delivery"
                                 + (f" ({stamp(_parse(d['delivered_at']))})" if d.get("delivered_at") else "")),
    "resend": lambda d, p: (f"re-send requested: delivery #{d.get('of')} queued again as #{d.get('new')} "
                            f"(version {short_version(d.get('version'))})"),
    "received": _received,
    "unreadable": lambda d, p: f"received from {p} but unreadable: {d.get('reason') or '-'}",
    "ack_stored": _ack_stored,
    "ack_sent": _ack_sent,
    "upload_in_doubt": lambda d, p: (f"upload of {d.get('file_name') or '-'} to {d.get('folder') or '-'} is in doubt"
                                     + (f": {d['reason']}" if d.get("reason") else "")),
    "delivery_proven_by_ack": lambda d, p: (f"delivery of {d.get('file_name') or '-'} (ISA13 {isa13(d.get('isa13'))}) "
                                            f"proven by {p}'s acknowledgment" + (f" ({plain(d['ack'])}"
                                                                                 + (f" in {d['ack_file']}"
                                                                                    if d.get("ack_file") else "")
                                                                                 + ")" if d.get("ack") else "")),
    "resent": lambda d, p: (f"sent again to {p} as {d.get('file_name') or '-'} (ISA13 {isa13(d.get('isa13'))}, "
                            f"re-send {d.get('resend_count', '?')})"
                            + (f" after {d['window_hours']} h without an acknowledgment"
                               if d.get("window_hours") else "")
                            + (f", in doubt since {stamp(_parse(d['in_doubt_since']))}"
                               if d.get("in_doubt_since") else "")),
    "delivery_conflict": lambda d, p: (f"Cleo already holds a different {d.get('file_name') or '-'} in "
                                       f"{d.get('folder') or '-'}" + (f": {d['error']}" if d.get("error") else "")
                                       + " — needs a person"),
}


def _parse(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def phrase(event: str, detail: Detail, partner: str | None) -> str:
    """What happened, in words; an unknown event by its name and its detail as ``key value`` pairs."""
    known = PHRASES.get(event)
    if known is not None:
        try:
            return known(detail, partner or "-")
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a detail of an unexpected shape still reads generically below
    said = pairs(detail)
    return humanize(event) + (f" ({partner})" if partner else "") + (f": {said}" if said else "")


# ---- the timeline ----

def _ack_notes(ack: Acknowledgment) -> list[str]:
    """One note per AK3/IK3 segment note and per warning of an acknowledgment, with its AK4/IK4 elements."""
    detail = ack.detail
    notes: list[str] = []
    for note in detail.get("segment_notes") or ():
        elements = ", ".join(f"{e.get('position')}/{e.get('data_element') or '-'} code {e.get('code')}"
                             + (f" {e.get('bad_data')!r}" if e.get("bad_data") else "")
                             for e in note.get("elements") or ())
        notes.append(f"segment {note.get('segment_id')} at {note.get('position')} code {note.get('code') or '-'}"
                     + (f": {elements}" if elements else ""))
    if detail.get("ta1_code") and detail.get("ta1_note"):
        notes.append(f"TA1 for ISA13 {isa13(detail.get('ta1_isa13'))}: note {detail['ta1_note']}")
    return notes + [f"warning: {w}" for w in ack.warnings]


def _event_notes(event: str, detail: Detail) -> list[str]:
    if event in ("rendered", "render_invalid"):
        return [adjustment(a) for a in detail.get("adjustments") or ()]
    if event in ("normalized", "unrouted", "draft", "invalid", "superseded", "from_partner"):
        return [f"warning: {w}" for w in detail.get("warnings") or ()]
    return []


def entries(trace: DocumentTrace) -> list[Entry]:
    """Audit events, acknowledgments that moved no state, and quarantine entries, oldest first."""
    acks_by_file: dict[tuple[str | None, str], list[Acknowledgment]] = {}
    for ack in trace.acknowledgments:
        acks_by_file.setdefault((ack.file_name, ack.ack_kind), []).append(ack)
    told: set[int] = set()
    found: list[Entry] = []
    for e in trace.events:
        detail: Detail = e["detail"] if isinstance(e["detail"], Mapping) else {"detail": e["detail"]}
        notes = _event_notes(e["event"], detail)
        if e["event"].startswith("ack_") and detail.get("file"):
            for ack in acks_by_file.get((detail.get("file"), str(detail.get("ack_kind"))), []):
                if ack.id not in told:
                    told.add(ack.id)
                    notes += _ack_notes(ack)
        found.append(Entry(utc(_parse(e["at"])), e["event"], phrase(e["event"], detail, e["partner"]),
                           e["partner"], e["run_id"], tuple(notes), detail))
    for ack in trace.acknowledgments:
        if ack.id not in told:  # kept, but moved no state (a TA1 accepting the envelope, a repeat)
            found.append(Entry(utc(ack.received_at), "acknowledgment",
                               f"{ack.ack_kind} {humanize(ack.status)} from {ack.partner_id} in "
                               f"{ack.file_name or '-'} for delivery #{ack.outbox_id} (kept; no change of state)",
                               ack.partner_id, ack.run_id, tuple(_ack_notes(ack)), {"status": ack.status}))
    for q in trace.quarantined:
        closed = f"; {q.state}" + (f": {q.resolution}" if q.resolution else "")
        seen = f", seen {q.occurrences} times, last {stamp(q.last_seen_at)}" if q.occurrences > 1 else ""
        found.append(Entry(utc(q.first_seen_at), "quarantined",
                           f"set aside in quarantine #{q.id} ({q.stage}): {humanize(q.reason_code)} — {q.reason}"
                           f"{seen}{closed}", q.partner_id, q.run_id, (), {"reason_code": q.reason_code}))
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(found, key=lambda x: x.at or epoch)  # stable: same-instant events keep the ledger's order


def _delivery_line(d: Mapping[str, Any]) -> str:
    ack = {"none": "no acknowledgment asked", "waiting": "waiting for an acknowledgment"}.get(
        str(d["ack_state"]), f"acknowledgment {humanize(str(d['ack_state']))}")
    again = f", re-send of #{d['resend_of']}" if d.get("resend_of") else ""
    file = f" in {d['file_name']}{_control(d)}" if d.get("file_name") else ""
    note = f" — {d['last_error']}" if d.get("last_error") else ""
    return (f"#{d['id']} {d['transaction_set']} {humanize(str(d['purpose']))} of version "
            f"{short_version(d['version'])} to {d['partner_id']}: {humanize(str(d['state']))}, {ack}{again}{file}"
            f"{note}")


def timeline(trace: DocumentTrace) -> list[str]:
    """The document's life as text: what it is, its versions, where its deliveries stand, then the timeline."""
    if trace.received:
        return _partner_timeline(trace)
    reference = next((n["reference"] for n in reversed(trace.normalized) if n.get("reference")), "")
    partners = sorted({d["partner_id"] for d in trace.deliveries})
    out = [f"{trace.kind} {reference or trace.source_id} (FreshBooks id {trace.source_id}, account "
           f"{trace.account_id})" + (f" — partner {', '.join(partners)}" if partners else "")]
    # The partition is named when the document is first seen, so its first number names it.
    first = next((n["reference"] for n in trace.normalized if n.get("reference")), None)
    out.append(f"  in the Dagster UI: asset document_lineage, partition "
               f"{lineage_key(trace.kind, trace.account_id, trace.source_id, first)}")
    out.append("  versions:")
    for n, v in enumerate(trace.versions, 1):
        state = f", visibility {v['vis_state']}" if str(v.get("vis_state")) not in ("None", "", "0") else ""
        decided = next((x for x in trace.normalized if x["version"] == v["version"]), None)
        money = f", {decided['currency']} {decided['total']}, {decided['status']}" if decided else ""
        updated = stamp(v["updated_at"]) if v["updated_at"] else "-"
        out.append(f"    {n}. {short_version(v['version'])}  updated {updated}, "
                   f"partition {v['partition_date'] or '-'}{state}{money}")
    if not trace.versions:
        out.append("    none fetched")
    if trace.deliveries:
        out.append("  deliveries now:")
        out += [f"    {_delivery_line(d)}" for d in trace.deliveries]
        files = sorted({isa13(d["isa13"]) for d in trace.deliveries if d.get("isa13") not in (None, "")})
        if files:
            out.append(f"  its files in the Dagster UI: asset interchange_lineage, search {', '.join(files)}")
    out.append("  timeline (UTC):")
    out += [f"    {line}" for entry in entries(trace) for line in entry.lines()] or ["    nothing recorded"]
    return out


def _partner_timeline(trace: DocumentTrace) -> list[str]:
    out = [f"{trace.kind.removeprefix('x12_')} from partner {trace.account_id} (their ISA13/GS06/ST02 "
           f"{trace.source_id})"]
    for d in trace.received:
        money = f", {d.currency or ''} {d.total}" if d.total else ""
        out.append(f"  {d.status}: {d.reference or '-'}, dated {d.document_date or '-'}{money}, inbound file "
                   f"#{d.inbound_file_id}" + (f" — {d.reason}" if d.reason else ""))
        out += [f"    warning: {w}" for w in d.warnings]
    out.append("  acknowledgments sent:")
    out += [f"    {a.ack_kind} {a.status} in {a.file_name} (ISA13 {isa13(a.isa13)}): {humanize(a.state)}"
            + (f", sent {stamp(a.sent_at)}" if a.sent_at else "") for a in trace.acks_sent] or ["    none"]
    out.append("  timeline (UTC):")
    out += [f"    {line}" for entry in entries(trace) for line in entry.lines()] or ["    nothing recorded"]
    return out


# ---- for machines ----

def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        at = utc(value)
        return at.isoformat() if at is not None else None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # Decimal and the like: exact, as text


def _delivery(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out.get("ack_detail"), str):  # stored as JSON text: hand it over as data, not a string of JSON
        try:
            out["ack_detail"] = json.loads(out["ack_detail"])
        except ValueError:
            pass
    return out


def as_json(trace: DocumentTrace) -> dict[str, Any]:
    """The same trace as plain data: the timeline with each entry's phrase and full detail, plus the records."""
    records = dataclasses.asdict
    data: dict[str, Any] = _jsonable({
        "kind": trace.kind, "account_id": trace.account_id, "source_id": trace.source_id,
        "versions": trace.versions, "normalized": trace.normalized,
        "deliveries": [_delivery(d) for d in trace.deliveries],
        "acknowledgments": [records(a) for a in trace.acknowledgments],
        "quarantine": [records(q) for q in trace.quarantined],
        "received": [records(r) for r in trace.received],
        "acknowledgments_sent": [records(a) for a in trace.acks_sent],
        "timeline": [{"at": e.at, "event": e.event, "text": e.text, "partner": e.partner, "run_id": e.run_id,
                      "notes": list(e.notes), "detail": e.detail} for e in entries(trace)],
    })
    return data


# ---- the document's name in the Dagster UI ----

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._:]+")
KEY_REFERENCE_LENGTH = 40


def lineage_key(kind: str, account_id: str, source_id: str, reference: str | None) -> str:
    """The ``document_lineage`` partition of a document: ``invoice-0000123-100123`` (kind, number, FreshBooks id),
    ``payment-100777`` without a number, ``x12_850-PO-7781-acme-retail-12-12-0001`` for a partner's set (kind,
    their number, partner, ISA13-GS06-ST02). Searching a partition by substring then finds it by any of them;
    characters other than letters, digits and ``. _ :`` become ``-`` so the key reads the same in a URL."""
    def safe(text: str) -> str:
        return re.sub(r"\.{2,}", ".", _KEY_UNSAFE.sub("-", text)).strip("-")  # Dagster refuses "..." in a key
    number = safe(reference or "")[:KEY_REFERENCE_LENGTH]
    if kind.startswith("x12_"):
        parts = [kind, number, safe(account_id), safe(source_id)]
    else:
        parts = [kind, number, safe(source_id)]
    return "-".join(p for p in parts if p)
