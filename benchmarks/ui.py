"""The Dagster UI from outside, as a person's browser sees it: a ``dagster-webserver`` on a free loopback port,
GraphQL queries against it, and page loads and screenshots with Debian's headless ``chromium``.

Used by ``benchmarks.lineage`` (timings). Every process
started here is stopped by the context manager that started it.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-dev-shm-usage")
# Virtual time stands still while the page has requests in flight, so a page "loads" when its GraphQL answers
# have arrived and rendered; the budget only bounds idle timers (polling), it is not waited for in real time.
VIRTUAL_TIME_BUDGET_MS = 20_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("headless Chromium is needed: apt-get install chromium")
    return found


@contextmanager
def webserver(target: Sequence[str], env: Mapping[str, str], cwd: Path | None = None,
              timeout: float = 180.0) -> Iterator[str]:
    """``dagster-webserver`` with ``target`` (e.g. ``-m module`` or ``-f file.py``) on a free port; yields its URL
    once it answers GraphQL with the code location loaded, and stops it on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(Path(env.get("DAGSTER_HOME", ".")) / "webserver.log", "w")  # closed in the finally below
    process = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port),
                                *target], env={**os.environ, **env}, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"dagster-webserver exited ({process.returncode}); see {log.name}")
            try:
                answer = graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { "
                                      "locationOrLoadError { __typename } } } } }")
                entries = answer["workspaceOrError"]["locationEntries"]
                if entries and all(e["locationOrLoadError"] for e in entries):
                    break
            except (requests.RequestException, KeyError, TypeError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dagster-webserver did not answer within {timeout:.0f}s; see {log.name}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def graphql(url: str, query: str, variables: Mapping[str, Any] | None = None) -> Any:
    response = requests.post(f"{url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=120)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def timed(action: Any, rounds: int) -> tuple[float, Any]:
    """Median seconds of ``action()`` over ``rounds``, and its last result."""
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def load_page(url: str, *, window: str = "1440,900") -> str:
    """The page's DOM once it has loaded (see ``VIRTUAL_TIME_BUDGET_MS``)."""
    done = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--window-size={window}",
                           f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=300, check=True)
    return done.stdout


def screenshot(url: str, path: Path, *, window: str = "1440,900") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--window-size={window}",
                    f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}", f"--screenshot={path}", url],
                   capture_output=True, timeout=300, check=True)
