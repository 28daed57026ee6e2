"""The HTTP machinery both emulators share: routing, request counters, fault injection, a threaded server.

Owns how an emulator is served on loopback and how faults are injected; knows nothing of FreshBooks or Cleo.
Emulators subclass ``Emulator`` and register routes with path templates; the counters are keyed by the
template so tests can read "how many invoice list requests" without caring about ids.

Faults (``POST /_sandbox/faults``, or ``Emulator.faults.add`` in-process; when they fire: ``faults``):
- ``status``: answer with that status without handling the request (429 carries ``Retry-After``);
- ``reset``: drop the connection without handling the request;
- ``lost_response`` (alias ``drop_after_commit``, the reference's name): handle the request (its effects happen)
  and drop the connection instead of answering;
- ``slow`` (alias ``delay``): wait ``delay`` seconds, then handle normally;
- ``trickle``: handle normally, then send the body in ``chunk``-byte pieces, ``delay`` seconds before each;
- ``truncate``: handle normally, announce the full ``Content-Length``, send ``keep`` bytes (default half) and
  close the connection;
- ``rate_limit``: a token bucket per account (``account_of``), ``per_second`` requests with ``burst``; beyond it
  429 with ``Retry-After`` (whole seconds, at least 1) without handling the request;
- the kinds an emulator adds (``fault_kinds``), applied by its ``apply_fault``.

Test surface: ``GET /_sandbox/counters`` (answers by method, route template and status; ``DELETE`` clears them,
the request log and the fault counts), ``GET /_sandbox/requests`` (the bounded request log, ``?limit=``),
``GET /_sandbox/stats`` (``stats()``: the counters as "METHOD template status", faults fired by action, peak
concurrent requests; an emulator adds its own figures). Dropped connections count as status 0.
The ``/_sandbox/`` prefix is used by neither real API (the Cleo reference's sketch calls it ``/_emulator/``).
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import json
import math
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
from typing import Any, ClassVar

from freshcleo_pipeline.sandbox.faults import GENERIC_KINDS, FaultKind, FaultPlan, FaultRule, Firing
from freshcleo_pipeline.sandbox.traffic import LogEntry, RequestLog

__all__ = ["CONTROL_PREFIX", "Delivery", "Emulator", "FaultKind", "FaultPlan", "FaultRule", "Firing", "Handler",
           "Request", "Response", "Route", "compile_template"]

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


@dataclass(frozen=True)
class Delivery:
    """How the body goes out when a fault shapes it: ``chunk`` bytes at a time (0 = at once) with ``pause``
    seconds before each, only the first ``keep`` bytes (None = all) and then the connection closed."""

    chunk: int = 0
    pause: float = 0.0
    keep: int | None = None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delivery: Delivery | None = None

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


class _Drop(Exception):
    """Raised inside the handler to drop the connection with a TCP reset; ``key``/``status``: what is counted
    (status 0 when nothing was handled, the handled status when the effects happened)."""

    def __init__(self, key: str = "", status: int = 0) -> None:
        super().__init__(key, status)
        self.key = key
        self.status = status


class Emulator:
    """Base of an emulated API: routes, counters, faults, and serving on a loopback port."""

    name = "emulator"
    #: The ``Server`` header of every answer; None keeps the standard library's.
    server_header: str | None = None
    #: Fault kinds this emulator serves; kinds beyond ``GENERIC_KINDS`` are applied by ``apply_fault``.
    fault_kinds: ClassVar[frozenset[str]] = GENERIC_KINDS
    #: Kinds limited to one route key ("METHOD template"), e.g. a login fault to the login.
    fault_scopes: ClassVar[dict[str, str]] = {}

    def __init__(self, *, seed: int = 0) -> None:
        self.routes: list[Route] = []
        self.counters: Counter[tuple[str, str, int]] = Counter()
        self.faults = FaultPlan(seed, kinds=self.fault_kinds, only_on=self.fault_scopes)
        self.log = RequestLog()
        self._counter_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.route("GET", CONTROL_PREFIX + "counters", self._get_counters)
        self.route("DELETE", CONTROL_PREFIX + "counters", self._reset_counters)
        self.route("POST", CONTROL_PREFIX + "faults", self._post_fault)
        self.route("DELETE", CONTROL_PREFIX + "faults", self._clear_faults)
        self.route("GET", CONTROL_PREFIX + "requests", self._get_requests)
        self.route("GET", CONTROL_PREFIX + "stats", self._get_stats)

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

    def reset_counts(self) -> None:
        """Forget the counters, the request log and the fault counts (not the fault rules)."""
        with self._counter_lock:
            self.counters.clear()
        self.log.clear()
        self.faults.reset_counts()

    def stats(self) -> dict[str, Any]:
        """The figures of ``GET /_sandbox/stats``; emulators extend the dictionary with their own."""
        with self._counter_lock:
            requests = {f"{m} {t} {s}": n for (m, t, s), n in sorted(self.counters.items())}
        return {"requests": requests, "faults": dict(sorted(self.faults.fired.items())),
                "peak_concurrency": self.log.peak_concurrency}

    def request_log(self) -> list[LogEntry]:
        """The bounded request log, oldest first (control requests are not in it)."""
        return self.log.entries()

    def _reset_counters(self, _request: Request) -> Response:
        self.reset_counts()
        return Response(204)

    def _get_requests(self, request: Request) -> Response:
        entries = self.request_log()
        limit = request.arg("limit")
        if limit is not None:
            if not limit.isdigit():
                return Response.json(400, {"message": f"limit: got {limit!r}; expected a whole number"})
            entries = entries[-int(limit):] if int(limit) else []
        return Response.json(200, {"requests": [e.summary() for e in entries]})

    def _get_stats(self, _request: Request) -> Response:
        return Response.json(200, self.stats())

    def _post_fault(self, request: Request) -> Response:
        data = request.json() or {}
        if not isinstance(data, dict):
            return Response.json(422, {"message": "bad fault rule: expected a JSON object"})
        try:
            self.faults.add(FaultRule.from_json(data))
        except (TypeError, ValueError) as exc:
            return Response.json(422, {"message": f"bad fault rule: {exc}"})
        return Response.json(201, {"fault": data})

    def _clear_faults(self, _request: Request) -> Response:
        self.faults.clear()
        return Response(204)

    # ---- serving ----

    # ---- faults and the request log ----

    def account_of(self, request: Request) -> str:
        """The account a request runs as (rate limits and the log); "" when the emulator cannot tell."""
        return ""

    def now(self) -> dt.datetime:
        """The time the request log records; an emulator with its own clock overrides it."""
        return dt.datetime.now(dt.UTC)

    def apply_fault(self, firing: Firing, request: Request) -> Response | None:
        """Apply a kind beyond ``GENERIC_KINDS``: an answer instead of handling, or None to handle normally."""
        raise NotImplementedError(f"fault kind {firing.rule.kind!r} is not served by {type(self).__name__}")

    def handle(self, request: Request) -> Response:
        """Apply faults, dispatch, count and log. Raises _Drop to reset the connection."""
        if request.path.startswith(CONTROL_PREFIX):
            return self.dispatch(request)[1]
        self.log.enter()
        key, status, label = self.route_key(request), 0, ""
        account = self.account_of(request)
        try:
            firing = self.faults.pick(request.method, request.path, key, account)
            label = firing.rule.label if firing is not None else ""
            key, response = self._answer(request, key, firing)
            status = response.status
            return response
        except _Drop as drop:
            key, status = drop.key or key, drop.status
            raise
        finally:
            self.log.leave()
            self.count(key, status)
            template = key.partition(" ")[2]
            self.log.add(LogEntry(self.now(), request.method, request.path,
                                  template if template.startswith("/") else "", status, account, label))

    def _answer(self, request: Request, key: str, firing: Firing | None) -> tuple[str, Response]:
        rule = firing.rule if firing is not None else None
        if firing is not None and rule is not None:
            if rule.kind == "reset":
                raise _Drop
            if rule.kind == "status":
                headers = {}
                if rule.status == 429 and rule.retry_after is not None:
                    headers["Retry-After"] = str(int(rule.retry_after))
                return key, Response.json(rule.status, {"message": "injected fault"}, headers)
            if rule.kind == "rate_limit":
                wait = max(1, math.ceil(firing.retry_after or 0))
                return key, Response.json(429, {"message": "too many requests"}, {"Retry-After": str(wait)})
            if rule.kind in ("slow", "delay"):
                time.sleep(rule.delay)
            elif rule.kind not in GENERIC_KINDS:
                answer = self.apply_fault(firing, request)
                if answer is not None:
                    return key, answer
        key, response = self.dispatch(request)
        if rule is not None:
            if rule.kind in ("lost_response", "drop_after_commit"):
                # Counted and logged with the status it would have had: the effects happened.
                raise _Drop(key, response.status)
            if rule.kind == "trickle":
                response.delivery = Delivery(chunk=rule.chunk, pause=rule.delay)
            elif rule.kind == "truncate":
                keep = len(response.body) // 2 if rule.keep is None else min(rule.keep, len(response.body))
                response.delivery = Delivery(keep=keep)
        return key, response

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
                    self._write(response)

            def _write(self, response: Response) -> None:
                shape = response.delivery
                if shape is None:
                    self.wfile.write(response.body)
                    return
                body = response.body if shape.keep is None else response.body[:shape.keep]
                step = shape.chunk or max(1, len(body))
                try:
                    for start in range(0, len(body), step):
                        if shape.pause:
                            time.sleep(shape.pause)
                        self.wfile.write(body[start:start + step])
                        self.wfile.flush()
                except OSError:
                    self.close_connection = True  # the client gave up waiting (its read timeout)
                if shape.keep is not None:
                    self.close_connection = True  # short of Content-Length: only closing can end it

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
