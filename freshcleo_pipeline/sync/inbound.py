"""Stage 5: pull partners' files from Cleo inbound folders, apply 997s to deliveries, archive, flag overdue.

Every file ends in exactly one visible state. A file that reads as an X12 interchange from the partner that owns
the folder is recorded in the ledger before anything else, parsed, and only then archived in Cleo, so a crash at
any point leaves it either still in the folder or recorded. Anything else is set aside in quarantine with a
reason code a person can act on:

- its content is the problem (``empty``, ``not_x12``, ``undecodable``, ``unknown_partner``, ``unexpected_error``):
  the raw bytes go into the quarantine row and the file is archived, so the folder does not serve it again;
- it could not be taken (``download_failed`` after bounded retries, ``over_size_cap``, or content too big for a
  quarantine row): it stays in the folder under the digest ``size:<bytes>`` and is skipped while that row is open
  or dismissed, and downloaded again once a person sets the row to ``retrying``.

A ``retrying`` row that holds the raw bytes is processed again from them (``retry_quarantined``, also the first
step of every poll). Nothing blocks the folder: a file recorded before is archived again without being applied
twice, and an archive that already holds its name keeps both (see ``CleoClient.archive``). One file's problem
never stops the next file, and one partner's never stops the next partner; only refused credentials end the
poll, since no partner can be read without them.

A 997 is correlated with our deliveries by (partner, GS06 = AK102, ST02 = AK202). Partner documents (an 850
from a customer, an 810 from a supplier) are recorded and archived for the people who process them. Deliveries
still waiting for a 997 past the partner's window become ``overdue``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from freshcleo_pipeline.cleo.auth import CleoLoginRefusedError
from freshcleo_pipeline.cleo.client import CleoClient, OverSizeError
from freshcleo_pipeline.cleo.paths import RemoteFile
from freshcleo_pipeline.errors import FreshcleoError
from freshcleo_pipeline.ledger import audit, inbound, outbox, quarantine
from freshcleo_pipeline.partners import TradingPartner
from freshcleo_pipeline.sync.context import SyncContext
from freshcleo_pipeline.x12.ack_reader import foreign_characters, inbound_text, read_inbound_997, reading_form
from freshcleo_pipeline.x12.errors import X12ParseError
from freshcleo_pipeline.x12.tokens import read_delimiters

#: AK101 → the transaction set of our group it acknowledges (for group-level results without AK2).
TRANSACTION_SET_OF_GROUP = {"IN": "810", "PO": "850", "RA": "820"}
STAGE = "inbound"

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
    kind: str


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
        delimiters, length = read_delimiters(form)
    except X12ParseError as exc:
        raise UnreadableFile("not_x12", "ISA", form[:106], str(exc)) from None
    isa = form[:length].split(delimiters.element)
    sender = (isa[5].strip(), isa[6].strip()) if len(isa) > 6 else ("", "")
    expected = (partner.edi.isa_qualifier, partner.edi.isa_id.strip().upper())
    if sender != expected:
        raise UnreadableFile("unknown_partner", "ISA05:ISA06", ":".join(sender),
                             f"{':'.join(expected)}, partner {partner.id} that owns folder {partner.cleo.inbound}")
    return Reading(decoded.text, form, decoded.encoding, sniff_kind(form))


def _segments(text: str) -> Iterator[list[str]]:
    """Segments split into elements, one at a time (a large file is not split whole to find its first ST)."""
    text = reading_form(text)
    if len(text) < 106 or not text.startswith("ISA"):
        return
    element, terminator = text[3], text[105]
    start = 0
    while start < len(text):
        end = text.find(terminator, start)
        segment = text[start:end if end >= 0 else len(text)].strip()
        if segment:
            yield segment.split(element)
        if end < 0:
            return
        start = end + 1


def sniff_kind(text: str) -> str:
    """The transaction set of the first ST segment ('997', '850', …), 'TA1' for an interchange
    acknowledgment, or 'unknown'."""
    for parts in _segments(text):
        if parts[0] == "ST" and len(parts) > 1:
            return parts[1]
        if parts[0] == "TA1":
            return "TA1"
    return "unknown"


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
    finally:
        client.close()
    mark_overdue(ctx, summary)
    return summary


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
    if row.state == "recorded":
        if reading.encoding != "utf-8":
            ctx.log.info("inbound file %s/%s read as %s", folder, name, reading.encoding)
        if kind == "997":
            _apply_997(ctx, partner, row.id, reading.form, summary)
        elif kind == "TA1":
            _apply_ta1(ctx, partner, row.id, reading.form, summary)
        else:
            with ctx.ledger.begin() as conn:
                inbound.set_state(conn, row.id, "applied", parsed={"transaction_set": kind})
    return "recorded", row.id


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
    ctx.log.warning("inbound file %s/%s of %s set aside (%s): %s", folder, name, partner_id, code, reason)
    return "set_aside" if kept else "left"


def _apply_997(ctx: SyncContext, partner: TradingPartner, file_id: int, text: str, summary: InboundSummary) -> None:
    try:
        results, warnings = read_inbound_997(text)
    except FreshcleoError as exc:
        summary.errors.append(f"997 file {file_id} from {partner.id}: {exc}")
        with ctx.ledger.begin() as conn:
            inbound.set_state(conn, file_id, "error", error=str(exc))
        return
    now = ctx.now()
    parsed: list[dict[str, Any]] = []
    with ctx.ledger.begin() as conn:
        for result in results:
            state = result.status
            detail = dataclasses.asdict(result)
            parsed.append({**detail, "warnings": warnings} if warnings else detail)
            # A group-level result (no AK2) speaks for every set of the group.
            transaction_set = result.transaction_set_id or TRANSACTION_SET_OF_GROUP.get(result.functional_id, "")
            matches = outbox.find_by_control(conn, partner.id, transaction_set, int(result.group_control_number),
                                             result.set_control_number or None)
            if not matches:
                summary.unmatched_acks += 1
                ctx.log.warning("997 from %s acknowledges GS06 %s ST02 %s, which we never sent", partner.id,
                                result.group_control_number, result.set_control_number)
                continue
            for item in matches:
                outbox.set_ack(conn, item.id, state, detail, now)
                audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id,
                             event=f"ack_{state}", partner_id=partner.id,
                             detail={"gs06": item.gs06, "st02": item.st02, "file_id": file_id, **detail},
                             run_id=ctx.run_id)
                summary.acks[state] += 1
        inbound.set_state(conn, file_id, "applied", parsed=parsed)


def _apply_ta1(ctx: SyncContext, partner: TradingPartner, file_id: int, text: str, summary: InboundSummary) -> None:
    """A TA1 answers for a whole interchange (TA101 = our ISA13): a rejection rejects every set in it."""
    now = ctx.now()
    parsed: list[dict[str, Any]] = []
    with ctx.ledger.begin() as conn:
        for parts in _segments(text):
            if parts[0] != "TA1" or len(parts) < 6 or not parts[1].isdigit():
                continue
            isa13, code, note = int(parts[1]), parts[4], parts[5]
            detail = {"ta1_isa13": isa13, "ta1_code": code, "ta1_note": note}
            parsed.append(detail)
            if code == "A":
                continue  # the envelope was accepted; the 997 speaks for the sets
            state = "rejected" if code == "R" else "accepted_with_errors"
            for item in outbox.find_by_interchange(conn, partner.id, isa13):
                outbox.set_ack(conn, item.id, state, detail, now)
                audit.record(conn, kind=item.kind, account_id=item.account_id, source_id=item.source_id,
                             event=f"ack_{state}", partner_id=partner.id, detail=detail, run_id=ctx.run_id)
                summary.acks[state] += 1
        inbound.set_state(conn, file_id, "applied", parsed=parsed)


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
