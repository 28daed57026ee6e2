"""``freshcleo edi``: render one FreshBooks document as an interchange, and validate interchange files.

Owns the command-line glue only: reading files, turning a partner from partners.yaml into X12 envelope
parameters, reading the clock for ISA09/ISA10 (the X12 package never does), and printing. The work is done by
``freshbooks.normalize`` (API shape → document) and ``x12`` (document → X12, validation).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from freshcleo_pipeline.documents import DocumentKind
from freshcleo_pipeline.errors import DataError
from freshcleo_pipeline.partners import load_partners
from freshcleo_pipeline.settings import get_settings
from freshcleo_pipeline.sync.render import envelope_for
from freshcleo_pipeline.x12 import Charset, render_interchange, validate_interchange

_KINDS = {"invoice": DocumentKind.INVOICE, "bill": DocumentKind.BILL, "payment": DocumentKind.PAYMENT,
          "bill-payment": DocumentKind.BILL_PAYMENT}
# Keys FreshBooks uses for the object inside ``response.result`` (singular for one document).
_RESULT_KEYS = {DocumentKind.INVOICE: ("invoice",), DocumentKind.BILL: ("bill",),
                DocumentKind.PAYMENT: ("payment",), DocumentKind.BILL_PAYMENT: ("bill_payment", "bill_payments")}
_LOOKUP_KEYS = ("clients", "vendors", "items", "invoices", "bills")


def unwrap(payload: Any, kind: DocumentKind) -> dict[str, Any]:
    """The document object from a file holding the API response, its ``result``, or the object itself."""
    if isinstance(payload, dict) and isinstance(payload.get("response"), dict):
        payload = payload["response"].get("result", payload["response"])
    if isinstance(payload, dict):
        for key in _RESULT_KEYS[kind]:
            if isinstance(payload.get(key), dict):
                return dict(payload[key])
        return dict(payload)
    raise DataError("input", "document", type(payload).__name__, "a JSON object (FreshBooks response.result)")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(str(path), what, "<unreadable>", f"a readable JSON file ({exc})") from None


@click.group(name="edi")
def edi() -> None:
    """Render and validate X12 interchanges."""


@edi.command()
@click.option("--kind", "kind_name", type=click.Choice(sorted(_KINDS)), required=True,
              help="Which FreshBooks document the input holds.")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The document as the FreshBooks API returns it (the object inside response.result).")
@click.option("--partner", "partner_id", required=True, help="Partner id from partners.yaml.")
@click.option("--control-number", type=click.IntRange(1, 999999999), default=1, show_default=True,
              help="Used for ISA13, GS06 and ST02.")
@click.option("--lookups", "lookups_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON with the lists normalization may need: clients, vendors, items, invoices, bills.")
def render(kind_name: str, input_path: str, partner_id: str, control_number: int, lookups_path: str | None) -> None:
    """Print one complete interchange for a FreshBooks document."""
    # Imported here: the FreshBooks layer is only needed by this command.
    from freshcleo_pipeline.freshbooks.normalize import NormalizeContext, normalize, party_from_company

    kind = _KINDS[kind_name]
    directory = load_partners(get_settings().resolved_partners_file())
    partner = directory.get(partner_id)
    raw = unwrap(_read_json(Path(input_path), "document"), kind)
    lookups: dict[str, Any] = _read_json(Path(lookups_path), "lookups") if lookups_path else {}
    ctx = NormalizeContext.build(
        str(raw.get("accountid") or lookups.get("account_id") or "cli"), party_from_company(directory.company),
        **{key: lookups.get(key, []) for key in _LOOKUP_KEYS},
    )
    now = dt.datetime.now(dt.UTC)
    document, warnings = normalize(kind, raw, ctx, observed_at=now)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    result = render_interchange([document], envelope_for(directory.company, partner),
                                interchange_control_number=control_number, group_control_number=control_number,
                                set_control_numbers=[control_number], date=now.date(), time=now.time())
    for adjustment in result.adjustments:
        click.echo(f"adjusted {adjustment.field} ({adjustment.element}): {adjustment.original!r} -> "
                   f"{adjustment.result!r} [{', '.join(r.value for r in adjustment.reasons)}]", err=True)
    click.echo(result.text)


@edi.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--charset", type=click.Choice([c.value for c in Charset]), default=Charset.EXTENDED.value,
              show_default=True, help="The character set agreed with the partner.")
def validate(files: tuple[str, ...], charset: str) -> None:
    """Check interchange files; print every finding and exit non-zero if there is any."""
    failed = False
    for name in files:
        text = Path(name).read_text(encoding="utf-8", errors="replace")
        errors = validate_interchange(text, charset=charset)
        if not errors:
            click.echo(f"{name}: valid")
            continue
        failed = True
        for error in errors:
            where = f"segment {error.interchange_position}" if error.interchange_position else "interchange"
            element = f" element {error.element_position:02d}" if error.element_position else ""
            code = f" (997 code {error.code})" if error.code else ""
            click.echo(f"{name}: {where} {error.segment_id}{element}: [{error.check.value}]{code} "
                       f"{error.message}")
    if failed:
        sys.exit(1)


COMMANDS = [edi]
