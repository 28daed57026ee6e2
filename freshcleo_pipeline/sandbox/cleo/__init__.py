"""The Cleo Integration Cloud emulator: folders and files per trading partner, and the partners' 997s.

``CleoEmulator`` serves the proposed CIC ``/api`` shape (see ``emulator``) and can play each trading partner
(see ``acks``). Imports nothing of the connector's client, X12 or ledger code.
"""

from freshcleo_pipeline.sandbox.cleo.acks import AckRecord
from freshcleo_pipeline.sandbox.cleo.emulator import DEFAULT_PARTNERS_FILE, CleoEmulator

__all__ = ["DEFAULT_PARTNERS_FILE", "AckRecord", "CleoEmulator"]
