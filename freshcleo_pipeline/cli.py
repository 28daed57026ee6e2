"""The ``freshcleo`` command: one group assembling the command modules under ``commands/``.

Each module there owns one family of commands; this file only wires them together and turns the product's
typed errors into one clear line and a non-zero exit status instead of a traceback.
"""

from __future__ import annotations

import logging
import sys

import click

from freshcleo_pipeline.commands import COMMANDS
from freshcleo_pipeline.errors import FreshcleoError


class _Main(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FreshcleoError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Main)
@click.option("-v", "--verbose", is_flag=True, help="Log each step.")
def main(verbose: bool) -> None:
    """freshcleo: FreshBooks documents to Cleo Integration Cloud as X12 EDI."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for _command in COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":
    main()
