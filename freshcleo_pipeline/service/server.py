"""Serving the receiver with uvicorn: in the foreground (``freshcleo webhooks serve``) or on a thread.

Owns the socket and the server's lifetime, nothing about requests. Binds 127.0.0.1 unless told otherwise:
in deployment the receiver sits behind a TLS-terminating proxy.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette


def _config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    # One worker process: the ledger is the only shared state and SQLite wants a single writer process.
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                          server_header=False, lifespan="off")


def serve(app: Starlette, host: str, port: int, log_level: str = "info") -> None:
    """Serve until interrupted."""
    uvicorn.Server(_config(app, host, port, log_level)).run()


class BackgroundServer:
    """The receiver on a loopback thread (port 0 = a free port); ``url`` is set once it accepts."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.server = uvicorn.Server(_config(app, self.host, self.port, log_level))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="freshcleo-receiver", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the receiver did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
