"""A real Prometheus (the Debian package) for tests, plus small HTTP servers that misbehave.

Two ways to start Prometheus, both on 127.0.0.1 with a port the kernel picks (read back from
Prometheus' own "Listening on" log line, so parallel workers never race for a port):

* from backfilled TSDB blocks (`promtool tsdb create-blocks-from openmetrics`): exact
  values, queryable ~50 ms after start; the samples must lie in the past, so query at a
  time inside the data (see `Series`/`openmetrics`);
* with a scrape configuration, for end-to-end tests that scrape live targets (the first
  sample then takes ~6 s: Prometheus 2.42 throttles target reloads to 5 s).

`running_prometheus` always stops the process (SIGTERM, then SIGKILL after a bounded wait).
`MisbehavingServer` stands in for a Prometheus that is slow, broken or picky about
credentials; `refused_url` gives an address where nothing listens.
"""
from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import socket
import subprocess
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.demo import stack
from tests.support.httpserver import LocalHTTPServer, QuietHandler

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def require_prometheus() -> None:
    """Skip only where the Debian package is genuinely absent (`make test` installs it)."""
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (make test installs the Debian package)")


# --------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Series:
    """One time series for backfilling: `samples` are (Unix seconds, value), ascending."""

    name: str
    labels: Mapping[str, str]
    samples: Sequence[tuple[float, float]]
    type: str = "gauge"                  # OpenMetrics family type; counters need a `_total` name


def steady(start: float, end: float, value: float | Callable[[float], float], step: float = 15.0
           ) -> list[tuple[float, float]]:
    """Samples every `step` seconds in [start, end]; `value` is a constant or f(t)."""
    out = []
    t = start
    while t <= end:
        out.append((t, value(t) if callable(value) else value))
        t += step
    return out


def openmetrics(series: Iterable[Series]) -> str:
    """OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`."""
    families: dict[str, list[Series]] = {}
    kinds: dict[str, str] = {}
    for s in series:
        family = _family(s)
        families.setdefault(family, []).append(s)
        kinds[family] = s.type
    lines = []
    for family, members in families.items():
        lines.append(f"# TYPE {family} {kinds[family]}")
        for s in members:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items()))
            head = f"{s.name}{{{labels}}}" if labels else s.name
            for t, v in s.samples:
                lines.append(f"{head} {_number(v)} {t:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _family(s: Series) -> str:
    if s.type == "counter" and s.name.endswith("_total"):
        return s.name[: -len("_total")]
    if s.type == "histogram":
        return re.sub(r"_(bucket|sum|count)$", "", s.name)
    return s.name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def backfill(text: str, tsdb: Path) -> None:
    """Write TSDB blocks for OpenMetrics `text` into `tsdb`."""
    tsdb.mkdir(parents=True, exist_ok=True)
    source = tsdb.parent / f"{tsdb.name}.om"
    source.write_text(text)
    proc = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"promtool failed ({proc.returncode}): {proc.stderr or proc.stdout}")


# --------------------------------------------------------------------------- the process

@dataclass
class PrometheusProcess:
    process: subprocess.Popen
    url: str
    log: Path

    def query(self, query: str, at: float) -> Any:
        """A direct instant query (for assertions about the data itself)."""
        qs = urllib.parse.urlencode({"query": query, "time": f"{at:.3f}"})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{qs}", timeout=10) as r:
            return json.load(r)


@contextlib.contextmanager
def running_prometheus(workdir: Path, *, series: Iterable[Series] = (), config: str | None = None,
                       extra_args: Sequence[str] = ()) -> Iterator[PrometheusProcess]:
    """Start Prometheus on 127.0.0.1 (kernel-chosen port) and stop it afterwards.

    `series` are backfilled before start; `config` is the prometheus.yml text (default: no
    scrape jobs). Waits for `/-/ready` at most START_TIMEOUT seconds.
    """
    require_prometheus()
    workdir.mkdir(parents=True, exist_ok=True)
    tsdb = workdir / "tsdb"
    series = list(series)
    if series:
        backfill(openmetrics(series), tsdb)
    config_file = workdir / "prometheus.yml"
    config_file.write_text(config or "global: {}\n")
    try:
        managed = stack.start("prometheus", ["prometheus", f"--config.file={config_file}",
                                             f"--storage.tsdb.path={tsdb}", "--web.listen-address=127.0.0.1:0",
                                             "--storage.tsdb.retention.time=100y", *extra_args],
                              workdir, "/-/ready", timeout=START_TIMEOUT)
    except stack.StackError as exc:
        raise AssertionError(str(exc)) from None
    try:
        yield PrometheusProcess(managed.process, managed.url, managed.log)
    finally:
        managed.stop(STOP_TIMEOUT)



# --------------------------------------------------------------------------- misbehaving peers

@dataclass
class Reply:
    status: int = 200
    body: Any = None                   # JSON-encoded unless bytes
    delay: float = 0.0                 # seconds before answering
    drop: bool = False                 # close the connection without an answer


@dataclass
class MisbehavingServer:
    """A tiny HTTP server on 127.0.0.1 whose answers a test scripts (`replies` is consumed
    in order; the last one repeats). Records the requests it saw."""

    replies: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    in_flight: int = 0
    max_in_flight: int = 0             # the most requests it was answering at one time
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)

    def next_reply(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@contextlib.contextmanager
def misbehaving_server(*replies: Reply, tls: tuple[Path, Path] | None = None) -> Iterator[MisbehavingServer]:
    """Serve `replies` on 127.0.0.1; with `tls` = (certificate, key) over HTTPS."""
    state = MisbehavingServer(list(replies) or [Reply()])

    class Handler(QuietHandler):
        def do_GET(self) -> None:          # noqa: N802 (http.server naming)
            body = self.read_body().decode()
            with state._lock:
                state.requests.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers), "body": body})
                reply = state.next_reply()
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                self._answer(reply)
            finally:
                with state._lock:
                    state.in_flight -= 1

        do_POST = do_GET                   # noqa: N815

        def _answer(self, reply: Reply) -> None:
            if reply.delay:
                state._released.wait(reply.delay)   # released early when the test ends
            if reply.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            try:
                self.reply(reply.status, body)
            except OSError:
                pass                      # the client gave up (its timeout); that is the point

    # quiet_errors: refused TLS handshakes and dropped connections are what this server is for
    with LocalHTTPServer(Handler, name="misbehaving-server", tls=tls, quiet_errors=True) as server:
        state.url = server.base_url
        try:
            yield state
        finally:
            state._released.set()       # let delayed replies go, so the threads can end


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """A URL whose port is bound but not listening: connections are refused at once, and
    no other test can take the port while it is held."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def vector(value: str | float, labels: Mapping[str, str] | None = None, at: float = 0.0) -> dict[str, Any]:
    """A Prometheus `/api/v1/query` success body with one sample."""
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": dict(labels or {}), "value": [at, str(value)]}]}}
