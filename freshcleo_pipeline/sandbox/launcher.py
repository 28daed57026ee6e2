"""Starting both emulators together, seeded, on the ports the settings expect (or free ones)."""

from __future__ import annotations

import datetime as dt
import errno
from dataclasses import dataclass
from pathlib import Path

from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline.sandbox.freshbooks.emulator import FreshBooksEmulator, day_anchor


@dataclass
class Sandbox:
    freshbooks: FreshBooksEmulator
    cleo: CleoEmulator

    def stop(self) -> None:
        self.freshbooks.stop()
        self.cleo.stop()


def start_sandbox(*, partners_file: Path, freshbooks_port: int = 0, cleo_port: int = 0, seed: int = 7,
                  invoices: int = 240, days: float = 10.0, ack_delay: float = 0.0, redirect_uris: tuple[str, ...] = (),
                  webhook_delay: float = 1.0, host: str = "127.0.0.1",
                  anchor: dt.datetime | None = None, pickup_delay: float | None = 3.0) -> Sandbox:
    """Both emulators serving on loopback. A port already in use raises ``OSError`` naming it."""
    # The books end at the start of today (UTC) unless ``anchor`` says otherwise: every start on one day serves the
    # same documents, so a repeated demo finds nothing new to deliver.
    books_anchor = anchor or day_anchor(dt.datetime.now(dt.UTC))
    freshbooks = (FreshBooksEmulator(seed=seed, invoices=invoices, days=days, webhook_delay=webhook_delay,
                                     redirect_uris=redirect_uris, anchor=books_anchor) if redirect_uris else
                  FreshBooksEmulator(seed=seed, invoices=invoices, days=days, webhook_delay=webhook_delay,
                                     anchor=books_anchor))
    # ``pickup_delay``: seconds before Cleo consumes an uploaded file, as CIC routes uploads on; None = files stay.
    cleo = CleoEmulator(partners_file, ack_delay=ack_delay, seed=seed, pickup_delay=pickup_delay)
    for emulator, port in ((freshbooks, freshbooks_port), (cleo, cleo_port)):
        try:
            emulator.start(host, port)
        except OSError as exc:
            freshbooks.stop()
            cleo.stop()
            if exc.errno == errno.EADDRINUSE:
                raise OSError(exc.errno, f"port {port} on {host} is in use (is another sandbox running?)") from None
            raise
    return Sandbox(freshbooks, cleo)
