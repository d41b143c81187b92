"""helloservice: the demo's service, with just enough behaviour to make the story real.

* Each "build" (the tag of `values.yaml` `image`) has a service time; build 2.0.0 carries a
  regression (like Keptn's carts 0.12.2 tutorial build), so the staging gate catches it.
* Each replica serves one request at a time (a lock), so latency under a fixed number of
  concurrent clients is roughly clients x service time / replicas: load raises p95, and
  scaling replicaCount genuinely brings it down, which is what the remediation loop shows.

Exposes `/` (the greeting), `/healthz`, and `/metrics` with `http_requests_total{code}` and the
histogram `http_request_duration_seconds` (the names the example SLIs query).

Run by the `local` target with env PORT, VALUE_IMAGE, RECONCILER_* (see docs/targets.md).
"""
from __future__ import annotations

import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

# build tag -> seconds of work per request
SERVICE_TIME = {"1.0.0": 0.04, "2.0.0": 0.9, "3.0.0": 0.03}
DEFAULT_SERVICE_TIME = 0.04
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)


class FifoLock:
    """A lock granted in arrival order. A plain Lock is unfair: under contention some
    requests wait many turns, so p95 would be several times the mean and scaling would not
    show as cleanly as it does in a real queueing server."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._cond.wait()

    def __exit__(self, *exc) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


def build_of(image: str) -> str:
    """`helloservice:2.0.0` -> `2.0.0`; an image without a tag is `latest`."""
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else "latest"


class App:
    def __init__(self, image: str, service_time: float | None = None):
        self.image = image
        self.build = build_of(image)
        self.service_time = SERVICE_TIME.get(self.build, DEFAULT_SERVICE_TIME) if service_time is None else service_time
        self.work = FifoLock()
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "HTTP requests served", ["code"], registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "Time to serve a request",
                                  buckets=BUCKETS, registry=self.registry)


def make_handler(app: App):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args) -> None:  # keep the replica's log for errors only
            pass

        def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                return self._send(200, b"ok\n")
            if self.path == "/metrics":
                return self._send(200, generate_latest(app.registry), CONTENT_TYPE_LATEST)
            if self.path not in ("/", "/hello"):
                return self._send(404, b"not found\n")
            start = time.perf_counter()
            with app.work:                      # one request at a time per replica
                time.sleep(app.service_time)
            body = f"hello from helloservice {app.build}\n".encode()
            self._send(200, body)
            app.duration.observe(time.perf_counter() - start)
            app.requests.labels(code="200").inc()

    return Handler


def serve(port: int, app: App) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(app))
    server.daemon_threads = True
    return server


def main() -> int:
    port = int(os.environ.get("PORT", "8080"))
    app = App(os.environ.get("VALUE_IMAGE", "helloservice:1.0.0"))
    server = serve(port, app)
    print(f"helloservice {app.build} on 127.0.0.1:{port} (service time {app.service_time:.3f}s)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
