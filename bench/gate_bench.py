"""Quality-gate benchmarks against a real Prometheus (Debian package) with backfilled data.

Run: `.venv/bin/python -m bench.gate_bench [--quick]`. Everything is measured in the same run:

1. SLI retrieval through the provider (`providers.prometheus.client.get_values`, the code the engine runs):
   one SLI (the baseline), 100 SLIs one at a time (unbatched, concurrency 1), concurrently
   unbatched (how it was before batching), and batched (several batch sizes; the default
   25; with one unbatchable query among them, to price the fallback). The variants are run
   in turns so that load from other work hits them alike. The queries are realistic:
   histogram_quantile / rate / ratios over 10 services × 4 instances of backfilled
   histograms and counters, 10-minute windows. Measured twice: on loopback, and through a
   proxy that adds network latency (default 5 ms each way, i.e. a 10 ms round trip, like a
   Prometheus in another zone), because on loopback a query costs CPU only and two cores
   bound what concurrency can win.
   Targets (issue 3): concurrent ≤ 3× one query, and ≥ 10× faster than sequential.
2. Scoring alone (`scoring.evaluate`, no I/O): 100 objectives, 50 previous evaluations,
   SLO given as text (decode included) and pre-decoded. Baseline: loading the same SLO
   text with libyaml, the least any gate pays to read it. Target: ≤ 5 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from reconciler.demo.stack import stop_process
from reconciler.quality import slo as slo_module
from reconciler.quality.history import PreviousEvaluation
from reconciler.quality.providers.prometheus.batching import batch_query
from reconciler.quality.providers.prometheus.client import PrometheusConfig, get_values
from reconciler.quality.scoring import evaluate
from reconciler.quality.slo import decode_slo
from reconciler.quality.values import SliValue
from reconciler.spec import yamltext
from tests.support.prometheus import Series, running_prometheus, steady

SERVICES = 10
INSTANCES = 4
LES = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")
WINDOW = 600


# --------------------------------------------------------------------------- data and queries

def dataset(start: float, end: float) -> list[Series]:
    """Histograms and request counters that grow linearly (so rates are steady)."""
    out: list[Series] = []
    for s in range(SERVICES):
        for i in range(INSTANCES):
            labels = {"job": f"svc{s}", "instance": f"10.0.0.{i}:8080"}
            speed = 1 + (s + i) % 5

            def grow(per_step: float):
                return lambda t: per_step * ((t - start) // 15)
            total = 0
            for k, le in enumerate(LES):
                total = min(100, (k + 1) * 9 * speed)
                out.append(Series("http_request_duration_seconds_bucket", {**labels, "le": le},
                                  steady(start, end, grow(total if le != "+Inf" else 100)), "histogram"))
            out.append(Series("http_requests_total", {**labels, "code": "200"},
                              steady(start, end, grow(97)), "counter"))
            out.append(Series("http_requests_total", {**labels, "code": "500"},
                              steady(start, end, grow(3)), "counter"))
    return out


def queries() -> dict[str, str]:
    d = f"[{WINDOW}s]"
    out: dict[str, str] = {}
    for s in range(SERVICES):
        sel = f'job="svc{s}"'
        bucket = f"sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}{d}))"
        requests = f"sum(rate(http_requests_total{{{sel}}}{d}))"
        errors = f'sum(rate(http_requests_total{{{sel},code="500"}}{d}))'
        out.update({
            f"svc{s}_p50": f"histogram_quantile(0.5, {bucket})",
            f"svc{s}_p90": f"histogram_quantile(0.9, {bucket})",
            f"svc{s}_p95": f"histogram_quantile(0.95, {bucket})",
            f"svc{s}_p99": f"histogram_quantile(0.99, {bucket})",
            f"svc{s}_throughput": requests,
            f"svc{s}_error_rate": f"{errors} / {requests}",
            f"svc{s}_success_rate": f'sum(rate(http_requests_total{{{sel},code="200"}}{d})) / {requests}',
            f"svc{s}_fast_share": (f'sum(rate(http_request_duration_seconds_bucket{{{sel},le="0.1"}}{d})) / '
                                   f'sum(rate(http_request_duration_seconds_bucket{{{sel},le="+Inf"}}{d}))'),
            f"svc{s}_max_instance_rate": f"max(sum by (instance) (rate(http_requests_total{{{sel}}}{d})))",
            f"svc{s}_errors_per_instance":
                f"avg(sum by (instance) (rate(http_requests_total{{{sel},code=\"500\"}}{d})))",
        })
    return out


# --------------------------------------------------------------------------- latency proxy

def proxy_main(target_port: int, delay: float) -> None:
    """A TCP proxy that delays every chunk by `delay` seconds in each direction (without
    piling delays up), printing its port. Runs in its own process."""
    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(data)
                await writer.drain()
            writer.close()
        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + delay, data))
        except ConnectionError:
            pass
        queue.put_nowait((loop.time() + delay, None))
        await sender

    async def handle(client_reader, client_writer) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer),
                             return_exceptions=True)

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()
    asyncio.run(serve())


def start_proxy(target_url: str, delay: float) -> tuple[subprocess.Popen, str]:
    port = target_url.rsplit(":", 1)[1]
    proc = subprocess.Popen([sys.executable, "-m", "bench.gate_bench", "--proxy", port, str(delay)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        stop_process(proc)
        raise RuntimeError("latency proxy did not start")
    return proc, f"http://127.0.0.1:{line}"


# --------------------------------------------------------------------------- measuring

def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()                                                    # warm caches on both sides
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def server_time_ms(url: str, at: float, batch_size: int) -> float:
    """Prometheus' own evaluation time for the 100 queries (`stats=all`, execTotalTime), asked
    in batches of `batch_size`: the CPU work no client can avoid, whatever its concurrency."""
    qs = list(queries().values())
    total = 0.0
    with httpx.Client(base_url=url) as client:
        for k in range(0, len(qs), batch_size):
            text = qs[k] if batch_size == 1 else batch_query(qs[k:k + batch_size])
            body = client.post("/api/v1/query", data={"query": text, "time": at, "stats": "all"}).json()
            total += body["data"]["stats"]["timings"]["execTotalTime"] * 1000
    return total


@dataclass(frozen=True)
class Variant:
    label: str
    concurrency: int
    batch_size: int
    swap: tuple[str, str] | None = None      # (SLI, query) replacing one of the 100
    fails: frozenset[str] = frozenset()      # SLIs expected to fail


# One query of the 100 made unbatchable: a scalar (Prometheus' parse error names it, so it is
# split off at once) and an execution error (no position: found by bisecting).
SCALAR = ("svc9_throughput", 'scalar(sum(rate(http_requests_total{job="svc9"}[600s])))')
EXEC_ERROR = ("svc9_throughput", 'sum(http_requests_total{job="svc9"}) + on() group_left http_requests_total')

VARIANTS = [
    Variant("one at a time, unbatched (bound 1)", 1, 1),
    Variant("concurrently, unbatched (bound 16; before batching)", 16, 1),
    Variant("batches of 25, bound 16 (default)", 16, 25),
    Variant("batches of 25, bound 1", 1, 25),
    Variant("batches of 10, bound 16", 16, 10),
    Variant("batches of 50, bound 16", 16, 50),
    Variant("one batch of 100", 16, 100),
    Variant("default, one scalar query among them", 16, 25, SCALAR),
    Variant("default, one failing query among them", 16, 25, EXEC_ERROR, frozenset({EXEC_ERROR[0]})),
]


async def _raw_post(url: str, form: bytes) -> bytes:
    host, port = url.rsplit("/", 1)[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST /api/v1/query HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
                 f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(form)}\r\n\r\n"
                 .encode() + form)
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return answer


def raw_floor(url: str, texts: list[str], at: float) -> None:
    """The same requests without any HTTP library (asyncio streams, all at once): what is
    left is Prometheus, the network and the two shared cores, which no client can remove."""
    forms = [urllib.parse.urlencode({"query": t, "time": f"{at:.3f}"}).encode() for t in texts]

    async def main() -> None:
        await asyncio.gather(*(_raw_post(url, form) for form in forms))
    asyncio.run(main())


def retrieval(url: str, at: float, rounds: int, label: str) -> dict[str, float]:
    """Every variant once per round, in a rotating order, so that the machine's load (other
    work on two cores) hits all of them alike; medians over the rounds."""
    qs = queries()
    one_name = "svc0_p95"

    def run(variant: Variant | None) -> None:
        selection = {one_name: qs[one_name]} if variant is None else dict(qs)
        if variant is not None and variant.swap:
            selection[variant.swap[0]] = variant.swap[1]
        config = PrometheusConfig(url=url, timeout=30, concurrency=variant.concurrency if variant else 1,
                                  batch_size=variant.batch_size if variant else 1)
        values = get_values(config, selection, at)
        bad = {name for name, v in values.items() if not v.success}
        expected = variant.fails if variant else frozenset()
        assert bad == expected, f"unexpected failures: {[values[n] for n in bad ^ expected][:2]}"

    batches = [batch_query(list(qs.values())[k:k + 25]) for k in range(0, len(qs), 25)]
    floors: dict[str, Callable[[], None]] = {
        "floor_one": lambda: raw_floor(url, [qs[one_name]], at),
        "floor_batches": lambda: raw_floor(url, batches, at),
    }
    order: list[Variant | str | None] = [None, *floors, *VARIANTS]
    samples: dict[Variant | str | None, list[float]] = {v: [] for v in order}

    def once(v: Variant | str | None) -> None:
        floors[v]() if isinstance(v, str) else run(v)
    for v in order:
        once(v)                                            # warm caches on both sides
    for r in range(rounds):
        for v in order[r % len(order):] + order[:r % len(order)]:
            for _ in range(1 if isinstance(v, Variant) else 5):   # the short ones get more samples
                t = time.perf_counter()
                once(v)
                samples[v].append((time.perf_counter() - t) * 1000)
    med = {v: statistics.median(s) for v, s in samples.items()}
    one, sequential = med[None], med[VARIANTS[0]]
    print(f"\n[{label}] SLI retrieval, {len(qs)} realistic instant queries "
          f"(medians of {rounds} rounds taken in turns; load average {os.getloadavg()[0]:.1f})")
    print(f"  {'one SLI (baseline)':<56}{one:8.1f} ms")
    print(f"  {'floor: one query, raw asyncio HTTP, no library':<56}{med['floor_one']:8.1f} ms")
    print(f"  {'floor: the 4 default batches at once, raw asyncio HTTP':<56}{med['floor_batches']:8.1f} ms  "
          f"= {med['floor_batches'] / one:5.1f}x one query")
    for v in VARIANTS:
        value = med[v]
        print(f"  100 SLIs, {v.label:<46}{value:8.1f} ms  = {value / one:5.1f}x one query, "
              f"{sequential / value:5.1f}x faster than one at a time")
    best = med[VARIANTS[2]]
    print(f"  targets (default settings): concurrent <= 3x one query: {'met' if best <= 3 * one else 'MISSED'} "
          f"({best / one:.1f}x); >= 10x faster than sequential: "
          f"{'met' if sequential / best >= 10 else 'MISSED'} ({sequential / best:.1f}x)")
    print(f"  the default run spends {best - med['floor_batches']:.1f} ms in the client beyond the floor")
    return {"one": one, "sequential": sequential, "default": best}


def scoring(repeat: int) -> None:
    lines = ["comparison: {compare_with: several_results, number_of_comparison_results: 50,",
             "             include_result_with_score: pass_or_warn, aggregate_function: p90}",
             "objectives:"]
    for i in range(100):
        lines += [f"  - sli: sli_{i}", f"    displayName: SLI {i}",
                  f"    key_sli: {'true' if i % 10 == 0 else 'false'}",
                  '    pass: [{criteria: ["<=+10%", "<600"]}, {criteria: ["<=100"]}]',
                  '    warning: [{criteria: ["<=+25%"]}]', "    weight: 2"]
    lines.append('total_score: {pass: "90%", warning: "75%"}')
    text = "\n".join(lines) + "\n"
    values = {f"sli_{i}": SliValue.ok(f"sli_{i}", 100 + (i % 7)) for i in range(100)}
    history = [PreviousEvaluation("pass" if n % 5 else "warning",
                                  tuple(SliValue.ok(f"sli_{i}", 95 + ((i + n) % 11)) for i in range(100)),
                                  id=f"e{n}") for n in range(50)]
    decoded = decode_slo(text)
    ev = evaluate(text, values, history)
    assert ev.compared_count == 50 and len(ev.objectives) == 100, ev.message
    def cold() -> None:
        slo_module._decode_text.cache_clear()
        evaluate(text, values, history)

    load = median_ms(lambda: yamltext.load(text), repeat)
    scored = median_ms(lambda: evaluate(decoded, values, history), repeat)
    warm = median_ms(lambda: evaluate(text, values, history), repeat)
    first = median_ms(cold, repeat)
    print(f"\nScoring: 100 objectives, 50 previous evaluations, {len(text)} bytes of SLO (median of {repeat} runs)")
    print(f"  baseline: libyaml load of the SLO text           {load:6.2f} ms")
    print(f"  scoring alone: evaluate(decoded SLO)             {scored:6.2f} ms  = {scored / load:4.2f}x baseline")
    print(f"  evaluate(SLO text), text seen before (cached)    {warm:6.2f} ms  = {warm / load:4.2f}x baseline")
    print(f"  evaluate(SLO text), first time (decode included) {first:6.2f} ms  = {first / load:4.2f}x baseline")
    print(f"  target scoring <= 5 ms: {'met' if scored <= 5 else 'MISSED'} ({scored:.2f} ms)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.gate_bench")
    parser.add_argument("--quick", action="store_true", help="less data and fewer repetitions")
    parser.add_argument("--delay", type=float, default=0.005, help="one-way delay of the network proxy (s)")
    parser.add_argument("--proxy", nargs=2, metavar=("PORT", "DELAY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.proxy:
        proxy_main(int(args.proxy[0]), float(args.proxy[1]))
        return 0

    repeat = 3 if args.quick else 9
    scoring(50 if args.quick else 300)

    hours = 1 if args.quick else 3
    end = float(int(time.time()) // 15 * 15 - 900)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        series = dataset(end - hours * 3600, end + 300)
        samples = sum(len(s.samples) for s in series)
        with running_prometheus(Path(tmp), series=series) as prom:
            print(f"\nPrometheus {prom.url}: {len(series)} series, {samples} backfilled samples "
                  f"({hours} h), ready after {time.perf_counter() - started:.1f} s; cores: {os.cpu_count()}, "
                  f"load average {os.getloadavg()[0]:.1f}")
            for size in (1, 25, 100):
                server = statistics.median(server_time_ms(prom.url, end, size) for _ in range(3))
                print(f"Prometheus' own evaluation time for the 100 queries in batches of {size:>3} "
                      f"(stats=all): {server:5.1f} ms in total, {server / 100:.2f} ms per query")
            retrieval(prom.url, end, repeat, "loopback")
            proxy, url = start_proxy(prom.url, args.delay)
            try:
                retrieval(url, end, repeat, f"network, +{args.delay * 1000:g} ms each way")
            finally:
                stop_process(proxy)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
