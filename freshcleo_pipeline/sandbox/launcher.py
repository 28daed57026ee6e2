"""Starting both emulators together, seeded, on the ports the settings expect (or free ones).

Owns the sandbox as one thing: the FreshBooks books and the Cleo tenant from one seed and one clock anchor, the
suppliers answering our 850s with 810s (``supplier_answers``, see ``cleo.partner_play``), and, with
``partner_traffic``, the partners' own documents about those books placed in their inbound folders before anyone
polls (see ``cleo.partner_traffic``): the one place that reads the FreshBooks emulator's data on Cleo's behalf,
in-process, so the Cleo emulator itself never depends on FreshBooks shapes.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from freshcleo_pipeline.sandbox.cleo import CleoEmulator
from freshcleo_pipeline.sandbox.cleo.partner_documents import DocumentLine
from freshcleo_pipeline.sandbox.cleo.partner_traffic import PartnerInvoice, SeededDocument
from freshcleo_pipeline.sandbox.freshbooks.catalog import ITEMS
from freshcleo_pipeline.sandbox.freshbooks.emulator import FreshBooksEmulator, day_anchor
from freshcleo_pipeline.sandbox.freshbooks.store import Query

_SKU = {item.name: item.sku for item in ITEMS}
#: The seed of the sandbox's books unless told otherwise.
SANDBOX_SEED = 7
#: How many days of history the sandbox's books hold before their anchor, unless told otherwise.
SANDBOX_BOOK_DAYS = 10.0
#: Where a data folder keeps the clock its sandbox books were generated at, per seed.
ANCHOR_FILE = "sandbox-books.json"


def books_anchor(data_dir: Path, seed: int, now: dt.datetime | None = None) -> dt.datetime:
    """The moment the sandbox books of ``seed`` end, fixed for this data folder at its first sandbox start.

    The generated books are a function of the seed and this anchor; keeping the anchor with the ledger it feeds
    (same data folder) means a demo tomorrow or next month is served the very books it already delivered, so it
    sends nothing again. A new data folder (``make clean``) starts a new book at the start of the current UTC
    day. An unreadable file is replaced, never trusted."""
    path = data_dir / ANCHOR_FILE
    known: dict[str, Any] = {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        known = loaded if isinstance(loaded, dict) else {}
        return dt.datetime.fromisoformat(known[str(seed)]).astimezone(dt.UTC)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    anchor = day_anchor(now or dt.datetime.now(dt.UTC))
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**known, str(seed): anchor.isoformat()}, indent=1), encoding="utf-8")
    return anchor


@dataclass
class Sandbox:
    freshbooks: FreshBooksEmulator
    cleo: CleoEmulator
    #: The partners' documents placed at start (empty without ``partner_traffic``); also in ``/_sandbox/stats``.
    seeded_partner_documents: list[SeededDocument] = field(default_factory=list)

    def stop(self) -> None:
        self.freshbooks.stop()
        self.cleo.stop()


def start_sandbox(*, partners_file: Path, freshbooks_port: int = 0, cleo_port: int = 0, seed: int = SANDBOX_SEED,
                  invoices: int = 240, days: float = SANDBOX_BOOK_DAYS, ack_delay: float = 0.0,
                  redirect_uris: tuple[str, ...] = (), webhook_delay: float = 1.0, host: str = "127.0.0.1",
                  anchor: dt.datetime | None = None, pickup_delay: float | None = 3.0,
                  partner_traffic: bool = True, supplier_answers: bool = True) -> Sandbox:
    """Both emulators serving on loopback. A port already in use raises ``OSError`` naming it.

    ``partner_traffic``: the partners' own 850s, 820s and 810s about the books, dated at the books' anchor, are in
    their inbound folders before this returns; ``supplier_answers``: suppliers invoice the 850s they receive."""
    # The books end at the start of today (UTC) unless ``anchor`` says otherwise (the CLI passes the data folder's
    # ``books_anchor``, so every start on that folder serves the same documents and a repeated demo, even days
    # later, finds nothing new to deliver).
    books_anchor = anchor or day_anchor(dt.datetime.now(dt.UTC))
    freshbooks = (FreshBooksEmulator(seed=seed, invoices=invoices, days=days, webhook_delay=webhook_delay,
                                     redirect_uris=redirect_uris, anchor=books_anchor) if redirect_uris else
                  FreshBooksEmulator(seed=seed, invoices=invoices, days=days, webhook_delay=webhook_delay,
                                     anchor=books_anchor))
    # ``pickup_delay``: seconds before Cleo consumes an uploaded file, as CIC routes uploads on; None = files stay.
    cleo = CleoEmulator(partners_file, ack_delay=ack_delay, seed=seed, pickup_delay=pickup_delay,
                        supplier_answers=supplier_answers)
    for emulator, port in ((freshbooks, freshbooks_port), (cleo, cleo_port)):
        try:
            emulator.start(host, port)
        except OSError as exc:
            freshbooks.stop()
            cleo.stop()
            if exc.errno == errno.EADDRINUSE:
                raise OSError(exc.errno, f"port {port} on {host} is in use (is another sandbox running?)") from None
            raise
    running = Sandbox(freshbooks, cleo)
    if partner_traffic:
        try:
            running.seeded_partner_documents = cleo.seed_partner_traffic(
                partner_invoices(freshbooks, cleo), seed=seed, when=books_anchor)
        except Exception:
            running.stop()
            raise
    return running


def partner_invoices(freshbooks: FreshBooksEmulator, cleo: CleoEmulator) -> dict[str, list[PartnerInvoice]]:
    """Each customer partner's invoices as the partner knows them: those of the FreshBooks clients its
    organization names match, neither deleted nor drafts, with their lines (SKU from the catalog by item name)."""
    found: dict[str, list[PartnerInvoice]] = {}
    for partner in cleo.config.partners:
        if partner.role != "customer":
            continue
        invoices: list[PartnerInvoice] = []
        for organization in partner.organizations:
            try:
                client = freshbooks.client_id_of(organization)
            except KeyError:
                continue  # a partner the books do not know sends nothing about them
            query = Query(vis=frozenset({0}), predicates=(("customerid", "in", (str(client),)),))
            for position in freshbooks.store.select("invoices", query):
                invoice = freshbooks.store.render("invoices", position, frozenset({"lines"}))
                if invoice.get("v3_status") != "draft":
                    invoices.append(_partner_invoice(invoice))
        found[partner.id] = invoices
    return found


def _partner_invoice(invoice: dict[str, Any]) -> PartnerInvoice:
    lines = tuple(DocumentLine(str(line["qty"]), "EA", str(line["unit_cost"]["amount"]), _SKU.get(line["name"], ""),
                               str(line["name"])) for line in invoice.get("lines") or ())
    return PartnerInvoice(str(invoice["invoice_number"]), str(invoice.get("po_number") or ""),
                          Decimal(invoice["amount"]["amount"]), Decimal(invoice["outstanding"]["amount"]), lines)
