"""The sandbox's books are fixed per data folder: a demo days later is served the books it already delivered."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from freshcleo_pipeline.sandbox.freshbooks import FreshBooksEmulator
from freshcleo_pipeline.sandbox.freshbooks.store import Query
from freshcleo_pipeline.sandbox.launcher import ANCHOR_FILE, books_anchor

FIRST_START = dt.datetime(2026, 11, 27, 14, 5, tzinfo=dt.UTC)


def _invoices(anchor: dt.datetime) -> list[object]:
    books = FreshBooksEmulator(seed=7, invoices=30, days=10, anchor=anchor)
    try:
        return [books.store.render("invoices", position, frozenset({"lines"}))
                for position in books.store.select("invoices", Query(vis=frozenset({0, 1, 2})))]
    finally:
        books.stop()


def test_the_anchor_is_kept_with_the_data_folder_per_seed(tmp_path: Path) -> None:
    first = books_anchor(tmp_path, 7, FIRST_START)
    assert first == dt.datetime(2026, 11, 27, tzinfo=dt.UTC)  # the start of that UTC day
    later = FIRST_START + dt.timedelta(days=3, hours=5)
    assert books_anchor(tmp_path, 7, later) == first  # three days later: the same books
    assert books_anchor(tmp_path, 8, later) == dt.datetime(2026, 11, 30, tzinfo=dt.UTC)  # another seed, its own
    assert books_anchor(tmp_path, 7, later) == first
    assert books_anchor(tmp_path / "fresh", 7, later) != first  # a new data folder starts a new book


def test_an_unreadable_anchor_file_is_replaced_not_trusted(tmp_path: Path) -> None:
    (tmp_path / ANCHOR_FILE).write_text("{not json", encoding="utf-8")
    anchor = books_anchor(tmp_path, 7, FIRST_START)
    assert anchor == dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    assert json.loads((tmp_path / ANCHOR_FILE).read_text(encoding="utf-8")) == {"7": anchor.isoformat()}


def test_the_same_anchor_serves_the_same_books_whenever_started(tmp_path: Path) -> None:
    anchor = books_anchor(tmp_path, 7, FIRST_START)
    again = books_anchor(tmp_path, 7, FIRST_START + dt.timedelta(days=2))
    assert _invoices(anchor) == _invoices(again)
    assert _invoices(anchor) != _invoices(anchor + dt.timedelta(days=1))  # what a moving anchor would do
