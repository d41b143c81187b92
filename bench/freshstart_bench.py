"""Fresh start on a long record: a new work dir (new host, lost disk, failover without a warm
standby) brings up the mirror and the index from the origin.

Run: `.venv/bin/python -m bench.freshstart_bench [--sizes 1000,5000] [--replay-max 1000]`.

The origin's `reconciler/results` is built in the journal's own layout with `git fast-import`:
per sequence a lane file `sequences/<stage>/<service>/<context>.json` rewritten at each of
SEQUENCE_COMMITS transitions (each commit one transition, the busy-lane worst case) plus one
evaluation document. Measured in the same run, each in a fresh process (RSS is the child's):

* baseline: `git clone --mirror file://…` of that origin;
* fresh start: `Mirror(url, workdir).fetch()` + `Index.sync()` (what `serve` does at start);
* the replay it replaced: the commit-by-commit object copy (`copy_missing` into an empty
  mirror), only up to --replay-max sequences because it grows with history.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("dev", "staging", "production")
SERVICES = 100
SEQUENCE_COMMITS = 12


def lane(stage: str, service: str, context: str, step: int) -> bytes:
    events = [{"type": f"sh.keptn.event.{t}.{k}", "id": f"{context}-{i}", "shkeptncontext": context,
               "time": f"2026-01-01T00:00:{i:02d}.000Z", "source": "reconciler",
               "data": {"project": "shop", "stage": stage, "service": service, "result": "pass", "status": "succeeded"}}
              for i, (t, k) in enumerate([("deployment", "triggered"), ("deployment", "started"),
                                          ("deployment", "finished"), ("test", "triggered"), ("test", "started"),
                                          ("test", "finished"), ("evaluation", "triggered"),
                                          ("evaluation", "started"), ("evaluation", "finished"),
                                          ("release", "triggered"), ("release", "started"),
                                          ("release", "finished")][:step + 1])]
    run = {"id": f"{context}/{stage}/0", "context": context, "stage": stage, "service": service, "index": 0,
           "sequence": "delivery", "state": "finished" if step == SEQUENCE_COMMITS - 1 else "started",
           "result": "pass", "status": "succeeded", "message": "", "current": min(step // 3, 3),
           "tasks": [{"name": n} for n in ("deployment", "test", "evaluation", "release")],
           "trigger": {"type": f"sh.keptn.event.{stage}.delivery.triggered", "id": f"{context}-t",
                       "shkeptncontext": context, "data": {"stage": stage, "service": service,
                                                           "configurationChange": {"commit": "a" * 40}}},
           "events": events}
    body = {"apiVersion": "reconciler/v1", "stage": stage, "service": service, "context": context, "runs": [run]}
    return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()


def build_origin(path: Path, sequences: int) -> int:
    """A bare origin whose results branch holds `sequences` sequences; returns its commits."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=path, stdin=subprocess.PIPE)
    out = proc.stdin
    assert out is not None
    mark = 0
    when = 1_700_000_000

    def data(blob: bytes) -> None:
        out.write(b"data %d\n" % len(blob))
        out.write(blob)
        out.write(b"\n")

    def commit(branch: str, message: str, files: dict[str, bytes], first: bool) -> None:
        nonlocal mark, when
        mark += 1
        when += 1
        out.write(f"commit refs/heads/{branch}\nmark :{mark}\n".encode())
        out.write(f"committer reconciler <reconciler@localhost> {when} +0000\n".encode())
        data(message.encode())
        if not first:
            out.write(f"from :{mark - 1}\n".encode())
        for name, content in files.items():
            out.write(f"M 100644 inline {name}\n".encode())
            data(content)

    commit("main", "shipyard", {"shipyard.yaml": b"apiVersion: spec.keptn.sh/0.2.3\nkind: Shipyard\n"}, True)
    commit("reconciler/results", "start", {"state/tips.json": b"{}\n"}, True)
    commits = 1
    for n in range(sequences):
        stage, service = STAGES[n % 3], f"svc-{(n // 3) % SERVICES:03d}"
        context = f"{n:08x}-0000-4000-8000-000000000000"
        for step in range(SEQUENCE_COMMITS):
            files = {f"sequences/{stage}/{service}/{context}.json": lane(stage, service, context, step)}
            if step == 8:
                files[f"evaluations/{stage}/{service}/20260101T0000{n:08d}Z-{context}.json"] = json.dumps(
                    {"context": context, "result": "pass", "score": 100.0, "time": "2026-01-01T00:00:00Z"}).encode()
            commit("reconciler/results", f"{stage}/{service} step {step}", files, False)
            commits += 1
    out.write(b"done\n")
    out.close()
    if proc.wait() != 0:
        raise SystemExit("fast-import failed")
    subprocess.run(["git", "gc", "--quiet"], cwd=path, check=True)     # a served origin is packed
    return commits


CHILD_FRESH = """
import sys, time, resource
from pathlib import Path
from reconciler.gitstore import Mirror, Writer
from reconciler.controller.journal import Journal
from reconciler.controller.index import Index
t = time.perf_counter()
m = Mirror(sys.argv[1], sys.argv[2]); m.fetch()
fetched = time.perf_counter() - t
n = Index(Path(sys.argv[2]) / "index.sqlite").sync(Journal(m, Writer(m)))
print(time.perf_counter() - t, fetched, n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CHILD_REPLAY = """
import sys, time, resource
import pygit2
from reconciler.gitstore.mirror import copy_missing
src = pygit2.Repository(sys.argv[1])
dst = pygit2.init_repository(sys.argv[2], bare=True)
tip = src.references["refs/heads/reconciler/results"].target
t = time.perf_counter()
copy_missing(src, dst, tip, [])
print(time.perf_counter() - t, 0, 0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def child(code: str, *args: str) -> tuple[float, float, int, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    seconds, fetched, files, rss_kib = out.stdout.split()
    return float(seconds), float(fetched), int(files), int(rss_kib) / 1024


def clone_seconds(url: str, dest: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["git", "clone", "-q", "--mirror", url, str(dest)], check=True)
    return time.perf_counter() - t


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--replay-max", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args(argv)
    sizes = [1000] if opts.quick else [int(s) for s in opts.sizes.split(",")]
    repeats = 1 if opts.quick else opts.repeats
    print(f"{'sequences':>9} {'commits':>8} | {'clone --mirror':>14} | {'fresh start':>12} {'(fetch)':>8} "
          f"{'ratio':>6} {'RSS MiB':>8} | {'replay (old)':>12}")
    for size in sizes:
        root = Path(tempfile.mkdtemp(prefix="freshstart-"))
        try:
            origin = root / "origin.git"
            commits = build_origin(origin, size)
            url = origin.as_uri()
            clones, fresh, fetch, rss = [], [], [], []
            for r in range(repeats):
                clones.append(clone_seconds(url, root / f"clone-{r}.git"))
                seconds, fetched, _, mib = child(CHILD_FRESH, url, str(root / f"work-{r}"))
                fresh.append(seconds)
                fetch.append(fetched)
                rss.append(mib)
            replay = "-"
            if size <= opts.replay_max:
                seconds, _, _, _ = child(CHILD_REPLAY, str(origin), str(root / "replay.git"))
                replay = f"{seconds:10.2f} s"
            clone, ours = statistics.median(clones), statistics.median(fresh)
            print(f"{size:>9} {commits:>8} | {clone:12.2f} s | {ours:10.2f} s {statistics.median(fetch):6.2f} s "
                  f"{ours / clone:5.2f}x {max(rss):8.0f} | {replay:>12}   "
                  f"(clone {min(clones):.2f}-{max(clones):.2f}, fresh {min(fresh):.2f}-{max(fresh):.2f})", flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    sys.exit(main(sys.argv[1:]))
