"""Throughput of the whole controller with no-op executors, and its memory at 1,000 services.

Every sequence goes through the real loop: the pure sequencer, the journal commit of each
batch to `reconciler/results` on a `file://` origin, the SQLite index and the executor
pool; only the executors do nothing (they answer `pass` at once). Sequences are started
through the controller handle (as the HTTP API does), `--sequences` of them spread over
`--services` services of a 1,000-service × 3-stage project.

Baseline of the same run: the pure sequencer alone on the same inputs (no Git, no threads),
which bounds what the shell can reach.

    .venv/bin/python -m bench.controller_bench [--quick]
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.engine import sequencer
from reconciler.engine.commands import DispatchTask
from reconciler.engine.events import CloudEvent, sequence_type, task_type
from reconciler.engine.inputs import EventReceived
from reconciler.engine.world import World
from reconciler.gitstore.seed import seed_bare_repo
from reconciler.runtime.service import ServeOptions, Service
from reconciler.spec.shipyard import Shipyard
from reconciler.tasks.base import TaskOutcome

SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: bench}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: deployment}, {name: test}, {name: release}]
    - name: staging
    - name: production
"""


class Noop:
    name = "noop"

    def applies(self, request, env) -> bool:
        return True

    def run(self, request, env) -> TaskOutcome:
        return TaskOutcome(result="pass")


class NoopExecutors:
    def executors_for(self, request, env):
        return [Noop()]

    def promote(self, command, env):
        raise AssertionError("no promotions in this benchmark")

    def decide_approval(self, request, pending, env):
        return None


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def finished_count(service: Service) -> int:
    return service.reader.db.execute("SELECT COUNT(*) FROM runs WHERE state = 'finished'").fetchone()[0]


def make_repo(base: Path, services: int) -> Path:
    layout = base / "layout"
    (layout / "main").mkdir(parents=True)
    (layout / "main" / "shipyard.yaml").write_text(SHIPYARD)
    (layout / "main" / "reconciler.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Settings\nmetadata: {name: bench}\n"
        "spec:\n  stages: {dev: {target: none}, staging: {target: none}, production: {target: none}}\n")
    for stage in ("dev", "staging", "production"):
        for i in range(services):
            folder = layout / stage / f"svc-{i:04d}"
            folder.mkdir(parents=True)
            (folder / "values.yaml").write_text(f"image: svc-{i:04d}:1.0.0\nreplicaCount: 1\n")
            (folder / "slo.yaml").write_text(
                f'objectives:\n  - sli: rt\n    pass: [{{criteria: ["<{100 + i}"]}}]\ntotal_score: {{pass: "90%"}}\n')
    origin = base / "config.git"
    seed_bare_repo(origin, layout)
    return origin


def trigger(service: str, n: int) -> CloudEvent:
    return CloudEvent(type=sequence_type("dev", "delivery", "triggered"),
                      data={"project": "bench", "stage": "dev", "service": service},
                      shkeptncontext=f"00000000-0000-4000-8000-{n:012d}", id=f"trigger-{n}",
                      time="2026-01-01T00:00:00.000Z")


def controller_run(origin: Path, work: Path, sequences: int, services: int, offset: int = 0) -> dict[str, float]:
    """`offset` keeps contexts unique across rounds on one origin (a trigger commit's context
    is unique; re-using one would measure re-opening finished contexts instead)."""
    gc.collect()
    before = rss_mib()
    t0 = time.perf_counter()
    service = Service(ServeOptions(repo=str(origin), workdir=work, port=0, poll_interval=0, watch=False,
                                   workers=4),
                      executors=NoopExecutors(), environ={"RECONCILER_API_TOKEN": "t"}).start()
    startup = time.perf_counter() - t0
    after_start = rss_mib()
    try:
        already = finished_count(service)          # runs an earlier round left in the record
        t0 = time.perf_counter()
        futures = [service.controller.submit_event(trigger(f"svc-{i % services:04d}", offset + i))
                   for i in range(sequences)]
        for f in futures:
            assert f.result(60).accepted
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = finished_count(service)
            if done >= already + sequences:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        commits = service.metrics.batches._value.get()   # noqa: SLF001 - a benchmark may peek
        peak = rss_mib()
        # one at a time: each sequence starts when the previous one finished (latency-bound)
        serial = 20 if sequences < 1000 else 50
        done = finished_count(service)
        t1 = time.perf_counter()
        for i in range(serial):
            n = offset + sequences + i
            assert service.controller.submit_event(trigger(f"svc-{n % services:04d}", n)).result(60).accepted
            while finished_count(service) < done + i + 1:
                time.sleep(0.001)
        one_at_a_time = serial / (time.perf_counter() - t1) * 60
    finally:
        service.stop()
    return {"per_minute": sequences / elapsed * 60, "elapsed": elapsed, "startup": startup,
            "rss_before": before, "rss_started": after_start, "rss_peak": peak, "commits": commits,
            "serial_per_minute": one_at_a_time}


def pure_run(sequences: int, services: int) -> float:
    """The same sequences through `sequencer.step` alone, answering dispatches in-line."""
    shipyard = Shipyard.from_data(__import__("yaml").safe_load(SHIPYARD))
    world = World(shipyard, project="bench")
    now = 1_700_000_000.0
    t0 = time.perf_counter()
    pending = [EventReceived(trigger(f"svc-{i % services:04d}", i)) for i in range(sequences)]
    while pending:
        inp = pending.pop()
        world, commands = sequencer.step(world, inp, now)
        for c in commands:
            if isinstance(c, DispatchTask):
                pending.append(EventReceived(CloudEvent(
                    type=task_type(c.task, "finished"), shkeptncontext=c.context, triggeredid=c.event.id,
                    id=f"{c.key}/finished", time="2026-01-01T00:00:00.000Z",
                    source="noop", data={"project": "bench", "stage": c.stage, "service": c.service,
                                         "result": "pass", "status": "succeeded"})))
    return sequences / (time.perf_counter() - t0) * 60


def one_round(origin: str, work: str, sequences: int, services: int, offset: int) -> None:
    """One measurement in a fresh process (a controller runs alone in its process)."""
    print(json.dumps(controller_run(Path(origin), Path(work), sequences, services, offset)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--round", nargs=2, metavar=("ORIGIN", "WORKDIR"), help=argparse.SUPPRESS)
    ap.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    sequences = 300 if args.quick else 1000
    if args.round:
        one_round(args.round[0], args.round[1], sequences, args.services, args.offset)
        return
    with tempfile.TemporaryDirectory(prefix="controller-bench-") as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        origin = make_repo(base, args.services)
        print(f"repo: {args.services} services × 3 stages in {time.perf_counter() - t0:.1f}s", flush=True)
        rounds = []
        for r in range(2):
            argv = [sys.executable, "-m", "bench.controller_bench", "--services", str(args.services),
                    "--round", str(origin), str(base / f"work-{r}"), "--offset", str(r * 1_000_000)
                    ] + (["--quick"] if args.quick else [])
            out = subprocess.run(argv, capture_output=True, text=True, check=True,
                                 cwd=Path(__file__).resolve().parents[1]).stdout
            rounds.append(json.loads(out.strip().splitlines()[-1]))
        shutil.rmtree(base / "layout", ignore_errors=True)
    pure = statistics.median(pure_run(sequences, args.services) for _ in range(3))
    best = max(rounds, key=lambda r: r["per_minute"])
    for r in rounds:
        print(f"controller: {sequences} sequences (3 tasks each) in {r['elapsed']:.1f}s = "
              f"{r['per_minute']:,.0f}/min over {r['commits']:.0f} results commits; startup {r['startup']:.2f}s; "
              f"RSS {r['rss_before']:.0f} → {r['rss_started']:.0f} (started) → {r['rss_peak']:.0f} MiB (peak); "
              f"one at a time: {r['serial_per_minute']:,.0f}/min")
    print(f"baseline, pure sequencer alone: {pure:,.0f}/min; controller = {best['per_minute'] / pure:.1%} of it")
    print("targets: ≥ 300 sequences/min; ≤ 150 MB RSS at 1,000 services")


if __name__ == "__main__":
    main()
