"""The FreshBooks emulator: OAuth, identity, accounting reads and writes, webhooks, and a sandbox control API.

Start it with ``FreshBooksEmulator(seed=…, invoices=…).start()`` and point the client at ``.url``. See
``emulator.py`` for the behaviour chosen where FreshBooks' documentation is silent.
"""

from freshcleo_pipeline.sandbox.freshbooks.emulator import FreshBooksEmulator

__all__ = ["FreshBooksEmulator"]
