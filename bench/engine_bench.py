"""Pure engine benchmarks: sequence throughput and the memory of a large world.

Run: `.venv/bin/python -m bench.engine_bench [--quick]`. Baselines are measured in the same
run so that ratios survive a slower machine:

1. Throughput: 3-task sequences for many services (several pushes per service, so lanes
   queue) through `sequencer.step` with a no-op executor that answers `.started` and
   `.finished` at once. Reported for the engine alone and with the controller's persistence
   work (JSON of every lane file the step changed). Baseline: a JSON decode + encode of every
   input event, i.e. the least any controller pays to receive those events over HTTP. Target
   from issue 5: ≥ 300 sequences/minute end to end.
2. Memory: a world holding 1,000 services × 3 stages, one finished and one running run per
   (stage, service). RSS growth (VmRSS, no tracing) and tracemalloc of the world; baseline:
   the size of the same state as the JSON lane files. Also how long a restart takes
   (`World.load` of those documents). Target: ≤ 150 MB RSS.
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from collections import deque
from typing import Any

from reconciler.engine.commands import DispatchTask, ResolveCommit, RunsChanged
from reconciler.engine.events import CloudEvent, context_uuid
from reconciler.engine.inputs import CommitResolved, EventReceived
from reconciler.engine.sequencer import step
from reconciler.engine.world import World
from reconciler.spec.shipyard import Shipyard

STAGES = ("dev", "staging", "production")
NOW = 1_700_000_000.0


def shipyard(stages: tuple[str, ...] = STAGES, chained: bool = True) -> Shipyard:
    seqs = []
    for i, stage in enumerate(stages):
        seq: dict[str, Any] = {"name": "delivery", "tasks": [
            {"name": "deployment", "properties": {"deploymentstrategy": "direct"}},
            {"name": "test", "properties": {"teststrategy": "functional"}},
            {"name": "evaluation", "properties": {"timeframe": "5m"}}]}
        if i and chained:
            seq["triggeredOn"] = [{"event": f"{stages[i - 1]}.delivery.finished"}]
        seqs.append({"name": stage, "sequences": [seq]})
    return Shipyard.from_data({"apiVersion": "spec.keptn.sh/0.2.3", "kind": "Shipyard",
                               "metadata": {"name": "bench"}, "spec": {"stages": seqs}})


def trigger(stage: str, service: str, n: int) -> CloudEvent:
    context = context_uuid(f"bench:{stage}:{service}:{n}")
    return CloudEvent(
        type=f"sh.keptn.event.{stage}.delivery.triggered", shkeptncontext=context,
        id=f"trigger-{context}", time="2023-11-14T22:13:20.000Z", gitcommitid=f"c{n}",
        data={"project": "bench", "stage": stage, "service": service,
              "configurationChange": {"commit": f"c{n}", "values": {"image": f"{service}:{n}"}},
              "labels": {"team": "bench"}})


def answers(d: DispatchTask) -> list[CloudEvent]:
    """A no-op executor: `.started`, then `.finished` with a little data, as real ones send."""
    common = dict(shkeptncontext=d.context, source="noop", time="2023-11-14T22:13:21.000Z",
                  triggeredid=d.event.id)
    base = {"project": "bench", "stage": d.stage, "service": d.service}
    return [
        CloudEvent(type=f"sh.keptn.event.{d.task}.started", id=f"{d.key}/s", data=base, **common),
        CloudEvent(type=f"sh.keptn.event.{d.task}.finished", id=f"{d.key}/f",
                   data={**base, "result": "pass", "status": "succeeded",
                         d.task: {"noop": True, "at": d.task_index}}, **common),
    ]


def run_workload(services: int, pushes: int, persist: bool) -> tuple[float, int, list[EventReceived]]:
    """All pushes of all services through one stage; returns (engine seconds, sequences, inputs)."""
    world = World(shipyard(("dev",)), None, "bench")
    inbox: deque = deque(EventReceived(trigger("dev", f"svc-{i:04d}", n))
                         for n in range(pushes) for i in range(services))
    seen: list[EventReceived] = []
    engine = 0.0
    now = NOW
    while inbox:
        inp = inbox.popleft()
        seen.append(inp)
        t = time.perf_counter()
        _, cmds = step(world, inp, now)
        if persist:
            for c in cmds:
                if isinstance(c, RunsChanged):
                    for stage, service, context in c.lanes:
                        world.document_json(stage, service, context)
        engine += time.perf_counter() - t
        now += 0.001
        for c in cmds:
            if isinstance(c, DispatchTask):
                inbox.extend(EventReceived(e) for e in answers(c))
            elif isinstance(c, ResolveCommit):
                inbox.append(CommitResolved(c.run_id, "tip"))
    done = sum(1 for r in world.runs.values() if r.state == "finished" and r.result == "pass")
    assert done == services * pushes, f"only {done} of {services * pushes} sequences passed"
    return engine, done, seen


def json_baseline(inputs: list[EventReceived]) -> float:
    texts = [json.dumps(i.event.to_dict()) for i in inputs]
    t = time.perf_counter()
    for text in texts:
        json.dumps(CloudEvent.from_dict(json.loads(text)).to_dict())
    return time.perf_counter() - t


def throughput(quick: bool) -> None:
    services, pushes, rounds = (200, 2, 3) if quick else (1000, 3, 5)
    print(f"\n## 1. throughput: {services} services × {pushes} pushes, 3-task sequences, no-op executor")
    results: dict[str, list[float]] = {"engine": [], "engine+persist": [], "baseline": []}
    inputs_per_run = 0
    for _ in range(rounds):
        seconds, done, inputs = run_workload(services, pushes, persist=False)
        results["engine"].append(done / seconds * 60)
        seconds_p, done_p, _ = run_workload(services, pushes, persist=True)
        results["engine+persist"].append(done_p / seconds_p * 60)
        results["baseline"].append(done / json_baseline(inputs) * 60)
        inputs_per_run = len(inputs)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"  inputs per workload: {inputs_per_run:,} ({inputs_per_run / (services * pushes):.0f} per sequence)")
    for key in ("engine", "engine+persist", "baseline"):
        label = {"engine": "engine (step only)", "engine+persist": "engine + lane-file JSON",
                 "baseline": "baseline: JSON decode+encode of the inputs"}[key]
        print(f"  {label:<44} {med[key]:>12,.0f} sequences/min  "
              f"(min {min(results[key]):,.0f}, max {max(results[key]):,.0f})")
    print(f"  ratio engine / baseline:                    {med['engine'] / med['baseline']:.2f}")
    print(f"  ratio engine+persist / target 300/min:      {med['engine+persist'] / 300:,.0f}×")
    print(f"  mean step: {60 / med['engine'] * 1e6 / (inputs_per_run / (services * pushes)):.1f} µs per input")


def build_big_world(services: int) -> World:
    """Per (stage, service): one finished delivery and one running (second task started).
    Stages are not chained here, so each lane holds exactly what is described."""
    world = World(shipyard(chained=False), None, "bench")
    now = NOW
    for stage in STAGES:
        for i in range(services):
            service = f"svc-{i:04d}"
            inbox: deque = deque([EventReceived(trigger(stage, service, 0))])
            while inbox:                                   # a whole sequence, in this stage only
                _, cmds = step(world, inbox.popleft(), now)
                for c in cmds:
                    if isinstance(c, DispatchTask):
                        inbox.extend(EventReceived(e) for e in answers(c))
            _, cmds = step(world, EventReceived(trigger(stage, service, 1)), now)
            d = next(c for c in cmds if isinstance(c, DispatchTask))
            first = answers(d)
            step(world, EventReceived(first[0]), now)
            _, cmds = step(world, EventReceived(first[1]), now)
            d = next(c for c in cmds if isinstance(c, DispatchTask))
            step(world, EventReceived(answers(d)[0]), now)   # second task started
            now += 0.01
    return world


def rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory(quick: bool) -> None:
    services = 200 if quick else 1000
    print(f"\n## 2. memory: {services:,} services × 3 stages, one finished + one running run each")
    gc.collect()
    before = rss_kib()
    t = time.perf_counter()
    world = build_big_world(services)
    build_s = time.perf_counter() - t
    gc.collect()
    after = rss_kib()
    runs = len(world.runs)
    active = sum(1 for _ in world.active_runs())
    lanes = len(world.lanes)
    texts = [world.document_json(*key) for key in world.lane_files()]
    json_bytes = sum(len(t) for t in texts)
    t = time.perf_counter()
    World.load([json.loads(t) for t in texts], shipyard=world.shipyard)
    load_s = time.perf_counter() - t
    shipyard_ = world.shipyard
    del world
    gc.collect()
    tracemalloc.start()
    world = build_big_world(services)
    gc.collect()
    traced, _ = tracemalloc.get_traced_memory()
    del world
    gc.collect()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    world = World.load([json.loads(t) for t in texts], shipyard=shipyard_)  # noqa: F841 - alive while measured
    gc.collect()
    loaded, _ = tracemalloc.get_traced_memory()
    loaded -= base
    tracemalloc.stop()
    print(f"  runs: {runs:,} ({active:,} running) in {lanes:,} busy lanes; built in {build_s:.1f} s")
    print(f"  RSS: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after "
          f"(+{(after - before) / 1024:.1f} MiB for the world)")
    print(f"  tracemalloc of the world:                  {traced / 2**20:.1f} MiB "
          f"({traced / runs / 1024:.1f} KiB per run)")
    print(f"  tracemalloc of the world restored from JSON: {loaded / 2**20:.1f} MiB "
          f"({loaded / runs / 1024:.1f} KiB per run)")
    print(f"  baseline: the same state as JSON lane files: {json_bytes / 2**20:.1f} MiB")
    print(f"  ratio in-memory / JSON:                    {traced / json_bytes:.2f} live, "
          f"{loaded / json_bytes:.2f} restored")
    print(f"  restart: World.load of {runs:,} runs from JSON: {load_s:.2f} s")
    print(f"  process RSS vs target 150 MiB:             {after / 1024:.1f} MiB "
          f"({'within' if after / 1024 <= 150 else 'OVER'} target)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workload (a few seconds)")
    args = parser.parse_args(argv)
    memory(args.quick)          # first, so the RSS figures are not inflated by earlier work
    throughput(args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
