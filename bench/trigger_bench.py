"""Push → recorded trigger latency of the whole controller, and its cost per push by repo size.

For each trigger source (inotify watch on a local bare repo, a signed push webhook, polling)
a person pushes a one-service change with the git CLI, and we time from `git push`
returning until the triggered run is in the controller's index (which happens right after
the journal commit to `reconciler/results`). Run on a 10-service and a 1,000-service repo
(× 3 stages) to show the per-push cost does not grow with the repo.

Baseline of the same run: the cost of the push itself, and of one bare `Mirror.fetch()`.

    .venv/bin/python -m bench.trigger_bench [--quick]
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from reconciler.controller.executors import NoExecutors
from reconciler.gitstore.seed import seed_bare_repo
from reconciler.runtime.service import ServeOptions, Service

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "example-config-repo"
SECRET = "bench-secret"


def make_layout(dest: Path, services: int) -> Path:
    """The example project with `services` copies of helloservice on every stage."""
    shutil.copytree(EXAMPLE / "main", dest / "main")
    for stage in ("dev", "staging", "production"):
        src = EXAMPLE / stage / "helloservice"
        for i in range(services):
            shutil.copytree(src, dest / stage / f"svc-{i:04d}")
    return dest


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "protocol.version=0", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def measure(origin: Path, work: Path, mode: str, pushes: int) -> dict[str, float]:
    poll = {"watch": 0.0, "webhook": 0.0, "poll-0.1s": 0.1, "poll-1s": 1.0}[mode]
    options = ServeOptions(repo=str(origin), workdir=work, port=0, poll_interval=poll, watch=(mode == "watch"))
    t0 = time.perf_counter()
    service = Service(options, executors=NoExecutors(),
                      environ={"RECONCILER_API_TOKEN": "t", "RECONCILER_WEBHOOK_SECRET": SECRET}).start()
    startup = time.perf_counter() - t0
    clone = work.parent / f"clone-{work.name}"
    git("clone", "-q", "-b", "dev", str(origin), str(clone), cwd=work.parent)
    latencies, push_times = [], []
    http = httpx.Client()
    try:
        for i in range(pushes):
            svc = f"svc-{i % 10:04d}"
            (clone / svc / "values.yaml").write_text(f"image: helloservice:1.{i}.0-{mode}\nreplicaCount: 1\n")
            git("-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-qam", f"push {i}", cwd=clone)
            before = len(service.index.runs(limit=100_000))
            p0 = time.perf_counter()
            git("push", "-q", "origin", "HEAD:dev", cwd=clone)
            pushed = time.perf_counter()
            if mode == "webhook":
                body = b'{"ref":"refs/heads/dev"}'
                sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                http.post(service.url + "/webhooks/github", content=body,
                           headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sig})
            deadline = pushed + 30
            while len(service.index.runs(limit=100_000)) <= before and time.perf_counter() < deadline:
                time.sleep(0.0005)
            latencies.append((time.perf_counter() - pushed) * 1000)
            push_times.append((pushed - p0) * 1000)
            time.sleep(0.05)
    finally:
        http.close()
        service.stop()
    return {"p50": statistics.median(latencies), "p90": sorted(latencies)[int(0.9 * (len(latencies) - 1))],
            "push": statistics.median(push_times), "startup_s": startup}


def fetch_baseline(origin: Path, work: Path, rounds: int = 20) -> float:
    from reconciler.gitstore import Mirror
    mirror = Mirror(str(origin), work)
    mirror.fetch()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        mirror.fetch()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer pushes, small repo only for polling")
    args = ap.parse_args()
    pushes = 8 if args.quick else 25
    with tempfile.TemporaryDirectory(prefix="trigger-bench-") as tmp:
        base = Path(tmp)
        rows = []
        for size in (10, 1000):
            layout = make_layout(base / f"layout-{size}", size)
            origin = base / f"origin-{size}.git"
            seed_bare_repo(origin, layout)
            idle_fetch = fetch_baseline(origin, base / f"fetch-{size}")
            modes = ["watch", "webhook", "poll-0.1s"] + ([] if args.quick else ["poll-1s"])
            for mode in modes:
                work = base / f"work-{size}-{mode}"
                r = measure(origin, work, mode, pushes if not mode.startswith("poll-1") else max(5, pushes // 3))
                rows.append((size, mode, r, idle_fetch))
                print(f"{size:>5} services  {mode:<9}  push→recorded p50 {r['p50']:7.1f} ms  p90 {r['p90']:7.1f} ms"
                      f"  (git push itself {r['push']:.0f} ms; idle fetch {idle_fetch:.2f} ms;"
                      f" startup {r['startup_s']:.2f} s)", flush=True)
        by = {(s, m): r["p50"] for s, m, r, _ in rows}
        for mode in ("watch", "webhook"):
            ratio = by[(1000, mode)] / by[(10, mode)]
            print(f"ratio 1,000 vs 10 services, {mode}: {ratio:.2f} (target ≤ 1.5)")
        print("targets: watch and webhook p50 ≤ 50 ms")


if __name__ == "__main__":
    main()
