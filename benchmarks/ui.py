"""The Dagster UI from outside, as a person's browser sees it: a ``dagster-webserver`` on a free loopback port,
GraphQL queries against it, and page loads and screenshots with Debian's headless ``chromium``.

Used by ``benchmarks.lineage`` (timings) and ``benchmarks.screenshots`` (the README's images, through
``browser``: a tab driven over the DevTools protocol where a page needs a search typed or a button clicked).
Every process started here is stopped by the context manager that started it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
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
        _stop(process)
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


class Page:
    """One headless Chromium tab driven over the DevTools protocol, for pages that need a click or a typed
    search before the capture (``--screenshot`` alone only loads a URL). Speaks to Chromium through the
    ``websockets`` client that ``dagster-webserver`` already installs (``uvicorn[standard]``)."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._next_id = 0

    def send(self, method: str, **params: Any) -> Any:
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:  # events arrive in between; only the answer to this command is wanted
            message = json.loads(self._socket.recv(timeout=120))
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]!r}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, what: str = "") -> None:
        """Until ``expression`` is truthy in the page (GraphQL answers arrive and React renders)."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise RuntimeError(f"page {self.evaluate('location.href')}: {what or expression} not seen "
                                   f"within {timeout:.0f}s")
            time.sleep(0.25)

    def goto(self, url: str, ready: str, timeout: float = 60.0) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'", timeout)
        self.wait_for(ready, timeout)

    def type_text(self, selector: str, text: str) -> None:
        """Focus ``selector`` and type ``text`` as keystrokes would, so React's handlers see it."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def _find(self, text: str, selector: str, index: int, then: str) -> Any:
        """Run ``then`` (JavaScript on ``el``) on the ``index``-th (document order; negative from the end) innermost
        visible ``selector`` element whose text is ``text``."""
        return self.evaluate(f"""(() => {{
            const all = [...document.querySelectorAll({json.dumps(selector)})]
                .filter(e => e.innerText && e.innerText.trim() === {json.dumps(text)} && e.getClientRects().length);
            const inner = all.filter(e => ![...e.children].some(c => all.includes(c)));
            const el = inner.at({index});
            if (!el) return null;
            {then} }})()""")

    def click_text(self, text: str, selector: str = "*", index: int = 0) -> None:
        """Click, with the mouse as a person would, on the ``index``-th element showing ``text`` (menus in the UI
        answer to mouse events, not to ``element.click()``)."""
        box = self._find(text, selector, index, """el.scrollIntoView({block: "nearest"});
            const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];""")
        if not box:
            raise RuntimeError(f"nothing showing {text!r} on {self.evaluate('location.href')}")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def scroll_to_text(self, text: str, selector: str = "*", index: int = 0) -> None:
        """Scroll the element showing ``text`` to the top of the window."""
        if not self._find(text, selector, index, 'el.scrollIntoView({block: "start"}); return true;'):
            raise RuntimeError(f"nothing showing {text!r} on {self.evaluate('location.href')}")

    def settle(self, seconds: float = 1.5) -> None:
        """Let transitions and charts finish drawing; the conditions above say the data is there."""
        time.sleep(seconds)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))


@contextmanager
def browser(width: int = 1600, height: int = 1000) -> Iterator[Page]:
    """A headless Chromium on a fresh profile with DevTools on a free port; yields its first tab and stops the
    browser (by its pid) on exit."""
    from websockets.sync.client import connect

    with tempfile.TemporaryDirectory(prefix="freshcleo-chromium-") as profile:
        process = subprocess.Popen([chromium(), *CHROMIUM_FLAGS, f"--window-size={width},{height}",
                                    f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                    "--no-first-run", "--remote-allow-origins=*", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            active = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 60
            while not (active.exists() and active.read_text().count("\n") >= 1):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chromium did not open its DevTools port (exit {process.poll()})")
                time.sleep(0.1)
            port = active.read_text().split("\n")[0]
            targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            tab = next(t for t in targets if t["type"] == "page")
            with connect(tab["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as socket:
                page = Page(socket)
                page.send("Page.enable")
                page.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                          mobile=False)
                yield page
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[Any]) -> None:
    """Terminate, then kill a process that does not end within 20 s; always reaped."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
