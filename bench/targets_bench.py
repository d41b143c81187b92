"""Deployment targets: what a deploy, a rolling redeploy and a scale cost.

local target, baseline measured in the same run: start one bare `python svc.py` process and
poll its health endpoint until it answers (what any process supervisor must at least do).
kubernetes target against the fake API server, baseline: one GET round trip through the
official client, so the ratio reads as "round trips per operation".

    .venv/bin/python -m bench.targets_bench [--quick]
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sampling import interleaved  # noqa: E402
from reconciler.kube.client import Kube, KubeAccess  # noqa: E402
from reconciler.spec.settings import Settings  # noqa: E402
from reconciler.targets.base import DeployRequest  # noqa: E402
from reconciler.targets.kubernetes import KubernetesTarget  # noqa: E402
from reconciler.targets.local import LocalTarget  # noqa: E402
from reconciler.targets.processes import check_health, free_port  # noqa: E402
from tests.support.fake_kube import FakeKube  # noqa: E402

SVC = ROOT / "tests" / "targets" / "svc.py"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 1
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec: {containers: [{name: hello, image: placeholder}]}
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec: {selector: {app: hello}, ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: hello-config}
data: {a: "1"}
"""


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def report(name: str, samples: list[float], baseline: float | None = None) -> float:
    med = statistics.median(samples)
    ratio = f"  x{med / baseline:.1f} baseline" if baseline else ""
    p90 = sorted(samples)[min(len(samples) - 1, math.ceil(len(samples) * 0.9) - 1)]
    print(f"{name:<52} median {med:8.2f} ms  p90 {p90:8.2f} ms"
          f"  (n={len(samples)}){ratio}")
    return med


def bare_process_start(work: Path) -> None:
    port = free_port()
    env = {"PATH": os.environ["PATH"], "PORT": str(port)}
    proc = subprocess.Popen([sys.executable, str(SVC)], env=env, cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not check_health(port, "/healthz", timeout=1)[0]:
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait()


def bench_local(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        folder = tmp_path / "export" / "hello"
        folder.mkdir(parents=True)
        shutil.copy(SVC, folder / "svc.py")
        (folder / "local.yaml").write_text("command: [python, svc.py]\nstartTimeout: 20s\n")
        target = LocalTarget(tmp_path / "work", poll_interval=0.01)
        try:
            n = {"i": 0}

            def deploy(service: str, replicas: int):
                n["i"] += 1
                target.deploy(DeployRequest("shop", "dev", service, f"{n['i']:040d}", folder,
                                            {"image": f"hello:{n['i']}", "replicaCount": replicas}))

            deploy("scaled", 1)

            def scale_cycle():
                target.scale("dev", "scaled", 3)
                target.scale("dev", "scaled", 1)

            samples = interleaved({
                "baseline": lambda: bare_process_start(tmp_path),
                "deploy1": lambda: deploy("one", 1),
                "deploy4": lambda: deploy("four", 4),
                "scale": scale_cycle,
            }, runs)
            base = report("baseline: bare process start + health", samples["baseline"])
            report("local: rolling deploy, 1 replica", samples["deploy1"], base)
            report("local: rolling deploy, 4 replicas", samples["deploy4"], base)
            report("local: scale 1 -> 3 -> 1", samples["scale"], base)
        finally:
            target.close()


def bench_kubernetes(runs: int) -> None:
    with FakeKube() as fake, tempfile.TemporaryDirectory() as tmp:
        kube = Kube.connect(KubeAccess(url=fake.url, token=fake.token))
        folder = Path(tmp) / "hello"
        (folder / "k8s").mkdir(parents=True)
        (folder / "k8s" / "all.yaml").write_text(DEPLOYMENT)
        fake.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop-dev"}})
        base = report("baseline: one GET through the official client",
                      timed(lambda: kube.get("/api/v1/namespaces/shop-dev"), runs * 10))
        settings = Settings.from_data({"metadata": {"name": "shop"}})
        target = KubernetesTarget(kube, settings, poll_interval=0.005)
        n = {"i": 0}

        def deploy():
            n["i"] += 1
            target.deploy(DeployRequest("shop", "dev", "hello", f"{n['i']:040d}", folder,
                                        {"image": f"hello:{n['i']}", "replicaCount": 2}))

        report("kubernetes: deploy 3 objects + rollout wait", timed(deploy, runs * 3), base)
        m = {"i": 0}

        def scale():
            m["i"] += 1
            target.scale("dev", "hello", 2 + m["i"] % 3)

        report("kubernetes: scale via subresource + rollout wait", timed(scale, runs * 3), base)
        kube.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else 15
    bench_local(runs)
    bench_kubernetes(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
