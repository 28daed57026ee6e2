"""The emulator's books at run time: generated documents plus every later edit, and how lists are selected.

Owns ids, visibility and ``updated`` instants per document (compact arrays), the records changed since
generation (only those are held in full), parent/child links (payments of an invoice, bill payments of a
bill), filter + paging selection with a small cache, and the write phases of a PUT. It speaks in records
and FieldErrors; HTTP, auth and webhooks belong to the emulator.
"""

from __future__ import annotations

import copy
import threading
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from freshcleo_pipeline.sandbox.freshbooks import catalog, render, times, writes
from freshcleo_pipeline.sandbox.freshbooks import generator as g
from freshcleo_pipeline.sandbox.freshbooks.generator import Books, Index
from freshcleo_pipeline.sandbox.freshbooks.kinds import KINDS, Kind

Record = dict[str, Any]
Event = tuple[str, int]  # (event name, object id)


@dataclass
class Collection:
    """One kind's documents. Ids are ``base_id + position``, so a lookup is arithmetic, not a map."""

    kind: Kind
    base_id: int
    make: Callable[[int], Record]  # generated record at a position (shared: copy before changing)
    generated: int
    stamps: array[int]  # ``updated`` instants (UTC µs), position-aligned
    vis: bytearray
    overrides: dict[int, Record] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.vis)

    def position(self, ident: int) -> int | None:
        pos = ident - self.base_id
        return pos if 0 <= pos < len(self.vis) else None

    def record(self, pos: int) -> Record:
        found = self.overrides.get(pos)
        return found if found is not None else self.make(pos)

    def keep(self, pos: int, record: Record) -> None:
        self.overrides[pos] = record
        self.stamps[pos] = record["updated_us"]
        self.vis[pos] = record["vis_state"]

    def append(self, record: Record) -> int:
        pos = len(self.vis)
        self.stamps.append(record["updated_us"])
        self.vis.append(record["vis_state"])
        self.overrides[pos] = record
        return pos


@dataclass(frozen=True)
class Query:
    """A list request's selection: visibility, the Eastern-day ``updated`` bounds and field predicates."""

    vis: frozenset[int] = frozenset({0, 2})
    updated_min_us: int | None = None
    updated_max_us: int | None = None
    predicates: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (field, op, values) on rendered docs
    order: tuple[str, bool] | None = None  # ("id" | "stamp", descending); None: ascending id

    def accepts(self, doc: Record) -> bool:
        for name, op, values in self.predicates:
            value = doc.get(name)
            text = "" if value is None else str(value)
            if op == "in" and text not in values:
                return False
            if op == "like" and values[0].lower() not in text.lower():
                return False
            if op == "gte" and not text >= values[0]:
                return False
            if op == "lt" and not text < values[0]:
                return False
        return True


def _named_positions(coll: Collection, query: Query) -> list[int] | None:
    """The positions an id filter (``ids[]``, ``invoiceids[]``…) names, ascending; None without one. The
    predicate is still applied to each rendered record, so this only spares rendering every other record of the
    kind (a list by ids costs what it returns, not the size of the book)."""
    for name, op, values in query.predicates:
        if name == "id" and op == "in":
            found = {coll.position(int(v)) for v in values if v.strip().isdecimal()}
            return sorted(p for p in found if p is not None)
    return None


def _never_generated(pos: int) -> Record:
    raise LookupError(f"no generated record at position {pos}: this kind holds created records only")


def _static(items: int, make: Callable[[int], Record]) -> tuple[array[int], bytearray]:
    records = [make(i) for i in range(items)]
    return array("q", (r["updated_us"] for r in records)), bytearray(r["vis_state"] for r in records)


class Store:
    """Thread-safe: every public method takes the lock (requests are served on many threads)."""

    _CACHE_SIZE = 32

    def __init__(self, books: Books, *, now_us: Callable[[], int]) -> None:
        self.books = books
        self.now_us = now_us
        self.lock = threading.RLock()
        self._version = 0
        self._cache: dict[tuple[str, Query], list[int]] = {}
        self._extra_children: dict[tuple[str, int], list[int]] = {}
        # Fault injection: raw values served in place of what a record renders to (see ``corrupt``).
        self._corrupted: dict[tuple[str, int], Corruption] = {}

        def lazy(kind: str, base: int, make: Callable[[int], Record], index: Index) -> Collection:
            return Collection(KINDS[kind], base, make, len(index.vis), array("q", index.stamps),
                              bytearray(index.vis))

        def static(kind: str, base: int, make: Callable[[int], Record], count: int) -> Collection:
            stamps, vis = _static(count, make)
            return Collection(KINDS[kind], base, make, count, stamps, vis)

        self.collections: dict[str, Collection] = {
            "invoices": lazy("invoices", g.INVOICE_BASE, books.invoice, books.invoices),
            "payments": lazy("payments", g.PAYMENT_BASE, books.payment, books.payments),
            "bills": lazy("bills", g.BILL_BASE, books.bill, books.bills),
            "bill_payments": lazy("bill_payments", g.BILL_PAYMENT_BASE, books.bill_payment, books.bill_payments),
            "clients": static("clients", g.CLIENT_BASE, books.client, len(catalog.CLIENTS)),
            "bill_vendors": static("bill_vendors", g.VENDOR_BASE, books.vendor, len(catalog.VENDORS)),
            "items": static("items", g.ITEM_BASE, books.item, len(catalog.ITEMS)),
            "estimates": static("estimates", g.ESTIMATE_BASE, _never_generated, 0),
        }

    # ---- reading ----

    def today(self) -> Any:
        return times.eastern_date(self.now_us())

    def source(self, kind: str, ident: int) -> Record | None:
        with self.lock:
            coll = self.collections[kind]
            pos = coll.position(ident)
            return None if pos is None else coll.record(pos)

    def _children(self, parent_kind: str, parent_pos: int) -> list[Record]:
        child_kind, index = (("payments", self.books.invoices) if parent_kind == "invoices"
                             else ("bill_payments", self.books.bills))
        coll = self.collections[child_kind]
        positions: list[int] = []
        if parent_pos < self.collections[parent_kind].generated:
            first = index.first_child[parent_pos]
            positions.extend(range(first, first + index.children[parent_pos]))
        positions.extend(self._extra_children.get((parent_kind, parent_pos), ()))
        return [coll.record(p) for p in positions]

    def render(self, kind: str, pos: int, includes: frozenset[str] = frozenset()) -> Any:
        with self.lock:
            doc = self._render(kind, pos, includes)
            corruption = self._corrupted.get((kind, self.collections[kind].base_id + pos))
            return doc if corruption is None else corruption.apply(doc)

    def _render(self, kind: str, pos: int, includes: frozenset[str]) -> Record:
        with self.lock:
            record = self.collections[kind].record(pos)
            account = self.books.account_id
            if kind == "invoices":
                return render.invoice(record, self._children(kind, pos), account_id=account, today=self.today(),
                                      include_lines="lines" in includes)
            if kind == "bills":
                vendor = None
                if "vendor" in includes:
                    vendor = self.get("bill_vendors", record["vendorid"])
                return render.bill(record, self._children(kind, pos), today=self.today(), vendor=vendor)
            if kind == "payments":
                return render.payment(record, account_id=account)
            if kind == "bill_payments":
                return render.bill_payment(record)
            if kind == "clients":
                return render.client(record, account_id=account)
            if kind == "items":
                return render.item(record, account_id=account)
            if kind == "estimates":
                return render.estimate(record, account_id=account, include_lines="lines" in includes)
            return render.bill_vendor(record)

    def get(self, kind: str, ident: int, includes: frozenset[str] = frozenset()) -> Record | None:
        with self.lock:
            pos = self.collections[kind].position(ident)
            return None if pos is None else self.render(kind, pos, includes)

    def select(self, kind: str, query: Query) -> list[int]:
        """Positions matching ``query``, in its order (ascending id by default)."""
        with self.lock:
            key = (kind, query)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            coll = self.collections[kind]
            lo = query.updated_min_us if query.updated_min_us is not None else -(2**62)
            hi = query.updated_max_us if query.updated_max_us is not None else 2**62
            allowed = query.vis
            named = _named_positions(coll, query)
            if named is None:
                positions = [p for p, (v, s) in enumerate(zip(coll.vis, coll.stamps, strict=True))
                             if v in allowed and lo <= s < hi]
            else:
                positions = [p for p in named if coll.vis[p] in allowed and lo <= coll.stamps[p] < hi]
            if query.predicates:
                positions = [p for p in positions if query.accepts(self._render(kind, p, frozenset()))]
            if query.order is not None:
                by, descending = query.order
                if by == "stamp":
                    stamps = coll.stamps
                    positions.sort(key=lambda p: (stamps[p], p), reverse=descending)
                elif descending:
                    positions.reverse()
            if len(self._cache) >= self._CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = positions
            return positions

    def page(self, kind: str, query: Query, page: int, per_page: int,
             includes: frozenset[str] = frozenset()) -> tuple[list[Record], int]:
        with self.lock:
            positions = self.select(kind, query)
            chosen = positions[(page - 1) * per_page: page * per_page]
            return [self.render(kind, p, includes) for p in chosen], len(positions)

    # ---- fault injection ----

    def corrupt(self, kind: str, ident: int, corruption: Corruption) -> None:
        """Serve this record corrupted from now on (lists and single GETs), as a broken FreshBooks would."""
        with self.lock:
            if self.collections[kind].position(ident) is None:
                raise not_found(self.collections[kind].kind, ident)
            self._corrupted[(kind, ident)] = corruption
            self._changed()

    def uncorrupt(self, kind: str, ident: int) -> bool:
        with self.lock:
            found = self._corrupted.pop((kind, ident), None) is not None
            self._changed()
            return found

    # ---- writing ----

    def _context(self) -> writes.WriteContext:
        return writes.WriteContext(self.source, self.now_us(), self.today())

    def _changed(self) -> None:
        self._version += 1
        self._cache.clear()

    def _touch_parent(self, kind: str, record: Record) -> None:
        """A payment change moves its invoice's ``updated`` (bill payments leave the bill alone)."""
        if kind != "payments":
            return
        coll = self.collections["invoices"]
        pos = coll.position(record["invoiceid"])
        if pos is None:
            return
        invoice = copy.deepcopy(coll.record(pos))
        invoice["updated_us"] = invoice["version_us"] = self.now_us()
        coll.keep(pos, invoice)

    def create(self, kind: str, fields: Mapping[str, Any], includes: frozenset[str] = frozenset()
               ) -> tuple[Record, list[Event]]:
        with self.lock:
            coll = self.collections[kind]
            spec = coll.kind
            record = writes.new_record(spec, coll.base_id + len(coll), fields, self._context())
            pos = coll.append(record)
            if kind in ("payments", "bill_payments"):
                parent_kind, parent_field = (("invoices", "invoiceid") if kind == "payments"
                                             else ("bills", "billid"))
                parent_pos = self.collections[parent_kind].position(record[parent_field])
                assert parent_pos is not None  # validated by new_record
                self._extra_children.setdefault((parent_kind, parent_pos), []).append(pos)
            self._touch_parent(kind, record)
            self._changed()
            events = [(f"{spec.event}.create", record[spec.id_field])] if spec.event else []
            return self.render(kind, pos, includes), events

    def update(self, kind: str, ident: int, fields: Mapping[str, Any], includes: frozenset[str] = frozenset()
               ) -> tuple[Record, list[Event]]:
        """A PUT, in FreshBooks' phases: a body with ``vis_state``/``ext_vis_state`` changes only the
        visibility (every other field is dropped); then actions; then ordinary (partial) field updates."""
        with self.lock:
            coll = self.collections[kind]
            spec = coll.kind
            pos = coll.position(ident)
            if pos is None:
                raise not_found(spec, ident)
            record = copy.deepcopy(coll.record(pos))
            verb = "update"
            vis = writes.visibility(spec, fields)
            if vis is not None:
                if vis == 1 and record["vis_state"] != 1:
                    verb = "delete"
                record["vis_state"] = vis
            elif kind == "invoices" and fields.get("action_mark_as_sent"):
                if record["status"] == 1:
                    record.update({"status": 2, "sentid": 1})
            else:
                fixed = {name: fields[name] for name in ("invoiceid", "billid") if name in fields}
                if fixed:  # a payment stays with the document it pays
                    raise writes.FieldError(writes.INVALID_VALUE, next(iter(fixed)),
                                            f"{next(iter(fixed))} cannot be changed.", next(iter(fixed.values())),
                                            spec.singular)
                record = writes.apply_fields(spec, record, fields, self._context())
            now = self.now_us()
            record["updated_us"] = now
            if "version_us" in record:
                record["version_us"] = now
            coll.keep(pos, record)
            self._touch_parent(kind, record)
            self._changed()
            events = [(f"{spec.event}.{verb}", ident)] if spec.event else []
            return self.render(kind, pos, includes), events

    def delete(self, kind: str, ident: int) -> tuple[Record, list[Event]]:
        return self.update(kind, ident, {"vis_state": 1})


@dataclass(frozen=True)
class Corruption:
    """What a corrupted record is served as: the rendered record with ``fields`` set at their paths
    (``"updated"``, ``"lines[0].taxAmount1"``), or ``replace`` instead of the record when ``replaced``."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    replace: Any = None
    replaced: bool = False

    def apply(self, doc: Record) -> Any:
        if self.replaced:
            return copy.deepcopy(self.replace)
        out = copy.deepcopy(doc)
        for path, value in self.fields.items():
            _set_path(out, path, value)
        return out


def _set_path(doc: Any, path: str, value: Any) -> None:
    parts = [int(p) if p.isdigit() else p for p in path.replace("[", ".").replace("]", "").split(".") if p]
    if not parts:
        raise ValueError(f"path: got {path!r}; expected a field path such as 'updated' or 'lines[0].taxAmount1'")
    target = doc
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value


def not_found(kind: Kind, ident: Any) -> writes.FieldError:
    field_name = "invoiceid" if kind.name == "invoices" else kind.id_field
    return writes.FieldError(writes.UNKNOWN_RESOURCE, field_name, f"{kind.singular.replace('_', ' ').capitalize()}"
                             " not found.", ident, kind.singular, status=404)
