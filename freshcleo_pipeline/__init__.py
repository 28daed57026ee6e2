"""freshcleo: FreshBooks invoices, bills and payments delivered to Cleo Integration Cloud as ANSI X12 EDI."""

__version__ = "0.1.0"
