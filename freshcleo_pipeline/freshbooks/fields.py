"""The one table of FreshBooks field facts per kind, and the small readings every layer makes with it.

Owns, per kind: the listing path and envelope keys, the id field, which fields say when a record last changed
and in which zone (reference §10), whether the server honours ``search[updated_min/_max]`` (§6.3) and the
includes a listing needs (§7). The client lists and fetches with it, ``schemas.py`` types its timestamps with
it, ``normalize.py`` and the extract stage read ids, ``updated`` and ``vis_state`` through it. Time conversion
itself stays in ``timestamps.py``.

Must not: do I/O, or hold business meaning (what a document says is ``normalize.py``'s).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.freshbooks.timestamps import Zone, parse_timestamp


@dataclass(frozen=True)
class KindFields:
    """How one kind of record is listed and fetched, and which of its fields says when it last changed."""

    kind: str  # listing name ("invoices")
    singular: str  # single-object envelope key; also the ledger's kind ("invoice")
    path: str  # below /accounting/account/{account_id}/
    key: str  # list envelope key
    id_field: str
    updated: tuple[str, ...]  # last-change fields, in order of preference; () when the API gives none
    zone: Zone
    server_filter: bool  # accepts search[updated_min]/[updated_max]
    includes: tuple[str, ...] = ()
    # The "in" filter on ids (search[<name>][]=…), when the kind has one: fetching many records by id costs one
    # request per hundred. Documented for payments, items and bills, seen in SDK tests for clients (§6.3); the
    # client checks that what comes back is what it asked for, so a server that ignores the filter costs
    # requests, never records.
    ids_filter: str | None = None

    @property
    def updated_field(self) -> str | None:
        return self.updated[0] if self.updated else None

    @property
    def label(self) -> str:
        return self.singular.replace("_", " ")


FIELDS: dict[str, KindFields] = {f.kind: f for f in (
    # invoiceids[] is read by analogy with statusids[] and customerids[]: the invoice filter table is unconfirmed.
    KindFields("invoices", "invoice", "invoices/invoices", "invoices", "id", ("updated",), "eastern", True,
               ("lines",), "invoiceids"),
    KindFields("payments", "payment", "payments/payments", "payments", "id", ("updated",), "eastern", True,
               ids_filter="logids"),
    KindFields("clients", "client", "users/clients", "clients", "id", ("updated",), "eastern", True,
               ids_filter="userids"),
    KindFields("items", "item", "items/items", "items", "id", ("updated",), "eastern", True,
               ids_filter="itemids"),
    # Bills and vendors document no updated filter: scanned in full and filtered on their UTC updated_at (a
    # bill without one falls back to its creation time, which is then its last change).
    KindFields("bills", "bill", "bills/bills", "bills", "id", ("updated_at", "created_at"), "utc", False,
               ids_filter="ids"),
    KindFields("bill_vendors", "bill_vendor", "bill_vendors/bill_vendors", "bill_vendors", "vendorid",
               ("updated_at",), "utc", False),
    # Bill payments carry no timestamp: every scan returns them all; the pipeline dedupes by content version.
    KindFields("bill_payments", "bill_payment", "bill_payments/bill_payments", "bill_payments", "id", (), "utc",
               False),
)}
BY_SINGULAR: dict[str, KindFields] = {f.singular: f for f in FIELDS.values()}


def fields_of(kind: str) -> KindFields:
    """The facts of a kind named by its listing name ("invoices") or its ledger name ("invoice")."""
    found = FIELDS.get(str(kind)) or BY_SINGULAR.get(str(kind))
    if found is None:
        raise ValueError(f"kind: got {kind!r}; expected one of {', '.join(FIELDS)}")
    return found


def label(kind: str, raw: object) -> str:
    """'invoice 31008': how reasons name a raw record."""
    facts = fields_of(kind)
    ident = source_id(kind, raw)
    return f"{facts.label} {ident if ident is not None else '(no id)'}"


def source_id(kind: str, raw: object) -> str | None:
    """The record's FreshBooks id as a string; None when it has none (or is not an object)."""
    if not isinstance(raw, Mapping):
        return None
    facts = fields_of(kind)
    value = raw.get(facts.id_field)
    if value is None and facts.id_field != "id":
        value = raw.get("id")
    if value is None or isinstance(value, bool | dict | list) or not str(value).strip():
        return None
    return str(value).strip()


def zone_name(zone: Zone) -> str:
    return "US/Eastern" if zone == "eastern" else "UTC"


def timestamp_expected(zone: Zone) -> str:
    return f"a timestamp 'YYYY-MM-DD HH:MM:SS' ({zone_name(zone)})"


def updated_at(kind: str, raw: Mapping[str, Any]) -> dt.datetime | None:
    """The aware UTC instant the record last changed, from the kind's own fields and zone; None when it has no
    such field (bill payments) or all of them are empty. An unreadable value is a DataError naming it."""
    facts = fields_of(kind)
    for name in facts.updated:
        value = raw.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            try:
                return parse_timestamp(value, facts.zone)
            except ValueError:
                pass
        raise DataError(label(kind, raw), name, value, timestamp_expected(facts.zone))
    return None


def vis_state(kind: str, raw: Mapping[str, Any]) -> int:
    """0 active, 1 deleted, 2 archived (reference §9); anything else is a DataError naming the value."""
    value = raw.get("vis_state", 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() not in ("0", "1", "2"):
        raise DataError(label(kind, raw), "vis_state", value, "0 (active), 1 (deleted) or 2 (archived)")
    return int(value)


def oversized(raw: object, limit: int) -> tuple[str, int] | None:
    """(field path, size in UTF-8 bytes) of the first string anywhere in ``raw`` longer than ``limit`` bytes."""
    # Every record of every listing passes here: the path is kept as links to the parent and spelled out only
    # for the one string that is over the limit.
    stack: list[tuple[object, _Link | None]] = [(raw, None)]
    while stack:
        value, link = stack.pop()
        if isinstance(value, str):
            # A string of more characters than the limit is over it in any encoding; only strings close to the
            # limit are encoded to count their bytes (encoding a huge one would double what it costs).
            if len(value) > limit:
                return _spell(link), _utf8_size(value)
            if len(value) * 4 > limit and len(value.encode("utf-8", "surrogatepass")) > limit:
                return _spell(link), len(value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, Mapping):
            stack.extend((v, (link, k)) for k, v in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((v, (link, i)) for i, v in enumerate(value))
    return None


_Link = tuple[Any, Any]  # (parent link or None, key or index)


def _spell(link: _Link | None) -> str:
    parts: list[Any] = []
    while link is not None:
        link, part = link
        parts.append(part)
    path = ""
    for part in reversed(parts):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(document)"


def _utf8_size(text: str, chunk: int = 1 << 20) -> int:
    return sum(len(text[i:i + chunk].encode("utf-8", "surrogatepass")) for i in range(0, len(text), chunk))
