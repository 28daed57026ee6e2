"""Reading a listing one page ahead: the next request overlaps the storing of the current page, and nothing
about what is read, its order or its errors changes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from freshcleo_pipeline.sync.ahead import read_ahead


def _alive(name: str) -> bool:
    return any(t.name == name and t.is_alive() for t in threading.enumerate())


def test_the_next_page_is_read_while_the_current_one_is_used() -> None:
    asked_for_second = threading.Event()

    def pages() -> Iterator[int]:
        yield 1
        asked_for_second.set()
        yield 2

    reader = read_ahead(pages())
    assert next(reader) == 1
    # The consumer still holds page 1: the read of page 2 has begun without it.
    assert asked_for_second.wait(5)
    assert list(reader) == [2]


def test_pages_come_in_order_and_an_error_where_the_listing_raised_it() -> None:
    def pages() -> Iterator[int]:
        yield from range(5)
        raise ValueError("page 6: 503 after the retries")

    got: list[int] = []
    with pytest.raises(ValueError, match="page 6"):
        for page in read_ahead(pages()):
            got.append(page)
    assert got == [0, 1, 2, 3, 4]


def test_a_consumer_that_stops_early_stops_the_reading() -> None:
    closed = threading.Event()
    served: list[int] = []

    def pages() -> Iterator[int]:
        try:
            for n in range(1000):
                served.append(n)
                yield n
        finally:
            closed.set()

    name = "read-ahead-under-test"
    with pytest.raises(RuntimeError):
        for page in read_ahead(pages(), name=name):
            if page == 3:
                raise RuntimeError("storing page 3 failed")
    assert closed.wait(5), "the listing was not closed"
    assert not _alive(name)
    assert len(served) <= 6  # page 3, one handed over, one being read, and no more
