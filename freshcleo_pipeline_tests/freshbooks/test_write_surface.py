"""The write surface to FreshBooks stays narrow: the reading client cannot write, the writer has exactly the five
allowed writes, and no other module of the product sends POST/PUT/DELETE to FreshBooks' accounting API.

Checked on the source (AST), so a write added anywhere fails here before it can reach FreshBooks. Excluded from
the module scan: ``sandbox/`` (the emulators answer writes; they do not send them) and ``freshbooks/writer.py``
itself. ``freshbooks/webhooks.py`` writes too, but to the events API (callback registration under
``/events/account/…``), never to accounting paths: it is scanned like every module, and its writes are checked
to go to the events API.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import freshcleo_pipeline
from freshcleo_pipeline.freshbooks import client as client_module
from freshcleo_pipeline.freshbooks import writer as writer_module
from freshcleo_pipeline.freshbooks.client import FreshBooksClient
from freshcleo_pipeline.freshbooks.writer import FreshBooksWriter

PACKAGE = Path(freshcleo_pipeline.__file__).parent
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
ALLOWED_WRITES = {"create_bill", "create_estimate", "create_draft_invoice", "create_bill_vendor", "create_client"}
WRITE_VERBS = ("create", "update", "delete", "archive", "restore", "send", "post", "put", "patch", "write", "mark",
               "set_", "pay", "void", "apply")
#: Receivers whose .post/.put/.delete/.patch is an HTTP call (``quarantine.put`` is a ledger function).
HTTP_RECEIVERS = ("http", "session", "requests", "client")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _receiver(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _receiver(node.func)
    return ""


def write_calls(tree: ast.AST) -> list[ast.Call]:
    """HTTP calls with a write method: ``x.request("POST", …)``/``request(method="PUT")`` and
    ``http.post(…)``-style calls on an HTTP-ish receiver."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        if name == "request":
            method = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "method"), None)
            if isinstance(method, ast.Constant) and str(method.value).upper() in WRITE_METHODS:
                found.append(node)
        elif name in ("post", "put", "delete", "patch") and any(
                r in _receiver(node.func.value).lower() for r in HTTP_RECEIVERS):
            found.append(node)
    return found


def _constants(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


# ---- the reading client ----

def test_the_reading_client_issues_no_write() -> None:
    tree = _tree(Path(inspect.getfile(client_module)))
    assert write_calls(tree) == []
    assert not (_constants(tree) & WRITE_METHODS), "client.py names an HTTP write method"
    methods = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and n.func.attr == "request"]
    assert methods and all(isinstance(m.args[0], ast.Constant) and m.args[0].value == "GET" for m in methods)


def test_the_reading_client_has_no_write_method() -> None:
    public = {name for name, _ in inspect.getmembers(FreshBooksClient, callable) if not name.startswith("_")}
    assert not {name for name in public if name.startswith(WRITE_VERBS)}, public


# ---- the writer ----

def test_the_writer_has_exactly_the_five_allowed_writes() -> None:
    public = {name for name, _ in inspect.getmembers(FreshBooksWriter, callable) if not name.startswith("_")}
    lookups = {name for name in public if name.startswith("find_")}
    assert lookups == {"find_bill", "find_estimate", "find_invoice", "find_bill_vendor", "find_client"}
    assert public - lookups - {"from_client", "from_settings", "close"} == ALLOWED_WRITES


def test_the_writer_posts_in_one_place_and_never_puts_or_deletes() -> None:
    tree = _tree(Path(inspect.getfile(writer_module)))
    calls = write_calls(tree)
    assert len(calls) == 1 and isinstance(calls[0].args[0], ast.Constant) and calls[0].args[0].value == "POST"
    assert not (_constants(tree) & {"PUT", "DELETE", "PATCH"})
    for name in ALLOWED_WRITES:
        assert "self._create(WRITES[" in inspect.getsource(getattr(FreshBooksWriter, name))


# ---- every other module ----

def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if "sandbox" not in p.relative_to(PACKAGE).parts and p != Path(inspect.getfile(writer_module)))


def test_no_other_module_writes_to_freshbooks_accounting() -> None:
    offenders = []
    for path in _modules():
        tree = _tree(path)
        if not write_calls(tree):
            continue
        if any("accounting" in text for text in _constants(tree)) or "/accounting/" in path.read_text("utf-8"):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == [], f"only freshbooks/writer.py may write to FreshBooks accounting: {offenders}"


def test_the_scan_sees_writes_where_they_are() -> None:
    writers = {str(p.relative_to(PACKAGE)) for p in _modules() if write_calls(_tree(p))}
    # the token endpoint, Cleo, and FreshBooks' webhook callbacks: the scan must notice them to be worth anything
    assert {"freshbooks/oauth.py", "freshbooks/webhooks.py", "cleo/client.py"} <= writers


def test_webhook_registration_writes_only_to_the_events_api() -> None:
    path = PACKAGE / "freshbooks" / "webhooks.py"
    source = path.read_text(encoding="utf-8")
    assert write_calls(_tree(path))
    assert "/events/account/" in source and "/accounting/" not in source
