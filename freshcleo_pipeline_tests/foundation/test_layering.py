"""SQL lives in ``ledger/`` only: no module outside it imports SQLAlchemy or the ledger's tables.

Read from the source (not by importing it), so a lazy import inside a function counts too. A connection passed
along is annotated with ``freshcleo_pipeline.ledger.Connection``, which is why no exception is needed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import freshcleo_pipeline

PACKAGE = Path(freshcleo_pipeline.__file__).parent
LEDGER = PACKAGE / "ledger"
FORBIDDEN = ("sqlalchemy", "freshcleo_pipeline.ledger.schema")

#: Modules outside ``ledger/`` still allowed a forbidden import (path relative to the package → module).
ALLOWED: dict[str, str] = {}


def _is_forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f"{f}.") for f in FORBIDDEN)


def _forbidden_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if _is_forbidden(alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module:
            if _is_forbidden(node.module):
                found.add(node.module)
            # ``from freshcleo_pipeline.ledger import schema`` names the module through its parent.
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in FORBIDDEN)
    return found


def _outside_ledger() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if LEDGER not in p.parents)


def test_only_the_ledger_imports_sqlalchemy_or_its_tables() -> None:
    offenders: dict[str, list[str]] = {}
    for path in _outside_ledger():
        relative = path.relative_to(PACKAGE).as_posix()
        found = _forbidden_imports(path) - ({ALLOWED[relative]} if relative in ALLOWED else set())
        if found:
            offenders[relative] = sorted(found)
    assert offenders == {}, "move these queries into a freshcleo_pipeline.ledger module: " + repr(offenders)


def test_the_check_sees_what_it_forbids(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from sqlalchemy import select\nfrom freshcleo_pipeline.ledger import schema\n"
                      "def f():\n    import sqlalchemy.orm\n", encoding="utf-8")
    assert _forbidden_imports(sample) == {"sqlalchemy", "freshcleo_pipeline.ledger.schema", "sqlalchemy.orm"}


def test_the_walk_covers_the_package_but_not_the_ledger() -> None:
    walked = {p.relative_to(PACKAGE).as_posix() for p in _outside_ledger()}
    assert {"sync/trace.py", "sync/reconcile.py", "commands/pipeline.py", "defs/edi.py"} <= walked
    assert not any(name.startswith("ledger/") for name in walked)
    assert set(ALLOWED) <= walked  # an allowance for a module that is gone is stale
