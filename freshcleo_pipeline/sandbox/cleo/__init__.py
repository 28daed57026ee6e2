"""The Cleo Integration Cloud emulator: folders and files per trading partner, and the partners' 997s.

``CleoEmulator`` serves the proposed CIC ``/api`` shape (see ``emulator``) and can play each trading partner
(see ``acks``), including CIC's pick-up of uploads and what each partner received (see ``routing``), the
partners' own 850s, 810s and 820s (``partner_documents``), suppliers invoicing our 850s (``partner_play``) and the
documents partners send about the sandbox's books (``partner_traffic``). Imports nothing of the connector's
client, X12 or ledger code.
"""

from freshcleo_pipeline.sandbox.cleo.acks import AckRecord
from freshcleo_pipeline.sandbox.cleo.emulator import DEFAULT_PARTNERS_FILE, CleoEmulator
from freshcleo_pipeline.sandbox.cleo.partner_documents import DocumentLine, RemittanceItem
from freshcleo_pipeline.sandbox.cleo.partner_play import DEFAULT_ANSWER_MIX, SupplierAnswer, answer_variant_for
from freshcleo_pipeline.sandbox.cleo.partner_traffic import PartnerInvoice, SeededDocument
from freshcleo_pipeline.sandbox.cleo.routing import ReceivedInterchange

__all__ = ["DEFAULT_ANSWER_MIX", "DEFAULT_PARTNERS_FILE", "AckRecord", "CleoEmulator", "DocumentLine", "PartnerInvoice",
           "ReceivedInterchange", "RemittanceItem", "SeededDocument", "SupplierAnswer", "answer_variant_for"]
