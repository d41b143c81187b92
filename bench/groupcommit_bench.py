"""Group commit: results commits per finished sequence, and what the window costs in latency.

The whole controller with no-op executors (`controller_bench`'s project: 3-task deliveries in
`dev`) on a `file://` origin, started once per group-commit window:

* **one busy lane**: 200 deliveries of one service, queued behind each other (each task's
  dispatch must be recorded before it runs, so at best one commit per task);
* **200 lanes**: 200 deliveries of 200 services at once;
* **push → recorded trigger** (inotify watch, a real `git push`), on an idle controller and while
  a busy lane runs (the case where a commit may wait for running executors).

Same-run baseline: the window set to 0 (commit every iteration, as before group commit).

    .venv/bin/python -m bench.groupcommit_bench [--quick]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.controller_bench import NoopExecutors, finished_count, make_repo, trigger
from reconciler.runtime.service import ServeOptions, Service

SERVICES = 200


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "protocol.version=0", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def commits(service: Service) -> float:
    return service.metrics.batches._value.get()   # noqa: SLF001 - a benchmark may peek


def wait_finished(service: Service, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while finished_count(service) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {finished_count(service)} of {count} sequences finished")
        time.sleep(0.02)


def burst(service: Service, services: list[str], offset: int) -> dict[str, float]:
    """Submit one delivery per entry of `services` at once; commits and time until all finished."""
    before_done, before_commits = finished_count(service), commits(service)
    t0 = time.perf_counter()
    futures = [service.controller.submit_event(trigger(svc, offset + i)) for i, svc in enumerate(services)]
    for f in futures:
        assert f.result(120).accepted
    wait_finished(service, before_done + len(services))
    done = finished_count(service) - before_done
    return {"commits": commits(service) - before_commits, "finished": done,
            "per_sequence": (commits(service) - before_commits) / done, "seconds": time.perf_counter() - t0}


def push_latencies(service: Service, clone: Path, pushes: int, tag: str) -> list[float]:
    """Milliseconds from `git push` returning until the triggered run is in the index."""
    out = []
    for i in range(pushes):
        svc = f"svc-{1 + i % 9:04d}"
        (clone / svc / "values.yaml").write_text(f"image: {svc}:{tag}.{i}\nreplicaCount: 1\n")
        git("-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-qam", f"push {tag} {i}", cwd=clone)
        before = len(service.reader.runs(limit=1_000_000))
        git("push", "-q", "origin", "HEAD:dev", cwd=clone)
        pushed = time.perf_counter()
        deadline = pushed + 30
        while len(service.reader.runs(limit=1_000_000)) <= before and time.perf_counter() < deadline:
            time.sleep(0.0005)
        out.append((time.perf_counter() - pushed) * 1000)
        time.sleep(0.1)
    return out


def one_window(template: Path, base: Path, window: float, lane: int, pushes: int) -> dict[str, object]:
    name = f"w{int(window * 1000)}"
    origin = base / f"{name}.git"
    shutil.copytree(template, origin)
    clone = base / f"{name}-clone"
    git("clone", "-q", "-b", "dev", str(origin), str(clone), cwd=base)
    service = Service(ServeOptions(repo=str(origin), workdir=base / f"{name}-work", port=0, poll_interval=0,
                                   watch=True, workers=4, group_window=window),
                      executors=NoopExecutors(), environ={"RECONCILER_API_TOKEN": "t"}).start()
    try:
        one_lane = burst(service, ["svc-0000"] * lane, 0)
        wide = burst(service, [f"svc-{i:04d}" for i in range(SERVICES)], 100_000)
        idle = push_latencies(service, clone, pushes, "idle")
        # under load: a busy lane runs while people push other services
        done = finished_count(service)
        loader = threading.Thread(target=lambda: [f.result(120) for f in [
            service.controller.submit_event(trigger("svc-0010", 200_000 + i)) for i in range(lane)]])
        loader.start()
        time.sleep(0.5)
        loaded = push_latencies(service, clone, pushes, "load")
        loader.join()
        wait_finished(service, done + lane + pushes)
    finally:
        service.stop()
    return {"lane": one_lane, "wide": wide, "idle": idle, "loaded": loaded}


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, 50 deliveries in the lane, 5 pushes")
    ap.add_argument("--windows", default="0,50", help="group-commit windows to compare, in ms")
    args = ap.parse_args()
    lane, pushes, repeats = (50, 5, 1) if args.quick else (200, 12, 2)
    windows = [float(w) / 1000 for w in args.windows.split(",")]
    with tempfile.TemporaryDirectory(prefix="groupcommit-bench-") as tmp:
        base = Path(tmp)
        template = make_repo(base, SERVICES)
        runs: dict[float, list[dict[str, object]]] = {w: [] for w in windows}
        for r in range(repeats):
            for w in windows:             # interleaved, so machine load hits every window alike
                (base / f"r{r}").mkdir(exist_ok=True)
                res = one_window(template, base / f"r{r}", w, lane, pushes)
                runs[w].append(res)
                print(f"round {r} window {w * 1000:.0f} ms: lane {res['lane']['per_sequence']:.2f} commits/seq "
                      f"in {res['lane']['seconds']:.1f}s, 200 lanes {res['wide']['per_sequence']:.3f} commits/seq "
                      f"in {res['wide']['seconds']:.1f}s, "
                      f"push→recorded idle p50 {statistics.median(res['idle']):.0f} ms"
                      f", under load p50 {statistics.median(res['loaded']):.0f} ms", flush=True)
    print()
    print(f"| window | one lane, {lane} queued: commits/finished seq | lane seconds | "
          f"{SERVICES} lanes: commits/seq | {SERVICES} lanes seconds | push→recorded idle p50 / max ms "
          "| under a busy lane p50 / max ms |")
    print("|---|---|---|---|---|---|---|")
    for w in windows:
        rs = runs[w]
        idle = [x for r in rs for x in r["idle"]]
        loaded = [x for r in rs for x in r["loaded"]]
        print(f"| {w * 1000:.0f} ms | {spread([r['lane']['per_sequence'] for r in rs])} "
              f"| {spread([r['lane']['seconds'] for r in rs])} "
              f"| {spread([r['wide']['per_sequence'] for r in rs])} | {spread([r['wide']['seconds'] for r in rs])} "
              f"| {statistics.median(idle):.0f} / {max(idle):.0f} "
              f"| {statistics.median(loaded):.0f} / {max(loaded):.0f} |")
    print("target: ≤ 2 results commits per finished sequence in one busy lane (3 tasks per sequence here; "
          "a task's dispatch must be recorded before it runs, so the floor is 1 commit per task)")


if __name__ == "__main__":
    main()
