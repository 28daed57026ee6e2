"""Deliveries whose fate a person may need to know: uploads in doubt (their age, when they are re-sent) and
names another file holds in a partner's folder.

Read by the acknowledgment check, the deliveries asset and ``freshcleo resend``; changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from freshcleo_pipeline.ledger import Ledger, outbox
from freshcleo_pipeline.partners import PartnerConfigError, PartnerDirectory
from freshcleo_pipeline.sync.trace_text import stamp

DEFAULT_WINDOW_HOURS = 24


@dataclass(frozen=True)
class Doubt:
    """An upload whose outcome is unknown and whose file was not in the folder afterwards."""

    interchange_id: int
    partner_id: str
    file_name: str
    isa13: int
    since: dt.datetime
    window_hours: int
    resend_count: int
    documents: int

    @property
    def resend_at(self) -> dt.datetime:
        return self.since + dt.timedelta(hours=self.window_hours)

    def past_window(self, now: dt.datetime) -> bool:
        return now >= self.resend_at

    def line(self, now: dt.datetime) -> str:
        resent = f", re-sent {self.resend_count} time(s)" if self.resend_count else ""
        when = ("past its window: re-sent by the next inbound poll" if self.past_window(now)
                else f"re-sent at {_stamp(self.resend_at)} unless the partner acknowledges it first")
        return (f"{self.partner_id} {self.file_name} (ISA13 {self.isa13:09d}, {self.documents} document(s)): in "
                f"doubt for {age(now - self.since)} since {_stamp(self.since)}{resent}; {when}")


@dataclass(frozen=True)
class Conflict:
    partner_id: str
    file_name: str
    error: str

    def line(self) -> str:
        return f"{self.partner_id} {self.file_name}: {self.error}"


def doubts(ledger: Ledger, partners: PartnerDirectory, now: dt.datetime) -> list[Doubt]:
    with ledger.begin() as conn:
        waiting = outbox.in_doubt(conn)
    return [Doubt(ic.id, ic.partner_id, ic.file_name, ic.isa13, ic.in_doubt_since or ic.upload_started_at or now,
                  window_hours(partners, ic.partner_id), ic.resend_count, ic.document_count) for ic in waiting]


def window_hours(partners: PartnerDirectory, partner_id: str) -> int:
    """The partner's acknowledgment window; the default one for a partner no longer in partners.yaml."""
    try:
        return partners.get(partner_id).ack_window_hours
    except PartnerConfigError:
        return DEFAULT_WINDOW_HOURS


def conflicts(ledger: Ledger) -> list[Conflict]:
    with ledger.begin() as conn:
        return [Conflict(ic.partner_id, ic.file_name, ic.last_error or "another file holds the name")
                for ic in outbox.in_conflict(conn)]


def age(delta: dt.timedelta) -> str:
    """A duration as a person reads it: 45 s, 12 min, 3 h 05 min, 2 d 4 h."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _stamp(when: dt.datetime) -> str:
    return f"{stamp(when)} UTC"
