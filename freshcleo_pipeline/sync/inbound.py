"""Stage 5: pull partners' files from Cleo inbound folders, apply acknowledgments to deliveries, archive, flag
overdue.

Every file ends in exactly one visible state. A file that reads as X12 from the partner that owns the folder is
recorded in the ledger before anything else, read with the one inbound reader (``x12.reader.read_x12``), and
only then archived in Cleo, so a crash at any point leaves it either still in the folder or recorded. Anything
else is set aside in quarantine with a reason code a person can act on:

- its content is the problem (``empty``, ``not_x12``, ``undecodable``, ``unknown_partner`` — an ISA05:ISA06, or
  the GS02 of an acknowledgment group, that is not the folder's partner —, ``ack_mismatch`` — acknowledgments
  none of which names a group we sent by its functional id (AK101) —, ``unreadable_ack`` — acknowledgments of
  which nothing could be applied —, ``unexpected_error``): the raw bytes go
  into the quarantine row and the file is archived, so the folder does not serve it again;
- it could not be taken (``download_failed`` after bounded retries, ``over_size_cap``, or content too big for a
  quarantine row): it stays in the folder under the digest ``size:<bytes>`` and is skipped while that row is open
  or dismissed, and downloaded again once a person sets the row to ``retrying``.

A ``retrying`` row that holds the raw bytes is processed again from them (``retry_quarantined``, also the first
step of every poll). Nothing blocks the folder: a file recorded before is archived again without being applied
twice, and an archive that already holds its name keeps both (see ``CleoClient.archive``). One file's problem
never stops the next file, and one partner's never stops the next partner; only refused credentials end the
poll, since no partner can be read without them.

``apply_acknowledgments`` applies the 997s, 999s and TA1s of a file (a TA1 for the interchange it names, a
997/999 result by partner, GS06 = AK102 and ST02 = AK202), keeps each as an ``acknowledgments`` row, and marks a
delivery ``conflict`` when a later acknowledgment from another file contradicts an earlier one. Sets that are
not acknowledgments (an 850 from a customer, an 810 from a supplier) go to ``record_partner_documents``.
An acknowledgment that names an interchange whose upload was in doubt proves it delivered. After the files,
in-doubt interchanges past their partner's window are re-sent (``deliver.resend_in_doubt``), and deliveries
still waiting for an acknowledgment past the partner's window become ``overdue``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from freshcleo_pipeline.cleo.auth import CleoLoginRefusedError
from freshcleo_pipeline.cleo.client import CleoClient, OverSizeError
from freshcleo_pipeline.cleo.paths import RemoteFile
from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.ledger import Connection, Ledger, acknowledgments, audit, inbound, outbox, quarantine
from freshcleo_pipeline.partners import TradingPartner
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.sync.deliver import resend_in_doubt
from freshcleo_pipeline.sync.partner_documents import send_acknowledgments, take_business_sets
from freshcleo_pipeline.x12.ack_reader import ACK_SETS, ack_findings, read_acknowledgments
from freshcleo_pipeline.x12.errors import X12ParseError
from freshcleo_pipeline.x12.reader import ReadFile, foreign_characters, inbound_text, read_x12, reading_form

STAGE = "inbound"
#: Acknowledgment states a person must look at; the acknowledgment check fails while any delivery is in one.
ATTENTION_STATES = ("rejected", "overdue", outbox.ACK_CONFLICT)
_KIND_WIDTH = 10  # inbound_files.kind

Outcome = Literal["recorded", "set_aside", "left"]


@dataclass
class InboundSummary:
    files: Counter[str] = field(default_factory=Counter)  # kind → files recorded
    acks: Counter[str] = field(default_factory=Counter)  # ack state → documents
    unmatched_acks: int = 0
    overdue: int = 0
    errors: list[str] = field(default_factory=list)
    quarantined: Counter[str] = field(default_factory=Counter)  # reason code → files set aside by this poll
    retried: int = 0  # quarantined files processed after a person asked for a retry
    partner_documents: Counter[str] = field(default_factory=Counter)  # "850 read", "810 unreadable" → sets
    acks_sent: Counter[str] = field(default_factory=Counter)  # 997 | 999 | TA1 → acknowledgments uploaded
    proven: int = 0  # in-doubt uploads an acknowledgment proved delivered
    resent: int = 0  # in-doubt uploads re-sent after their partner's acknowledgment window
    # (partner, file name, kind, outcome) per file this poll took: the per-partner table of the inbound asset
    outcomes: list[tuple[str, str, str, str]] = field(default_factory=list)


class UnreadableFile(FreshcleoError):
    """An inbound file that is not an interchange we may read; ``code`` is its quarantine reason code."""

    def __init__(self, code: str, field: str, value: object, expected: str) -> None:
        super().__init__(f"{field}: got {quarantine.shown_value(value)}; expected {expected}")
        self.code = code
        self.field = field
        self.value = value


@dataclass(frozen=True)
class Reading:
    """An inbound file as read: its text as received, the form the readers take, and what it holds."""

    text: str
    form: str
    encoding: str
    kind: str  # what the file holds, for the file row: '997', 'TA1+997', '850', 'mixed', 'unknown'
    read: ReadFile
    findings: tuple[str, ...] = ()  # the validator's findings in an acknowledgment file, kept as warnings


def read_file(content: bytes, partner: TradingPartner) -> Reading:
    """Read a file from ``partner``'s inbound folder, or raise ``UnreadableFile`` saying why it cannot be."""
    try:
        decoded = inbound_text(content)
    except X12ParseError as exc:
        raise UnreadableFile("undecodable", "encoding", content[:16], str(exc)) from None
    form = reading_form(decoded.text)
    if not form.strip(" \r\n\t"):
        raise UnreadableFile("empty", "content", f"{len(content)} bytes", "an X12 interchange")
    if not form.startswith("ISA") or len(form) < 106:
        raise UnreadableFile("not_x12", "start of file", form[:40], "an X12 interchange beginning with a "
                             "106-character ISA segment")
    foreign = foreign_characters(form)
    if foreign:
        raise UnreadableFile("undecodable", "characters", foreign, "X12 text: no control characters besides the "
                             "delimiters its ISA declares and line breaks between segments")
    try:
        read = read_x12(form)
    except X12ParseError as exc:
        raise UnreadableFile("not_x12", "ISA", form[:106], str(exc)) from None
    _check_sender(read, partner)
    _check_attribution(read)
    return Reading(decoded.text, form, decoded.encoding, file_kind(read), read, tuple(ack_findings(form, read)))


def _check_sender(read: ReadFile, partner: TradingPartner) -> None:
    """Every interchange must come from the partner that owns the folder (ISA05:ISA06), and every
    acknowledgment group too (GS02): another sender's 997 must not speak for this partner's documents. GS02
    may be the partner's GS id or its ISA id, since translators commonly write the ISA id there too; either is
    still this partner."""
    expected = (partner.edi.isa_qualifier, partner.edi.isa_id.strip().upper())
    group_ids = {partner.edi.group_id.upper(), partner.edi.isa_id.strip().upper()}
    owner = f"partner {partner.id} that owns folder {partner.cleo.inbound}"
    for interchange in read.interchanges:
        sender = (interchange.sender_qualifier, interchange.sender.upper())
        if sender != expected:
            raise UnreadableFile("unknown_partner", "ISA05:ISA06", ":".join(sender),
                                 f"{':'.join(expected)}, {owner}")
        for group in interchange.groups:
            if group.functional_id == "FA" and group.sender.upper() not in group_ids:
                raise UnreadableFile("unknown_partner", "GS02", group.sender,
                                     f"{partner.edi.group_id}, {owner} (GS06 {group.control} of ISA13 "
                                     f"{interchange.control})")


def _check_attribution(read: ReadFile) -> None:
    """A file whose acknowledgments all fail attribution (AK101 not fitting the set) and that holds nothing
    else is set aside: applying none of it silently would look like a file that was handled."""
    acks = read_acknowledgments(read)
    if acks.refused and not acks.results and not acks.ta1s and all(k in ACK_SETS for k in read.set_ids):
        first = acks.refused[0]
        raise UnreadableFile("ack_mismatch", "AK101", first.functional_id,
                             f"acknowledgments that name a group we sent ({first.reason}; "
                             f"{len(acks.refused)} acknowledgment(s) in the file, none applicable)")


def file_kind(read: ReadFile) -> str:
    """The kinds a file holds, in order ('997', 'TA1+997'); 'mixed' when they do not fit the file row."""
    kinds = list(dict.fromkeys(read.set_ids))
    if not kinds:
        return "unknown"
    kind = "+".join(kinds)
    return kind if len(kind) <= _KIND_WIDTH else "mixed"


def poll_inbound(ctx: SyncContext) -> InboundSummary:
    summary = InboundSummary()
    retry_quarantined(ctx, summary)
    client = ctx.cleo()
    try:
        for partner in ctx.partners.partners:
            if not partner.enabled:
                continue
            try:
                _poll_partner(ctx, client, partner, summary)
            except CleoLoginRefusedError:
                raise
            except Exception as exc:  # noqa: BLE001  one partner's folder never stops the others
                summary.errors.append(f"{partner.id} ({partner.cleo.inbound}): {type(exc).__name__}: {exc}")
                ctx.log.error("inbound folder %s of %s not polled: %s", partner.cleo.inbound, partner.id, exc)
        send_acknowledgments(ctx, client, summary)
        _resend_in_doubt(ctx, client, summary)
    finally:
        client.close()
    mark_overdue(ctx, summary)
    return summary


def _resend_in_doubt(ctx: SyncContext, client: CleoClient, summary: InboundSummary) -> None:
    """After this poll applied every acknowledgment it found: re-send what is still in doubt past its window."""
    resent = resend_in_doubt(ctx, client)
    summary.resent += resent.resent
    summary.errors += [*resent.failed, *resent.conflicts,
                       *(f"{name}: re-sent, and again in doubt" for name in resent.in_doubt)]


def retry_quarantined(ctx: SyncContext, summary: InboundSummary | None = None) -> InboundSummary:
    """Process again the inbound files a person set to ``retrying`` whose bytes the quarantine holds.

    Files kept without their bytes (not downloaded, over the cap) are still in their folder: the next poll
    downloads them again because their row is ``retrying``.
    """
    summary = summary if summary is not None else InboundSummary()
    with ctx.ledger.begin() as conn:
        entries = [(e, quarantine.raw_of(conn, e.id)) for e in quarantine.retrying(conn, STAGE)]
    for entry, raw in entries:
        if raw is None:
            continue
        folder, _, name = entry.item_key.removeprefix("cleo:").rpartition("/")
        digest = hashlib.sha256(raw).hexdigest()
        cleo_file_id = str(entry.detail.get("cleo_file_id", ""))
        try:
            partner = _owner(ctx, entry.partner_id, folder)
            outcome, row_id = _process(ctx, partner, folder, name, cleo_file_id, raw, digest, summary)
        except CleoLoginRefusedError:
            raise
        except Exception as exc:  # noqa: BLE001  one entry's problem never stops the others
            _set_aside(ctx, entry.partner_id, folder, name, cleo_file_id, raw, digest, "unexpected_error",
                       f"{type(exc).__name__}: {exc}", {}, summary)
            continue
        if outcome == "recorded":
            with ctx.ledger.begin() as conn:
                if row_id is not None:
                    inbound.mark_archived(conn, row_id)  # the file was archived when it was set aside
                quarantine.resolve_versions(conn, entry.item_key, [entry.digest, digest], "processed on retry")
            summary.retried += 1
            ctx.log.info("quarantined file %s of %s processed on retry", name, entry.partner_id)
    return summary


def _owner(ctx: SyncContext, partner_id: str | None, folder: str) -> TradingPartner:
    if partner_id:
        return ctx.partners.get(partner_id)
    partner = ctx.partners.by_folder(folder)
    if partner is None:
        raise FreshcleoError(f"inbound folder: got {folder!r}; expected the inbound folder of a partner in "
                             "partners.yaml")
    return partner


def _item_key(folder: str, name: str) -> str:
    return f"cleo:{folder}/{name}"


def _poll_partner(ctx: SyncContext, client: CleoClient, partner: TradingPartner, summary: InboundSummary) -> None:
    folder = partner.cleo.inbound
    files = client.list_files(folder)
    with ctx.ledger.begin() as conn:
        held = quarantine.states(conn, STAGE, [_item_key(folder, f.name) for f in files])
    for remote in files:
        try:
            _take_file(ctx, client, partner, remote, held, summary)
        except CleoLoginRefusedError:
            raise
        except Exception as exc:  # noqa: BLE001  one file's problem never stops the next
            # Reached only when the failure came before the bytes were in hand: the file stays where it is.
            _set_aside(ctx, partner.id, folder, remote.name, remote.id, None, f"size:{remote.size}",
                       "unexpected_error", f"{type(exc).__name__}: {exc}", {"size": remote.size}, summary)
    _reopen_gone(ctx, folder, {f.name for f in files})


def _reopen_gone(ctx: SyncContext, folder: str, present: set[str]) -> None:
    """A retry asked for a file kept without its bytes that is no longer in the folder (someone removed or
    moved it): there is nothing to download, so the entry goes back to a person instead of waiting forever."""
    with ctx.ledger.begin() as conn:
        for entry in quarantine.retrying(conn, STAGE):
            where, _, name = entry.item_key.removeprefix("cleo:").rpartition("/")
            if where != folder or name in present or not entry.digest.startswith("size:"):
                continue
            quarantine.put(conn, stage=STAGE, item_key=entry.item_key, digest=entry.digest, kind=entry.kind,
                           partner_id=entry.partner_id, reference=entry.reference, reason_code="file_gone",
                           reason=f"retry asked for {name}, which is no longer in {folder} (removed or moved by "
                                  f"someone else; it was set aside as {entry.reason_code}: {entry.reason}); "
                                  "dismiss it, or have the partner send it again",
                           raw_size=entry.raw_size, detail=entry.detail, run_id=ctx.run_id)
            ctx.log.warning("quarantined file %s/%s is no longer in its folder; retry not possible", folder, name)


def _take_file(ctx: SyncContext, client: CleoClient, partner: TradingPartner, remote: RemoteFile,
               held: dict[tuple[str, str], str], summary: InboundSummary) -> None:
    folder = partner.cleo.inbound
    by_size = f"size:{remote.size}"
    if held.get((_item_key(folder, remote.name), by_size)) in (quarantine.OPEN, quarantine.DISMISSED):
        return  # set aside as it is: it waits for a person (retry or dismiss), not for the next poll
    cap = ctx.settings.inbound_max_file_bytes
    try:
        content = client.download(remote, max_bytes=cap)
    except OverSizeError as exc:
        _set_aside(ctx, partner.id, folder, remote.name, remote.id, None, by_size, "over_size_cap", str(exc),
                   {"size": exc.size, "cap": cap}, summary)
        return
    except CleoLoginRefusedError:
        raise
    except FreshcleoError as exc:
        _set_aside(ctx, partner.id, folder, remote.name, remote.id, None, by_size, "download_failed", str(exc),
                   {"size": remote.size}, summary)
        return
    digest = hashlib.sha256(content).hexdigest()
    try:
        outcome, row_id = _process(ctx, partner, folder, remote.name, remote.id, content, digest, summary)
    except CleoLoginRefusedError:
        raise
    except Exception as exc:  # noqa: BLE001  set aside with its bytes, like any file we cannot take
        outcome, row_id = _set_aside(ctx, partner.id, folder, remote.name, remote.id, content, digest,
                                     "unexpected_error", f"{type(exc).__name__}: {exc}", {}, summary), None
    if outcome == "left":
        return
    try:
        archived = client.archive(remote, partner.cleo.archive, sha256=digest)
    except CleoLoginRefusedError:
        raise
    except FreshcleoError as exc:
        # The content is safe (recorded or in quarantine); the next poll archives it without applying it again.
        summary.errors.append(f"{folder}/{remote.name}: not archived: {exc}")
        ctx.log.warning("inbound file %s/%s not archived: %s", folder, remote.name, exc)
        return
    with ctx.ledger.begin() as conn:
        if row_id is not None:
            inbound.mark_archived(conn, row_id)
            quarantine.resolve_versions(conn, _item_key(folder, remote.name), [digest, by_size], "processed")
    if archived in ("renamed", "already_archived"):
        ctx.log.info("inbound file %s/%s: %s", folder, remote.name, archived.replace("_", " "))


def _process(ctx: SyncContext, partner: TradingPartner, folder: str, name: str, cleo_file_id: str,
             content: bytes, digest: str, summary: InboundSummary) -> tuple[Outcome, int | None]:
    """Read, record and apply one file's bytes, or set them aside; (outcome, inbound row id when recorded)."""
    try:
        reading = read_file(content, partner)
    except UnreadableFile as exc:
        detail = {"field": exc.field}
        return _set_aside(ctx, partner.id, folder, name, cleo_file_id, content, digest, exc.code, str(exc),
                          detail, summary), None
    kind = reading.kind
    with ctx.ledger.begin() as conn:
        row = inbound.record(conn, partner_id=partner.id, folder=folder, cleo_file_id=cleo_file_id,
                             file_name=name, content=reading.text, sha256=digest, kind=kind, run_id=ctx.run_id,
                             size=len(content))
    summary.files[kind] += 1
    # "error": nothing of it was applied (see below); reading it again, after a fix, is its retry.
    if row.state in ("recorded", "error"):
        if reading.encoding != "utf-8":
            ctx.log.info("inbound file %s/%s read as %s", folder, name, reading.encoding)
        parsed: dict[str, Any] = {"transaction_sets": reading.read.set_ids,
                                  "warnings": reading.read.all_warnings()}
        parsed |= apply_acknowledgments(ctx, partner, row, reading.read, summary, findings=reading.findings)
        parsed |= record_partner_documents(ctx, partner, row, reading.read, summary)
        with ctx.ledger.begin() as conn:
            if parsed.get("error"):
                inbound.set_state(conn, row.id, "error", parsed=parsed, error=str(parsed["error"]))
            else:
                inbound.set_state(conn, row.id, "applied", parsed=parsed)
        if parsed.get("error"):
            # Acknowledgments of which nothing could be applied: the documents they speak for would drift to
            # overdue with the reason only in a file row, so the file waits in quarantine for a person.
            return _set_aside(ctx, partner.id, folder, name, cleo_file_id, content, digest, "unreadable_ack",
                              str(parsed["error"]), {"inbound_file_id": row.id}, summary), None
    # ``row`` is the file as it was before this poll: applied now, or applied by an earlier poll.
    summary.outcomes.append((partner.id, name, kind,
                             "applied" if row.state in ("recorded", "error") else "already applied"))
    return "recorded", row.id


def record_partner_documents(ctx: SyncContext, partner: TradingPartner, file_row: inbound.InboundFile,
                             read: ReadFile, summary: InboundSummary) -> dict[str, Any]:
    """The sets in a file that are not acknowledgments (a customer's 850, a supplier's 810): named in the file
    row's parsed record; the file itself is kept for the people who process them."""
    others = [st.set_id for ic in read.interchanges for group in ic.groups for st in group.sets
              if st.set_id not in ACK_SETS]
    if others:
        take_business_sets(ctx, partner, file_row, read, summary)
    return {"documents": others} if others else {}


def _set_aside(ctx: SyncContext, partner_id: str | None, folder: str, name: str, cleo_file_id: str,
               content: bytes | None, digest: str, code: str, reason: str, detail: dict[str, Any],
               summary: InboundSummary) -> Outcome:
    """Quarantine one file. Its bytes go into the row when they fit (then the file may leave its folder);
    otherwise the row is keyed by size and the file stays in the folder ("left")."""
    kept = content is not None and len(content) <= quarantine.MAX_RAW_BYTES
    size = len(content) if content is not None else detail.get("size")
    if content is not None and not kept:
        digest = f"size:{len(content)}"
    with ctx.ledger.begin() as conn:
        quarantine.put(conn, stage=STAGE, item_key=_item_key(folder, name), digest=digest, kind="file",
                       partner_id=partner_id, reference=name, reason_code=code, reason=reason,
                       raw=content if kept else None, raw_size=size if isinstance(size, int) else None,
                       detail={"folder": folder, "cleo_file_id": cleo_file_id, **detail}, run_id=ctx.run_id)
    summary.quarantined[code] += 1
    summary.outcomes.append((partner_id or "-", name, "file", f"quarantined: {code}"))
    ctx.log.warning("inbound file %s/%s of %s set aside (%s): %s", folder, name, partner_id, code, reason)
    return "set_aside" if kept else "left"


def apply_acknowledgments(ctx: SyncContext, partner: TradingPartner, file_row: inbound.InboundFile,
                          read: ReadFile, summary: InboundSummary, *, findings: Sequence[str] = ()) -> dict[str, Any]:
    """Apply every 997, 999 and TA1 in a file to the deliveries they speak for; returns what goes into the
    file row's parsed record (``acknowledgments``, ``ack_warnings``, ``refused``, and ``error`` when the file
    held acknowledgment sets of which nothing could be read). ``findings`` are the validator's (see
    ``ack_findings``): warnings on the file and on each acknowledgment row.

    TA1s first (each for the interchange it names), then each set's result (correlated by partner, GS06 =
    AK102 and ST02 = AK202). Each applied acknowledgment is kept as an ``acknowledgments`` row; one that
    contradicts an earlier one from another file puts the delivery in ``conflict``.
    """
    acks = read_acknowledgments(read)
    out: dict[str, Any] = {}
    if acks.empty and not any(k in ACK_SETS for k in read.set_ids):
        return out
    warnings = [*read.all_warnings(), *acks.warnings, *findings]
    out["acknowledgments"] = [dataclasses.asdict(t) for t in acks.ta1s] + [dataclasses.asdict(r)
                                                                            for r in acks.results]
    if acks.warnings or findings:
        out["ack_warnings"] = [*acks.warnings, *findings]
    if acks.refused:
        out["refused"] = [dataclasses.asdict(r) for r in acks.refused]
        for refused in acks.refused:  # a warning on the file: the rest of it is applied
            ctx.log.warning("acknowledgment from %s in %s not applied: %s", partner.id, file_row.file_name,
                            refused.reason)
    if acks.empty:
        out["error"] = "; ".join(acks.warnings) or "no acknowledgment could be read"
        summary.errors.append(f"acknowledgment file {file_row.file_name} from {partner.id}: {out['error']}")
        return out
    now = ctx.now()
    with ctx.ledger.begin() as conn:
        for ta1 in acks.ta1s:
            if not ta1.interchange_control_number.isdigit():
                summary.unmatched_acks += 1
                continue
            detail = {"ta1_isa13": int(ta1.interchange_control_number), "ta1_code": ta1.code,
                      "ta1_note": ta1.note_code, "ack_interchange_control_number": ta1.ack_interchange_control_number}
            items = outbox.find_by_interchange(conn, partner.id, int(ta1.interchange_control_number))
            if not items:
                summary.unmatched_acks += 1
                ctx.log.warning("TA1 from %s answers ISA13 %s, which we never sent", partner.id,
                                ta1.interchange_control_number)
            # An accepting TA1 speaks for the envelope; the 997/999 speaks for the sets, so the state stays.
            state = {"A": "", "R": "rejected"}.get(ta1.code, "accepted_with_errors")
            _prove_deliveries(ctx, conn, partner, file_row, items, "TA1", summary)
            for item in items:
                _apply_one(ctx, conn, partner, file_row, item, "TA1", ta1.ack_interchange_control_number,
                           state or "accepted", detail, warnings, now, summary, change_state=bool(state))
        for result in acks.results:
            detail = dataclasses.asdict(result)
            matches = outbox.find_by_control(conn, partner.id, result.transaction_set,
                                             int(result.group_control_number), result.set_control_number or None)
            if not matches:
                summary.unmatched_acks += 1
                ctx.log.warning("%s from %s acknowledges GS06 %s ST02 %s, which we never sent", result.ack_kind,
                                partner.id, result.group_control_number, result.set_control_number)
                continue
            _prove_deliveries(ctx, conn, partner, file_row, matches, result.ack_kind, summary)
            for item in matches:
                _apply_one(ctx, conn, partner, file_row, item, result.ack_kind,
                           result.ack_interchange_control_number, result.status.value, detail,
                           [*warnings, *result.warnings], now, summary, change_state=True)
    return out


def _prove_deliveries(ctx: SyncContext, conn: Connection, partner: TradingPartner, file_row: inbound.InboundFile,
                      items: Sequence[outbox.OutboxItem], ack_kind: str, summary: InboundSummary) -> None:
    """An acknowledgment of sets whose upload was in doubt proves the partner received their interchange."""
    for interchange_id in sorted({i.interchange_id for i in items if i.state == "rendered" and i.interchange_id}):
        receipt = {"outcome": "proven_by_ack", "ack_kind": ack_kind, "ack_file": file_row.file_name,
                   "folder": partner.cleo.outbound}
        if not outbox.prove_delivered(conn, interchange_id, receipt):
            continue
        interchange = outbox.get_interchange(conn, interchange_id)
        audit.record_many(conn, [{
            "kind": item.kind, "account_id": item.account_id, "source_id": item.source_id,
            "event": "delivery_proven_by_ack", "partner_id": partner.id, "run_id": ctx.run_id,
            "detail": {"file_name": interchange.file_name, "isa13": interchange.isa13, "gs06": interchange.gs06,
                       "st02": item.st02, "ack": ack_kind, "ack_file": file_row.file_name}}
            for item in outbox.items_of_interchange(conn, interchange_id)])
        summary.proven += 1
        ctx.log.info("%s from %s proves %s was delivered (its upload was in doubt)", ack_kind, partner.id,
                     interchange.file_name)


def _apply_one(ctx: SyncContext, conn: Connection, partner: TradingPartner, file_row: inbound.InboundFile,
               item: outbox.OutboxItem, ack_kind: str, isa13: str, status: str, detail: dict[str, Any],
               warnings: list[str], now: dt.datetime, summary: InboundSummary, *, change_state: bool) -> None:
    """Keep one acknowledgment of one delivery and move its state, or mark the conflict it makes."""
    history = acknowledgments.of_outbox(conn, [item.id])
    kept = acknowledgments.record(conn, outbox_id=item.id, inbound_file_id=file_row.id, partner_id=partner.id,
                                  ack_kind=ack_kind, isa13=isa13, status=status, detail=detail,
                                  warnings=list(dict.fromkeys(warnings)), run_id=ctx.run_id)
    if not kept:
        return  # this file's acknowledgment of this delivery was applied before
    if not change_state:
        return
    verdict = "rejected" if status in acknowledgments.REJECTING else (
        "accepted" if status in acknowledgments.ACCEPTING and ack_kind != "TA1" else "")
    earlier = acknowledgments.contradicts(history, file_row.id, verdict)
    state = outbox.ACK_CONFLICT if earlier or item.ack_state == outbox.ACK_CONFLICT else status
    event_detail = {"gs06": item.gs06, "st02": item.st02, "file_id": file_row.id, "file": file_row.file_name,
                    "ack_kind": ack_kind, **detail}
    if state == outbox.ACK_CONFLICT:
        event_detail["conflicts_with"] = [{"file": a.file_name, "ack_kind": a.ack_kind, "status": a.status}
                                          for a in earlier]
        event_detail["status"] = status
        ctx.log.warning("%s from %s for %s %s (%s) contradicts an earlier acknowledgment: conflict", ack_kind,
                        partner.id, item.kind, item.source_id, status)
    outbox.set_ack(conn, item.id, state, event_detail if state == outbox.ACK_CONFLICT else detail, now)
    audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id,
                 event=f"ack_{state}", partner_id=partner.id, detail=event_detail, run_id=ctx.run_id)
    summary.acks[state] += 1


def acknowledgment_health(ledger: Ledger, limit: int = 20) -> tuple[dict[str, int],
                                                                    list[acknowledgments.Attention]]:
    """(delivered documents per ack state, those needing a person: rejected, overdue, in conflict)."""
    with ledger.begin() as conn:
        return acknowledgments.needing_attention(conn, ATTENTION_STATES, limit)


def mark_overdue(ctx: SyncContext, summary: InboundSummary) -> None:
    now = ctx.now()
    with ctx.ledger.begin() as conn:
        for item, delivered_at in outbox.waiting_acks(conn):
            partner = ctx.partners.get(item.partner_id)
            if delivered_at is not None and now - delivered_at > dt.timedelta(hours=partner.ack_window_hours):
                outbox.set_ack(conn, item.id, "overdue", {"window_hours": partner.ack_window_hours}, now)
                audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id,
                             event="ack_overdue", partner_id=partner.id,
                             detail={"delivered_at": delivered_at.isoformat(),
                                     "window_hours": partner.ack_window_hours}, run_id=ctx.run_id)
                summary.overdue += 1
