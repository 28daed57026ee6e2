"""The sync stages as plain Python: extract → normalize and route → render X12 → deliver to Cleo → inbound.

Each stage is a function of a ``SyncContext`` and the partition days it covers, writes its results to the
ledger and returns a summary. The Dagster layer (``defs/``) calls these functions and turns summaries into
materialization metadata; the CLI and the tests call them the same way. No Dagster here.
"""
