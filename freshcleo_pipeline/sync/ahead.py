"""Reading one page ahead: a listing's next request runs in a thread while the current page is stored.

At the FreshBooks request budget (5 requests/s) a run is bounded by its requests only if nothing else waits for
them: without this, each page's storing (hashing, the ledger's writes) comes on top of the request's own time and
its wait for the budget. The thread spends its time in the network and in the budget's sleep, both outside the
interpreter lock.

Must not change what is read or in what order: the pages come out as the listing yields them, an error where the
listing raised it, and a consumer that stops early (an error while storing) stops the thread after the request
under way. At most two pages are held beyond the one being stored (one handed over, one being read).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

#: How long the thread waits between checks that the consumer still wants pages.
_POLL_SECONDS = 0.1
#: How long a consumer that stopped early waits for the thread's request under way; a thread still busy after it
#: (a long retry back-off) ends on its own when that request returns, as it is a daemon that only reads.
_JOIN_SECONDS = 2.0

_ITEM, _DONE, _ERROR = "item", "done", "error"


def read_ahead(pages: Iterator[T], name: str = "freshcleo-read-ahead") -> Generator[T, None, None]:
    """``pages``, each read while the one before it is being used."""
    handoff: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(tag: str, value: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put((tag, value), timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not hand_over(_ITEM, page):
                    return
            hand_over(_DONE, None)
        except BaseException as exc:  # noqa: BLE001  re-raised in the consumer, where the listing was read
            hand_over(_ERROR, exc)
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()  # a generator is closed in the thread that ran it

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            tag, value = handoff.get()
            if tag == _ITEM:
                yield cast(T, value)
            elif tag == _ERROR:
                assert isinstance(value, BaseException)
                raise value
            else:
                return
    finally:
        stop.set()
        thread.join(_JOIN_SECONDS)
