"""A TCP load balancer on 127.0.0.1 for the local target's blue/green deployments.

The stable address of a service: connections go round-robin to the replicas of the version
that is released (`set_backends`). A blue/green deployment starts the new version beside the
old one without touching this list; the `release` task switches it to the new replicas and
`rollback` drops them — the Kubernetes Service selector switch, on one machine. Byte-level
forwarding (no HTTP parsing), one thread per direction per connection, every socket with a
timeout so no thread waits for ever.
"""
from __future__ import annotations

import itertools
import logging
import socket
import threading

log = logging.getLogger("reconciler.targets.proxy")

IDLE_TIMEOUT = 300.0       # seconds a forwarded connection may stay silent
CONNECT_TIMEOUT = 2.0
ACCEPT_POLL = 0.2


class TcpProxy:
    def __init__(self, name: str, host: str = "127.0.0.1") -> None:
        self.name = name
        self._server = socket.create_server((host, 0))
        self._server.settimeout(ACCEPT_POLL)
        host, port = self._server.getsockname()[:2]
        self.address = f"{host}:{port}"
        self._lock = threading.Lock()
        self._backends: list[str] = []
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._open: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, name=f"proxy-{name}", daemon=True)
        self._thread.start()

    @property
    def backends(self) -> list[str]:
        with self._lock:
            return list(self._backends)

    def set_backends(self, addresses: list[str]) -> None:
        """Send new connections to `addresses` (`host:port`); open connections stay."""
        with self._lock:
            self._backends = list(addresses)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for s in sockets:
            _close(s)

    # ---- internals -------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), name=f"proxy-{self.name}-conn",
                             daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        with self._lock:
            backends = list(self._backends)
            turn = next(self._turn)
        if not backends:
            _close(client)
            return
        host, _, port = backends[turn % len(backends)].rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            log.warning("%s: backend %s refused: %s", self.name, backends[turn % len(backends)], exc)
            _close(client)
            return
        for s in (client, upstream):
            s.settimeout(IDLE_TIMEOUT)
        with self._lock:
            self._open.update((client, upstream))
        back = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        back.start()
        self._pump(client, upstream)
        back.join(timeout=IDLE_TIMEOUT)
        with self._lock:
            self._open.difference_update((client, upstream))
        _close(client)
        _close(upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _close(s: socket.socket) -> None:
    try:
        s.close()
    except OSError:
        pass
