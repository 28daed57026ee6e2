"""What every stage needs: settings, ledger, partners, API clients, the run id and a logger."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from freshcleo_pipeline.documents import Party
from freshcleo_pipeline.freshbooks.normalize import party_from_company
from freshcleo_pipeline.ledger import Ledger
from freshcleo_pipeline.partners import PartnerDirectory
from freshcleo_pipeline.settings import Settings

if TYPE_CHECKING:
    from freshcleo_pipeline.cleo.client import CleoClient
    from freshcleo_pipeline.freshbooks.client import FreshBooksClient


@dataclass
class SyncContext:
    settings: Settings
    ledger: Ledger
    partners: PartnerDirectory
    freshbooks: Callable[[], FreshBooksClient]
    cleo: Callable[[], CleoClient]
    run_id: str | None = None
    log: logging.Logger | logging.LoggerAdapter[logging.Logger] = field(
        default_factory=lambda: logging.getLogger("freshcleo.sync"))
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def company_party(self) -> Party:
        return party_from_company(self.partners.company)


def window(days: list[dt.date]) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants covering consecutive partition days."""
    first, last = min(days), max(days)
    start = dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC)
    end = dt.datetime(last.year, last.month, last.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    return start, end
