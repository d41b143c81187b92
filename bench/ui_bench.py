"""The web UI's start page at 1,000 services × 3 stages (issue 15): server time to render the
board, and how many bytes it sends. Target: ≤ 200 ms and ≤ 200 KB.

Run: `.venv/bin/python -m bench.ui_bench [--quick] [--services N]`. Same repository, same
index, same run:

* baseline — the page it replaces (`server/page.py`: config, active and 20 recent sequences,
  10 evaluations, branches), rendered from the same index.
* board, warm — index query (newest run, active runs, newest valid evaluation per lane), the
  versions of every stage (cached per stage tip) and the HTML.
* board, cold — the same right after every stage branch moved: each stage's 1,000 values files
  are read and parsed again, and the commit that last changed each service is found.
* over HTTP — `GET /` against the real aiohttp app with a session cookie, gzip accepted as
  browsers do: wall time per request and the bytes on the wire (plus the uncompressed size),
  rendered afresh (page cache cleared: what each change of state costs) and from the page cache
  (what every further browser watching the same state costs).

The index holds `--history` (10) finished deliveries per lane, each with its evaluation (30,000
runs), plus 50 running, 20 queued and 10 waiting-for-approval sequences, so cells carry every
kind of content and the board's queries meet a history.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pygit2
from aiohttp import web

from bench.sampling import interleaved
from reconciler.controller.index import Index
from reconciler.gitstore import Mirror, treeedit
from reconciler.server.app import make_app, status_view
from reconciler.server.page import render_page
from reconciler.server.ui import access, routes
from reconciler.server.ui.access import AccessSettings
from reconciler.server.ui.board import board_model, render_board
from reconciler.server.ui.html import frame
from reconciler.server.ui.source import UiSource

STAGES = ("dev", "staging", "production")
TARGET_MS, TARGET_KB = 200.0, 200.0
WHO = pygit2.Signature("bench", "bench@localhost")


def build_origin(path: Path, services: int) -> pygit2.Repository:
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    root = repo.create_commit("refs/heads/main", WHO, WHO, "project", repo.TreeBuilder().write(), [])
    for stage in STAGES:
        files = {f"svc-{i:04d}/values.yaml": f"image: svc-{i:04d}:1.{i % 7}.{i % 13}\nreplicaCount: 2\n".encode()
                 for i in range(services)}
        repo.create_commit(f"refs/heads/{stage}", WHO, WHO, f"stage {stage}", treeedit.apply(repo, None, files), [root])
    return repo


def move_stages(repo: pygit2.Repository, services: int, round_: int) -> None:
    """A new commit on each stage that changes every service's values (so nothing is cached)."""
    for stage in STAGES:
        ref = repo.references[f"refs/heads/{stage}"]
        old = ref.peel(pygit2.Commit)
        files = {f"svc-{i:04d}/values.yaml": f"image: svc-{i:04d}:2.{round_}.{i}\nreplicaCount: 2\n".encode()
                 for i in range(services)}
        tree = treeedit.apply(repo, old.tree, files)
        repo.create_commit(f"refs/heads/{stage}", WHO, WHO, f"round {round_}", tree, [old.id])


def lane_doc(stage: str, service: str, context: str, state: str, t: float, result: str | None) -> bytes:
    run = {"id": f"{context}/{stage}/0", "context": context, "stage": stage, "service": service, "index": 0,
           "sequence": "delivery", "state": state, "triggeredAt": t, "current": 1,
           "tasks": [{"index": 0, "name": "deployment", "state": "done"},
                     {"index": 1, "name": "test", "state": "started"}],
           "events": []}
    if result:
        run.update(result=result, status="succeeded" if result == "pass" else "errored",
                   message="" if result == "pass"
                   else "evaluation failed: response_time 812 ms > 500 ms (pass criteria <=500)")
    return json.dumps({"runs": [run]}).encode()


def fill_index(index: Index, services: int, history: int) -> None:
    """`history` finished deliveries (each with its evaluation) per lane, then the active ones."""
    t = 1_700_000_000.0
    for h in range(history):
        files: dict[str, bytes | None] = {}
        for s, stage in enumerate(STAGES):
            for i in range(services):
                service = f"svc-{i:04d}"
                ctx = f"c{s}{i:05d}-{h:04d}-0000-0000-000000000000"
                result = "fail" if (i + h) % 17 == 0 else "pass"
                files[f"sequences/{stage}/{service}/{ctx}.json"] = lane_doc(stage, service, ctx, "finished",
                                                                            t + h * 10_000 + i, result)
                files[f"evaluations/{stage}/{service}/202601{h + 1:02d}T000000Z-{ctx}.json"] = json.dumps(
                    {"context": ctx, "result": result, "score": 100.0 if result == "pass" else 40.0,
                     "time": f"2026-01-{h + 1:02d}T00:00:00Z"}).encode()
        index.apply("0" * 40, files)
    files = {}
    t += history * 10_000
    for n, (state, count) in enumerate((("started", 50), ("waiting", 20), ("waitingForApproval", 10))):
        for i in range(count):
            stage, service = STAGES[(i + n) % 3], f"svc-{(i * 31 + n) % services:04d}"
            ctx = f"a{n}{i:05d}-0000-0000-0000-000000000000"
            doc = lane_doc(stage, service, ctx, state, t + i, None)
            files[f"sequences/{stage}/{service}/{ctx}.json"] = doc
    index.apply("0" * 40, files)


class _NoController:
    def health(self):
        return {"alive": True}

    def ready(self):
        return True, "ready"


class _Config:
    """Config in force for the bench: the three stages (the shipyard's order)."""

    class _Shipyard:
        stage_names = list(STAGES)
        stages: list = []

    class _Settings:
        project = "bench"

    shipyard = _Shipyard()
    settings = _Settings()
    default_branch = "main"


def serve(app: web.Application) -> tuple[str, asyncio.AbstractEventLoop, threading.Thread]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        box["port"] = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
        box["runner"] = runner
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    return f"http://127.0.0.1:{box['port']}", loop, thread


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.ui_bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--history", type=int, default=10, help="finished deliveries per lane in the index")
    args = parser.parse_args()
    runs = 5 if args.quick else 30
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        origin = build_origin(tmp_path / "origin.git", args.services)
        mirror = Mirror(str(tmp_path / "origin.git"), tmp_path / "work")
        mirror.fetch()
        index = Index(tmp_path / "index.sqlite")
        fill_index(index, args.services, args.history)
        rows = index.counts()
        reader = Index(tmp_path / "index.sqlite", readonly=True)
        source = UiSource(reader, mirror, lambda: _Config())

        def board() -> str:
            stages, services, cells = board_model(list(STAGES), reader.lanes(), source.stage_versions(list(STAGES)))
            return frame("Environment", "/", render_board(stages, services, cells, "c" * 64), project="bench")

        def baseline() -> str:
            return render_page(status_view(reader))

        html, old = board(), baseline()
        samples = interleaved({"baseline": baseline, "board": board}, runs)
        cpu = []                       # this thread's CPU time: what load from elsewhere cannot inflate
        for _ in range(runs):
            t = time.thread_time()
            board()
            cpu.append((time.thread_time() - t) * 1000)
        cold, cold_cpu = [], []
        for r in range(3 if args.quick else 8):
            move_stages(origin, args.services, r)
            mirror.fetch()
            t, c = time.perf_counter(), time.thread_time()
            board()
            cold.append((time.perf_counter() - t) * 1000)
            cold_cpu.append((time.thread_time() - c) * 1000)

        app = make_app(_NoController(), reader, api_token="bench-token", webhook_secret=None, alertmanager_token=None,
                       metrics_registry=None, mirror=mirror, config=lambda: _Config(),
                       ui_access=AccessSettings(api_token="bench-token"))
        url, loop, thread = serve(app)
        cookie = access.session_value(AccessSettings(api_token="bench-token"), "operator")
        http, cached, server, server_cpu, wire = [], [], [], [], 0
        cache = app[routes.CACHE]
        with httpx.Client(base_url=url, cookies={access.COOKIE: cookie}, timeout=30) as client:
            for _ in range(runs):
                for samples_, clear in ((http, True), (cached, False)):
                    if clear:
                        cache.clear()           # a render per request: what a state change costs
                    t = time.perf_counter()
                    with client.stream("GET", "/", headers={"Accept-Encoding": "gzip"}) as response:
                        raw = b"".join(response.iter_raw())
                    samples_.append((time.perf_counter() - t) * 1000)
                    if clear:
                        parts = response.headers["Server-Timing"].split("dur=")
                        server.append(float(parts[1].split(",")[0]))
                        server_cpu.append(float(parts[2]))
                    assert response.status_code == 200 and response.headers.get("Content-Encoding") == "gzip"
                    wire = len(raw)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        reader.close()
        index.close()

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    def p95(xs: list[float]) -> float:
        return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]
    size_kb = len(html.encode()) / 1024
    print(f"{args.services} services x {len(STAGES)} stages, {rows['runs']} runs and {rows['evaluations']} "
          f"evaluations in the index, {runs} interleaved runs")
    print(f"{'baseline: the old status page (same index)':52} {med(samples['baseline']):8.1f} ms median "
          f"{p95(samples['baseline']):8.1f} ms p95  {len(old.encode()) / 1024:7.1f} KB")
    print(f"{'board, warm (index + cached versions + HTML)':52} {med(samples['board']):8.1f} ms median "
          f"{p95(samples['board']):8.1f} ms p95  {size_kb:7.1f} KB  target <= {TARGET_MS:.0f} ms")
    print(f"{'board, warm, CPU time of the rendering thread':52} {med(cpu):8.1f} ms median {p95(cpu):8.1f} ms p95")
    print(f"{'board, cold (every stage branch moved)':52} {med(cold):8.1f} ms median {max(cold):8.1f} ms max  "
          f"(CPU {med(cold_cpu):.1f} ms median)")
    print(f"{'GET / over HTTP (gzip), rendered, wall':52} {med(http):8.1f} ms median {p95(http):8.1f} ms p95  "
          f"{wire / 1024:7.1f} KB on the wire  target <= {TARGET_KB:.0f} KB")
    print(f"{'  of which the server gathering and rendering':52} {med(server):8.1f} ms median "
          f"{p95(server):8.1f} ms p95  (Server-Timing; CPU {med(server_cpu):.1f} ms median)")
    print(f"{'GET / over HTTP (gzip), same state (page cache), wall':52} {med(cached):8.1f} ms median "
          f"{p95(cached):8.1f} ms p95")


if __name__ == "__main__":
    main()
