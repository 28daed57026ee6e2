"""The Cleo Integration Cloud emulator: folders and files per trading partner, and the partners' 997s.

``CleoEmulator`` serves the proposed CIC ``/api`` shape (see ``emulator``) and can play each trading partner
(see ``acks``), including CIC's pick-up of uploads and what each partner received (see ``routing``). Imports
nothing of the connector's client, X12 or ledger code.
"""

from freshcleo_pipeline.sandbox.cleo.acks import AckRecord
from freshcleo_pipeline.sandbox.cleo.emulator import DEFAULT_PARTNERS_FILE, CleoEmulator
from freshcleo_pipeline.sandbox.cleo.routing import ReceivedInterchange

__all__ = ["DEFAULT_PARTNERS_FILE", "AckRecord", "CleoEmulator", "ReceivedInterchange"]
