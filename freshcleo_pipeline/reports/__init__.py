"""Reports for people outside engineering, built from the ledger with pandas: the monthly reconciliation
(``reconciliation.py``: the tables and the rules of what counts where; ``files.py``: CSV, Excel and HTML).

No Dagster and no SQL here: the ledger's reads live in ``ledger/``; the CLI (``commands/report.py``) and the
asset (``defs/reports.py``) call ``monthly_reconciliation`` and ``files.write``.
"""
