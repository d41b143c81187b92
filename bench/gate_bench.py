"""Quality-gate benchmarks against a real Prometheus (Debian package) with backfilled data.

Run: `.venv/bin/python -m bench.gate_bench [--quick]`. Everything is measured in the same run:

1. SLI retrieval through the provider (`prometheus.get_values`, the code the engine runs):
   one SLI (the baseline), 100 SLIs one at a time (concurrency 1), and 100 SLIs concurrently
   (concurrency 16 and 100). The queries are realistic: histogram_quantile / rate / ratios
   over 10 services × 4 instances of backfilled histograms and counters, 10-minute windows.
   Measured twice: on loopback, and through a proxy that adds network latency (default
   5 ms each way, i.e. a 10 ms round trip, like a Prometheus in another zone), because on
   loopback a query costs CPU only and two cores bound what concurrency can win.
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
from pathlib import Path
from typing import Callable

import httpx

from reconciler.quality import slo as slo_module
from reconciler.quality.history import PreviousEvaluation
from reconciler.quality.prometheus import PrometheusConfig, get_values
from reconciler.quality.scoring import evaluate
from reconciler.quality.slo import decode_slo
from reconciler.quality.values import SliValue
from reconciler.spec import yamltext
from tests.support.prometheus import Series, running_prometheus, steady, stop_process

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
            f"svc{s}_errors_per_instance": f"avg(sum by (instance) (rate(http_requests_total{{{sel},code=\"500\"}}{d})))",
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


def server_time_ms(url: str, at: float) -> float:
    """Prometheus' own evaluation time for all 100 queries (`stats=all`, execTotalTime): the
    CPU work no client can avoid, whatever its concurrency."""
    total = 0.0
    with httpx.Client(base_url=url) as client:
        for query in queries().values():
            body = client.get("/api/v1/query", params={"query": query, "time": at, "stats": "all"}).json()
            total += body["data"]["stats"]["timings"]["execTotalTime"] * 1000
    return total


def retrieval(url: str, at: float, repeat: int, label: str) -> dict[str, float]:
    qs = queries()
    one_name = "svc0_p95"

    def run(selection: dict[str, str], concurrency: int) -> None:
        values = get_values(PrometheusConfig(url=url, timeout=30, concurrency=concurrency), selection, at)
        bad = [v for v in values.values() if not v.success]
        assert not bad, f"queries failed: {bad[:2]}"

    one = median_ms(lambda: run({one_name: qs[one_name]}, 1), repeat * 5)
    sequential = median_ms(lambda: run(qs, 1), repeat)
    concurrent16 = median_ms(lambda: run(qs, 16), repeat)
    concurrent100 = median_ms(lambda: run(qs, 100), repeat)
    print(f"\n[{label}] SLI retrieval, {len(qs)} realistic instant queries (median of {repeat} runs)")
    print(f"  one SLI (baseline)            {one:8.1f} ms")
    print(f"  100 SLIs one at a time        {sequential:8.1f} ms  = {sequential / one:5.1f}x one query")
    for name, value in (("concurrently (bound 16)", concurrent16), ("concurrently (bound 100)", concurrent100)):
        print(f"  100 SLIs {name:<21}{value:8.1f} ms  = {value / one:5.1f}x one query, "
              f"{sequential / value:4.1f}x faster than one at a time")
    best = min(concurrent16, concurrent100)
    print(f"  targets: concurrent <= 3x one query: {'met' if best <= 3 * one else 'MISSED'} "
          f"({best / one:.1f}x); >= 10x faster than sequential: "
          f"{'met' if sequential / best >= 10 else 'MISSED'} ({sequential / best:.1f}x)")
    return {"one": one, "sequential": sequential, "c16": concurrent16, "c100": concurrent100}


def scoring(repeat: int) -> None:
    lines = ["comparison: {compare_with: several_results, number_of_comparison_results: 50,",
             "             include_result_with_score: pass_or_warn, aggregate_function: p90}",
             "objectives:"]
    for i in range(100):
        lines += [f"  - sli: sli_{i}", f"    displayName: SLI {i}", f"    key_sli: {'true' if i % 10 == 0 else 'false'}",
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
            server = statistics.median(server_time_ms(prom.url, end) for _ in range(3))
            print(f"Prometheus' own evaluation time for the 100 queries (stats=all): {server:.1f} ms "
                  f"in total, {server / 100:.2f} ms per query")
            retrieval(prom.url, end, repeat, "loopback")
            proxy, url = start_proxy(prom.url, args.delay)
            try:
                retrieval(url, end, repeat, f"network, +{args.delay * 1000:g} ms each way")
            finally:
                stop_process(proxy)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
