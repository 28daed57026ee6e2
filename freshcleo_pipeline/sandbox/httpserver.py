"""The HTTP machinery both emulators share: routing, request counters, fault injection, a threaded server.

Owns how an emulator is served on loopback and how faults are injected; knows nothing of FreshBooks or Cleo.
Emulators subclass ``Emulator`` and register routes with path templates; the counters are keyed by the
template so tests can read "how many invoice list requests" without caring about ids.

Faults (``POST /_sandbox/faults``, or ``Emulator.faults.add`` in-process), each for the next N matching
requests or at a rate, optionally limited to a path prefix:
- ``status``: answer with that status without handling the request (429 carries ``Retry-After``);
- ``reset``: drop the connection without handling the request;
- ``lost_response``: handle the request (its effects happen) and drop the connection instead of answering;
- ``slow``: wait ``delay`` seconds, then handle normally.
The ``/_sandbox/`` prefix is used by neither real API.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import random
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

CONTROL_PREFIX = "/_sandbox/"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def form(self) -> dict[str, str]:
        """Form fields from an urlencoded, multipart or JSON body (last value wins)."""
        if self.content_type == "application/json":
            data = self.json()
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        if self.content_type.startswith("multipart/"):
            return {k: v.decode("utf-8") for k, (_, v) in self.multipart().items()}
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def multipart(self) -> dict[str, tuple[str | None, bytes]]:
        """Parts of a multipart body: name → (file name, bytes)."""
        head = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
        parts: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True)
                parts[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
        return parts


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(payload).encode("utf-8"),
                   {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, b"", {"Location": location})


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


def compile_template(template: str) -> re.Pattern[str]:
    """'/a/{x}/b' → a regex with a named group per placeholder (placeholders match one path segment)."""
    parts = re.split(r"(\{[a-z_]+\})", template)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}/?$")


FaultKind = Literal["status", "reset", "lost_response", "slow"]


@dataclass
class FaultRule:
    kind: FaultKind
    status: int = 503
    retry_after: float | None = 1
    delay: float = 0.0
    path_prefix: str = ""
    method: str = ""
    remaining: int | None = None  # the next N matching requests…
    rate: float | None = None  # …or this share of matching requests

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path_prefix) and (not self.method or self.method == method)


class FaultPlan:
    """Thread-safe list of fault rules; deterministic for a given seed."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(method, path):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                    return rule
                if rule.rate is not None and self._rng.random() < rule.rate:
                    return rule
        return None


class _Drop(Exception):
    """Raised inside the handler to drop the connection with a TCP reset."""


class Emulator:
    """Base of an emulated API: routes, counters, faults, and serving on a loopback port."""

    name = "emulator"
    #: The ``Server`` header of every answer; None keeps the standard library's.
    server_header: str | None = None

    def __init__(self, *, seed: int = 0) -> None:
        self.routes: list[Route] = []
        self.counters: Counter[tuple[str, str, int]] = Counter()
        self.faults = FaultPlan(seed)
        self._counter_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.route("GET", CONTROL_PREFIX + "counters", self._get_counters)
        self.route("DELETE", CONTROL_PREFIX + "counters", self._reset_counters)
        self.route("POST", CONTROL_PREFIX + "faults", self._post_fault)
        self.route("DELETE", CONTROL_PREFIX + "faults", self._clear_faults)

    # ---- routing ----

    def route(self, method: str, template: str, handler: Handler) -> None:
        self.routes.append(Route(method.upper(), template, compile_template(template), handler))

    def dispatch(self, request: Request) -> tuple[str, Response]:
        allowed: list[str] = []
        for route in self.routes:
            match = route.pattern.match(request.path)
            if match is None:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            request.params = match.groupdict()
            return f"{route.method} {route.template}", route.handler(request)
        if allowed:
            return f"{request.method} {request.path}", Response.json(405, {"message": "method not allowed"},
                                                                     {"Allow": ", ".join(allowed)})
        return f"{request.method} <unknown>", self.not_found(request)

    def route_key(self, request: Request) -> str:
        """The counter key of the route a request would reach (faults are counted like answers)."""
        for route in self.routes:
            if route.method == request.method and route.pattern.match(request.path):
                return f"{route.method} {route.template}"
        return f"{request.method} <unknown>"

    def not_found(self, request: Request) -> Response:
        return Response.json(404, {"message": f"no such path: {request.path}"})

    # ---- counters ----

    def count(self, key: str, status: int) -> None:
        method, _, template = key.partition(" ")
        if template.startswith(CONTROL_PREFIX):
            return
        with self._counter_lock:
            self.counters[(method, template, status)] += 1

    def requests_to(self, template: str, method: str = "GET", status: int | None = None) -> int:
        with self._counter_lock:
            return sum(n for (m, t, s), n in self.counters.items()
                       if m == method and t == template and (status is None or s == status))

    def total_requests(self) -> int:
        with self._counter_lock:
            return sum(self.counters.values())

    def _get_counters(self, _request: Request) -> Response:
        with self._counter_lock:
            rows = [{"method": m, "path": t, "status": s, "count": n}
                    for (m, t, s), n in sorted(self.counters.items())]
        return Response.json(200, {"counters": rows})

    def _reset_counters(self, _request: Request) -> Response:
        with self._counter_lock:
            self.counters.clear()
        return Response(204)

    def _post_fault(self, request: Request) -> Response:
        data = request.json() or {}
        try:
            rule = FaultRule(**data)
        except TypeError as exc:
            return Response.json(422, {"message": f"bad fault rule: {exc}"})
        if rule.kind not in ("status", "reset", "lost_response", "slow"):
            return Response.json(422, {"message": f"kind: got {rule.kind!r}; expected status, reset, "
                                                  "lost_response or slow"})
        self.faults.add(rule)
        return Response.json(201, {"fault": data})

    def _clear_faults(self, _request: Request) -> Response:
        self.faults.clear()
        return Response(204)

    # ---- serving ----

    def handle(self, request: Request) -> Response:
        """Apply faults, dispatch, count. Raises _Drop to reset the connection."""
        fault = None if request.path.startswith(CONTROL_PREFIX) else self.faults.pick(request.method,
                                                                                       request.path)
        if fault is not None:
            if fault.kind == "reset":
                self.count(self.route_key(request), 0)
                raise _Drop
            if fault.kind == "status":
                headers = {}
                if fault.status == 429 and fault.retry_after is not None:
                    headers["Retry-After"] = str(int(fault.retry_after))
                self.count(self.route_key(request), fault.status)
                return Response.json(fault.status, {"message": "injected fault"}, headers)
            if fault.kind == "slow":
                time.sleep(fault.delay)
        key, response = self.dispatch(request)
        self.count(key, response.status)
        if fault is not None and fault.kind == "lost_response":
            raise _Drop
        return response

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Emulator:
        """Serve in a daemon thread; ``port=0`` picks a free port. Returns self with ``url`` set."""
        emulator = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; with Nagle on, keep-alive clients wait ~40 ms per request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return  # request logging would drown test output; counters carry the facts

            def version_string(self) -> str:
                return emulator.server_header or super().version_string()

            def _serve(self) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=urllib.parse.unquote(parsed.path),
                    query=urllib.parse.parse_qs(parsed.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                try:
                    response = emulator.handle(request)
                except _Drop:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        self._server = server
        bound_host, bound_port = server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"
        # A short poll interval makes stop() return in ~50 ms instead of 0.5 s (it runs after every test).
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.name}-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
