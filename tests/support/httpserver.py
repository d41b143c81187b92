"""One threaded HTTP server for the test doubles (fake Prometheus, forge, Kubernetes API, Git
smart HTTP, webhook receivers, exporters).

A stdlib `ThreadingHTTPServer` on 127.0.0.1 with a port picked by the kernel, served from a
daemon thread and stopped (shutdown, close, join with a bound) by `stop()` or by leaving the
`with` block. Handlers derive from `QuietHandler`: no access log on stderr, and TCP_NODELAY,
because headers and body leave in two writes and Nagle plus the client's delayed ACK would
hold the body back 40 ms per response on keep-alive connections.
"""
from __future__ import annotations

import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

STOP_TIMEOUT = 10.0          # seconds to wait for the serving thread after shutdown()

# A client that gives up mid-request (its timeout, an aborted push) is expected in these tests.
_CLIENT_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class QuietHandler(BaseHTTPRequestHandler):
    """Base request handler: TCP_NODELAY, no access log. Keep-alive is opt-in per handler
    (`protocol_version = "HTTP/1.1"`), as with the stdlib."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def read_body(self) -> bytes:
        """The request body as announced by Content-Length (empty when there is none)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", content_type: str | None = "application/json",
              headers: list[tuple[str, str]] | None = None) -> None:
        """Send a complete response with a Content-Length."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for key, value in headers or ():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


class LocalHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1:0; `start()` serves it from a daemon thread.

    `tls=(certificate, key)` serves HTTPS. `quiet_errors=True` also hides every other error a
    request raises (for servers whose clients are expected to break requests, e.g. refused TLS
    handshakes); by default only clients that went away are hidden.
    """

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64      # the default 5 drops SYNs of concurrent clients: a 1 s retry each

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, name: str = "test-http",
                 tls: tuple[Path, Path] | None = None, quiet_errors: bool = False,
                 poll_interval: float = 0.05) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.name = name
        self.quiet_errors = quiet_errors
        self.poll_interval = poll_interval
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.socket = context.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def address(self) -> str:
        """`127.0.0.1:<port>` (what a scrape config or a `host:port` option wants)."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """`http(s)://127.0.0.1:<port>`, without a trailing slash."""
        return f"{self.scheme}://{self.address}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.quiet_errors or isinstance(sys.exc_info()[1], _CLIENT_GONE):
            return
        super().handle_error(request, client_address)

    def start(self) -> LocalHTTPServer:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": self.poll_interval},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop serving, close the socket and join the thread (bounded). Safe to call twice."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self.shutdown()
            thread.join(timeout=timeout)
            if thread.is_alive():
                raise AssertionError(f"{self.name} did not stop within {timeout:g}s")
        self.server_close()

    def __enter__(self) -> LocalHTTPServer:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
