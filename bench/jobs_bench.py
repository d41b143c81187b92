"""Job executor: the cost of running a task through run_job instead of a bare subprocess.

Baseline, measured in the same run: `subprocess.run([python, -c, pass])` (the process itself).
Measured: run_job with the local runner for the same command (matching, planning, a work
directory, a copied file, output capture, redaction), with a 1 MB-output task (bounded
capture), and with the Kubernetes runner against the fake API server (create, poll, logs).

    .venv/bin/python -m bench.jobs_bench [--quick]
"""
from __future__ import annotations

import argparse
import base64
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sampling import interleaved  # noqa: E402
from reconciler.engine.events import CloudEvent  # noqa: E402
from reconciler.kube.client import Kube, KubeAccess  # noqa: E402
from reconciler.spec.jobconfig import load_jobconfig  # noqa: E402
from reconciler.tasks.jobs import LocalJobRunner, run_job  # noqa: E402
from reconciler.tasks.jobs.kube_runner import KubernetesJobRunner  # noqa: E402
from tests.support.fake_kube import FakeKube, JobOutcome  # noqa: E402

CONFIG = """\
apiVersion: v2
actions:
  - name: bench
    events: [{name: sh.keptn.event.test.triggered}]
    tasks:
      - name: t
        image: python:3.11
        files: [data.txt]
        cmd: [python, -c, "{code}"]
        args: ["$(HOST)"]
        env:
          - {name: HOST, value: "$.data.host", valueFrom: event}
          - {name: creds, valueFrom: secret}
"""


def report(name: str, samples: list[float], baseline: float | None = None) -> float:
    med = statistics.median(samples)
    p90 = sorted(samples)[min(len(samples) - 1, math.ceil(len(samples) * 0.9) - 1)]
    ratio = f"  x{med / baseline:.2f} baseline" if baseline else ""
    print(f"{name:<50} median {med:8.2f} ms  p90 {p90:8.2f} ms  (n={len(samples)}){ratio}")
    return med


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run")
    runs = 5 if parser.parse_args(argv).quick else 30
    event = CloudEvent(type="sh.keptn.event.test.triggered", shkeptncontext="ctx", id="bench-1",
                       time="2026-01-01T00:00:00.000Z",
                       data={"project": "p", "stage": "s", "service": "x", "host": "http://x:80"}).to_dict()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        service = tmp_path / "svc"
        service.mkdir()
        (service / "data.txt").write_text("x" * 10_000)
        environ = {**os.environ, "RECONCILER_SECRET_CREDS_TOKEN": "t0ken-value"}
        runner = LocalJobRunner(tmp_path / "jobs", environ=environ)
        quiet = load_jobconfig(CONFIG.replace("{code}", "pass"))
        noisy = load_jobconfig(CONFIG.replace("{code}", "import sys; sys.stdout.write('y' * 1000000)"))
        samples = interleaved({
            "baseline": lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
            "quiet": lambda: run_job(quiet, event, service, runner),
            "noisy": lambda: run_job(noisy, event, service, runner),
        }, runs)
        base = report("baseline: subprocess.run(python -c pass)", samples["baseline"])
        report("run_job, local runner, same command", samples["quiet"], base)
        report("run_job, local runner, 1 MB of output", samples["noisy"], base)

        with FakeKube() as fake:
            fake.job_handler = lambda job: JobOutcome(logs="ok\n" * 100)
            fake.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jobs"}})
            fake.seed({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "jobs"},
                       "data": {"TOKEN": base64.b64encode(b"t0ken-value").decode()}})
            kube = Kube.connect(KubeAccess(url=fake.url, token=fake.token))
            kube_runner = KubernetesJobRunner(kube, namespace="jobs", poll_interval=0.005)
            counter = {"i": 0}

            def kube_run():
                counter["i"] += 1
                ev = {**event, "id": f"ev-{counter['i']}"}
                [result] = run_job(quiet, ev, service, kube_runner)
                assert result.status == "succeeded", result.message

            report("run_job, kubernetes runner (fake API)", interleaved({"k": kube_run}, runs)["k"], base)
            kube.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
