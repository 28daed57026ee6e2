"""Command families of the ``freshcleo`` CLI, one module each."""

from __future__ import annotations

import importlib

import click

# Modules listed here each expose a click command or group under the attribute of the same name.
_MODULES = ("db", "sandbox", "edi", "connect", "ping", "webhooks", "pipeline", "quarantine", "matches", "report")


def _load() -> list[click.Command]:
    commands: list[click.Command] = []
    for name in _MODULES:
        try:
            module = importlib.import_module(f"freshcleo_pipeline.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"freshcleo_pipeline.commands.{name}":
                continue
            raise
        commands.extend(getattr(module, "COMMANDS", []))
    return commands


COMMANDS = _load()
