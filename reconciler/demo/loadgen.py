"""A closed-loop load generator: N clients, each sending the next request when the last one
returned, for a fixed duration. Used as the `test` task of the demo (through the job
executor) and to put production under load. Prints a JSON summary on stdout.

Targets come from `--url` (repeatable) and/or a Prometheus file-SD JSON (`--targets-file`),
re-read every second so a replica added by remediation starts taking load.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import httpx


def parse_seconds(text: str) -> float:
    text = text.strip()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    return float(text)


def targets_from_file(path: Path) -> list[str]:
    try:
        groups = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [f"http://{t}/" for g in groups for t in g.get("targets", [])]


class Targets:
    """Least-outstanding-requests balancing, as HTTP load balancers do: the next request goes
    to the replica with the fewest requests in flight (ties in turn). Plain round-robin
    cannot move a backlog: a replica added under load would stay idle while the old one
    keeps its queue."""

    def __init__(self, urls: list[str], file: Path | None):
        self.urls, self.file = list(urls), file
        self._from_file: list[str] = []
        self._next = 0
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._in_flight: dict[str, int] = {}

    def next(self) -> str | None:
        with self._lock:
            if self.file and time.monotonic() - self._read_at > 1.0:
                self._from_file = targets_from_file(self.file)
                self._read_at = time.monotonic()
            pool = self.urls + self._from_file
            if not pool:
                return None
            self._next += 1
            order = pool[self._next % len(pool):] + pool[:self._next % len(pool)]
            url = min(order, key=lambda u: self._in_flight.get(u, 0))
            self._in_flight[url] = self._in_flight.get(url, 0) + 1
            return url

    def done(self, url: str) -> None:
        with self._lock:
            self._in_flight[url] = max(0, self._in_flight.get(url, 1) - 1)


def run(targets: Targets, concurrency: int, duration: float, timeout: float = 10.0) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def client() -> None:
        nonlocal errors
        with httpx.Client(timeout=timeout) as http:
            while time.monotonic() < deadline:
                url = targets.next()
                if url is None:
                    time.sleep(0.1)
                    continue
                start = time.perf_counter()
                try:
                    ok = http.get(url).status_code < 500
                except httpx.HTTPError:
                    ok = False
                finally:
                    targets.done(url)
                with lock:
                    latencies.append(time.perf_counter() - start)
                    errors += 0 if ok else 1

    started = time.time()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + timeout + 5)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else None
    return {"requests": len(latencies), "errors": errors, "p95_seconds": p95,
            "start": started, "end": time.time()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", action="append", default=[], help="target URL (repeatable)")
    ap.add_argument("--targets-file", type=Path, help="Prometheus file-SD JSON to take targets from")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--duration", default="10s", help="e.g. 10s, 2m")
    args = ap.parse_args(argv)
    if not args.url and not args.targets_file:
        ap.error("give --url or --targets-file")
    summary = run(Targets(args.url, args.targets_file), max(1, args.concurrency), parse_seconds(args.duration))
    print(json.dumps(summary))
    return 0 if summary["requests"] and not summary["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
