"""Reading a list request's query string: paging, ``search[…]`` filters and ``include[]``.

Owns FreshBooks' paging rules (per_page silently capped at 100, page 0 read as 1, bad values → errno
1013/1014) and which filters each kind honours; unknown filters are ignored, as the real API does with
unsupported ones. Day filters are US/Eastern, ``_min`` inclusive and ``_max`` exclusive. ``sort`` orders by the id
or the update timestamp, ascending or descending (ascending id when absent or not understood).
"""

from __future__ import annotations

from freshcleo_pipeline.sandbox.freshbooks import times
from freshcleo_pipeline.sandbox.freshbooks.kinds import KINDS, Kind
from freshcleo_pipeline.sandbox.freshbooks.store import Query
from freshcleo_pipeline.sandbox.freshbooks.writes import FieldError

DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 100
INVALID_VALUE, DATE_RANGE_BACKWARDS, INVALID_PER_PAGE, INVALID_PAGE = 1004, 1007, 1013, 1014

Params = dict[str, list[str]]

_EQUALS: dict[str, dict[str, str]] = {
    "invoices": {"customerid": "customerid", "invoice_number": "invoice_number", "currency_code": "currency_code",
                 "po_number": "po_number", "invoice_id": "id"},
    "payments": {"logid": "id", "invoiceid": "invoiceid", "clientid": "clientid", "customerid": "clientid",
                 "type": "type"},
    "bills": {"vendorid": "vendorid", "currency_code": "currency_code"},
    "clients": {"email": "email", "userid": "id"},
    "items": {"sku": "sku", "itemid": "id"},
}
_IN: dict[str, dict[str, str]] = {
    "invoices": {"statusids": "status", "customerids": "customerid", "invoiceids": "id"},
    "payments": {"logids": "id", "clientids": "clientid", "customerids": "clientid", "invoiceids": "invoiceid"},
    "bills": {"statuses": "status", "ids": "id"},
    "clients": {"userids": "id"},
    "items": {"itemids": "id"},
}
_LIKE: dict[str, dict[str, str]] = {
    "payments": {"notes": "note", "client_name": "clientid"},
    "clients": {"organization_like": "organization", "fname_like": "fname", "lname_like": "lname",
                "note_like": "note"},
    "items": {"description": "description"},
}
_DATES = {"invoices": "create_date", "payments": "date"}
_UPDATED = {"invoices", "payments", "clients", "items"}


def _bad(errno: int, field: str, value: str, expected: str) -> FieldError:
    return FieldError(errno, field, f"{field}: got {value!r}; expected {expected}.", value, status=400)


def paging(params: Params) -> tuple[int, int]:
    raw_page = (params.get("page") or ["1"])[0]
    raw_per_page = (params.get("per_page") or [str(DEFAULT_PER_PAGE)])[0]
    if not raw_page.strip().isdigit():
        raise _bad(INVALID_PAGE, "page", raw_page, "a non-negative integer (page must be a number)")
    if not raw_per_page.strip().isdigit() or int(raw_per_page) < 1:
        raise _bad(INVALID_PER_PAGE, "per_page", raw_per_page, "a positive integer")
    return max(1, int(raw_page)), min(MAX_PER_PAGE, int(raw_per_page))


def includes(params: Params) -> frozenset[str]:
    return frozenset(params.get("include[]", []))


def _search(params: Params, name: str) -> str | None:
    values = params.get(f"search[{name}]")
    return values[0] if values else None


def _day(name: str, value: str) -> int:
    day = times.parse_day(value)
    if day is None:
        raise _bad(INVALID_VALUE, name, value, "a day YYYY-MM-DD (day filters take no time)")
    return times.eastern_midnight_us(day)


def order(spec: Kind, params: Params) -> tuple[str, bool] | None:
    """``sort=<field>_asc|_desc`` on the id or the record's update timestamp; any other sort is ignored, as
    unknown parameters are (the sortable fields of the real API are unconfirmed)."""
    raw = (params.get("sort") or [""])[0]
    name, _, direction = raw.rpartition("_")
    if direction not in ("asc", "desc"):
        return None
    if name in ("id", spec.id_field):
        return "id", direction == "desc"
    if spec.stamp is not None and name == spec.stamp:
        return "stamp", direction == "desc"
    return None


def query(kind: str, params: Params, *, sortable: bool = True) -> Query:
    vis = frozenset({0, 2})
    raw_vis = _search(params, "vis_state")
    if raw_vis is not None:
        if raw_vis not in ("0", "1", "2"):
            raise _bad(INVALID_VALUE, "vis_state", raw_vis, "0, 1 or 2")
        vis = frozenset({int(raw_vis)})
    lo = hi = None
    if kind in _UPDATED:
        raw_lo, raw_hi = _search(params, "updated_min"), _search(params, "updated_max")
        lo = _day("updated_min", raw_lo) if raw_lo is not None else None
        hi = _day("updated_max", raw_hi) if raw_hi is not None else None
        if lo is not None and hi is not None and lo > hi:
            raise _bad(DATE_RANGE_BACKWARDS, "updated_max", str(raw_hi), "a day on or after updated_min")
    predicates: list[tuple[str, str, tuple[str, ...]]] = []
    date_field = _DATES.get(kind)
    if date_field:
        raw_lo, raw_hi = _search(params, "date_min"), _search(params, "date_max")
        for name, op, raw in (("date_min", "gte", raw_lo), ("date_max", "lt", raw_hi)):
            if raw is not None:
                if times.parse_day(raw) is None:
                    raise _bad(INVALID_VALUE, name, raw, "a day YYYY-MM-DD")
                predicates.append((date_field, op, (raw,)))
        if raw_lo and raw_hi and raw_lo > raw_hi:
            raise _bad(DATE_RANGE_BACKWARDS, "date_max", raw_hi, "a day on or after date_min")
    for name, target in _EQUALS.get(kind, {}).items():
        value = _search(params, name)
        if value is not None:
            predicates.append((target, "in", (value,)))
    for name, target in _IN.get(kind, {}).items():
        values = params.get(f"search[{name}][]")
        if values:
            predicates.append((target, "in", tuple(values)))
    for name, target in _LIKE.get(kind, {}).items():
        value = _search(params, name)
        if value is not None:
            predicates.append((target, "like", (value,)))
    return Query(vis, lo, hi, tuple(predicates), order(KINDS[kind], params) if sortable else None)
