"""A Prometheus exporter whose values the test sets: SLIs on demand for end-to-end tests."""
from __future__ import annotations

import threading
from collections.abc import Mapping

from tests.support.httpserver import LocalHTTPServer, QuietHandler


class GaugeExporter:
    """Serves `/metrics` with gauges set by `set(name, labels, value)` on 127.0.0.1."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.reply(200, outer.exposition().encode(), "text/plain; version=0.0.4")

        self.server = LocalHTTPServer(Handler, name="gauge-exporter").start()

    @property
    def address(self) -> str:
        return self.server.address

    def set(self, name: str, labels: Mapping[str, str], value: float) -> None:
        with self._lock:
            self._values[(name, tuple(sorted(labels.items())))] = value

    def exposition(self) -> str:
        with self._lock:
            items = sorted(self._values.items())
        lines = []
        for (name, labels), value in items:
            rendered = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{name}{{{rendered}}} {value}")
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self.server.stop()
