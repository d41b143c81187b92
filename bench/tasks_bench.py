"""Built-in executor benchmarks: what one task costs beyond the Git write or query it makes.

Run: `.venv/bin/python -m bench.tasks_bench [--quick]`. A config repo with N services × 3
stages on a `file://` origin (N = 500, `--quick` 50), history of a few hundred commits.
Every figure is compared with a baseline measured in the same run:

1. Git write-backs — baseline: `Writer.write` of one file on a stage branch (in-memory
   commit + compare-and-swap push), the least any write-back can cost. Measured: promotion
   (the change set of `<service>/` set as state; `bench/promotion_bench.py` compares it with
   the cherry-pick it replaced), scaling (read, edit, commit), rollback (history scan, revert,
   commit), opening a manual approval (promotion commit + branch), and `decide` on a waiting
   approval (what every tips change costs per pending approval).
2. Dispatch: `Registry.executors_for` (which reads the job config up to three times) —
   baseline: one `Mirror.read` of a file.
3. Evaluation — baseline: `provider.evaluate_window` with the same SLO, SLIs and window
   against a stub Prometheus; measured: the evaluation executor end to end (file reads at
   the config commit, three SLI layers, history from the results branch, evidence).
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from reconciler.engine.commands import Promote
from reconciler.quality import evidence
from reconciler.quality.provider import evaluate_window
from reconciler.quality.providers.prometheus import PrometheusProvider
from reconciler.quality.providers.prometheus.client import PrometheusConfig
from reconciler.quality.sli import SliContext, merge_indicators, parse_sli
from reconciler.spec.settings import Settings
from reconciler.tasks.action import ScalingExecutor
from reconciler.tasks.approval import ApprovalExecutor, decide
from reconciler.tasks.base import Pending
from reconciler.tasks.evaluation import EvaluationExecutor
from reconciler.tasks.promotion import promote
from reconciler.tasks.registry import Registry
from reconciler.tasks.rollback import RollbackExecutor
from tests.support.prometheus import Reply, misbehaving_server, vector
from tests.support.remotes import git
from tests.support.taskenv import Deployed, FakeTaskEnv

STAGES = ("dev", "staging", "production")
SLO = """\
objectives:
  - {sli: response_time, pass: [{criteria: ["<=300"]}], warning: [{criteria: ["<=500"]}]}
  - {sli: error_rate, pass: [{criteria: ["<=0.05"]}]}
  - {sli: throughput, pass: [{criteria: [">=10"]}]}
total_score: {pass: "90%", warning: "75%"}
"""
SLI = "indicators:\n  response_time: q1\n  error_rate: q2\n  throughput: q3\n"


def make_repo(path: Path, services: int, history: int) -> Path:
    """main + three stage branches with `services` folders, `history` commits per stage."""
    git("init", "-q", "--bare", "-b", "main", str(path))
    out = bytearray()

    def data(b: bytes) -> bytes:
        return b"data %d\n" % len(b) + b + b"\n"

    who = b"author Bench <bench@example.com> 1700000000 +0000\ncommitter Bench <bench@example.com> 1700000000 +0000\n"
    out += b"commit refs/heads/main\nmark :1\n" + who + data(b"project")
    out += b"M 100644 inline shipyard.yaml\n" + data(b"apiVersion: spec.keptn.sh/0.2.2\n")
    out += b"M 100644 inline sli.yaml\n" + data(SLI.encode()) + b"\n"
    for s, stage in enumerate(STAGES):
        out += b"commit refs/heads/%s\n" % stage.encode() + who + data(b"services") + b"from :1\n"
        for i in range(services):
            name = f"svc-{i:04d}".encode()
            out += b"M 100644 inline %s/values.yaml\n" % name + data(
                b"# values\nimage: %s:1.0\ntier: web\nreplicaCount: %d  # per stage\n" % (name, s + 1))
            out += b"M 100644 inline %s/slo.yaml\n" % name + data(SLO.encode())
            out += b"M 100644 inline %s/prometheus/sli.yaml\n" % name + data(SLI.encode())
        out += b"\n"
        for h in range(history):
            out += b"commit refs/heads/%s\n" % stage.encode() + who + data(b"bump %d" % h)
            out += b"M 100644 inline svc-%04d/notes.txt\n" % (h % services) + data(b"note %d\n" % h) + b"\n"
    git("fast-import", "--quiet", cwd=path, input=bytes(out))
    git("gc", "-q", cwd=path)
    return path


def timed(fn: Callable[[int], object], n: int, warmup: int = 2) -> list[float]:
    for i in range(warmup):
        fn(i - warmup)
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def med(ms: list[float]) -> float:
    return statistics.median(ms)


def row(label: str, ms: list[float], base: float | None) -> None:
    ratio = f"{med(ms) / base:6.2f}×" if base else "     1×"
    p90 = sorted(ms)[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    print(f"  {label:<52} median {med(ms):8.2f} ms   p90 {p90:8.2f} ms   {ratio}   (n={len(ms)})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    services, history, n = (50, 100, 15) if args.quick else (500, 300, 40)
    with tempfile.TemporaryDirectory(prefix="tasks-bench-") as tmp:
        base = Path(tmp)
        origin = make_repo(base / "origin.git", services, history)
        env = FakeTaskEnv(origin.as_uri(), base / "work", settings=Settings.from_data(
            {"metadata": {"name": "shop"}, "spec": {"sli": {"prometheus": {"url": "http://127.0.0.1:9"}}}}))
        print(f"repo: {services} services × 3 stages, {history} history commits per stage, file:// origin")
        writes(env, n)
        dispatch(env, n)
        evaluation(env, n)


def dev_change(env: FakeTaskEnv, i: int, service: str = "svc-0001") -> tuple[str, str]:
    base = env.mirror.tip("dev")
    text = f"# values\nimage: {service}:2.{i + 100}\ntier: web\nreplicaCount: 1  # per stage\n".encode()
    commit = env.writer.write("dev", lambda tip: {f"{service}/values.yaml": text}, f"bump {i}").oid
    assert base and commit
    return base, commit


def writes(env: FakeTaskEnv, n: int) -> None:
    print("\n## 1. Git write-backs (file:// origin)")
    baseline = timed(lambda i: env.writer.write(
        "staging", lambda tip: {"svc-0002/notes.txt": f"baseline {i}\n".encode()}, f"baseline {i}"), n)
    b = med(baseline)
    row("baseline: Writer.write of one file", baseline, None)

    changes: dict[int, tuple[str, str, str]] = {}

    def prepare(i: int) -> tuple[str, str, str]:
        base, commit = dev_change(env, i)
        context = str(uuid.uuid4())
        changes[i] = (base, commit, context)
        return changes[i]

    def do_promote(i: int) -> None:
        base, commit, context = changes[i]
        answer = promote(Promote(f"{context}/staging/0/-/promote", f"{context}/staging/0", context, "svc-0001",
                                 "dev", "staging", commit, base), env)
        assert answer.__class__.__name__ == "PromotionFinished", answer

    for i in range(-2, n):
        prepare(i)
    row("promotion (change set of <service>/ set as state, commit, push)", timed(do_promote, n), b)

    env.target_impl.deployed[("production", "svc-0003")] = Deployed("x", {}, {}, 1)

    def scale(i: int) -> None:
        request = env.request("action", "production", "svc-0003", {"action": {"action": "scaling", "value": "+1"}},
                              key=f"scale-{i}")
        outcome = ScalingExecutor().run(request, env)
        assert outcome.result == "pass", outcome.message
    row("scaling (read values, line edit, commit, push, scale)", timed(scale, n), b)

    newest_first = iter(sorted(changes, reverse=True))     # older ones conflict with newer promotions

    def do_rollback(i: int) -> None:
        base, commit, context = changes[next(newest_first)]
        request = env.request("rollback", "staging", "svc-0001",
                              {"configurationChange": {"commit": commit, "base": base}}, context=context)
        outcome = RollbackExecutor().run(request, env)
        assert outcome.result == "pass", outcome.message
    row("rollback (history scan, revert, commit, push, deploy)", timed(do_rollback, n), b)

    pendings: dict[int, tuple] = {}

    def open_approval(i: int) -> None:
        service = f"svc-{10 + i:04d}"           # one service each: every change applies cleanly
        base, commit = dev_change(env, i, service)
        context = str(uuid.uuid4())
        request = env.request("approval", "production", service, {"result": "warning", "approval": {
            "warning": "manual", "promotion": {"commit": commit, "base": base, "key": f"{context}/p"}}},
            context=context)
        t = time.perf_counter()
        pending = ApprovalExecutor().run(request, env)
        opened.append((time.perf_counter() - t) * 1000)
        assert isinstance(pending, Pending), pending
        pendings[i] = (pending, request)
    opened: list[float] = []
    for i in range(n):
        open_approval(i)
    row("open a manual approval (promotion commit + branch)", opened, b)
    waiting = timed(lambda i: decide(pendings[i % n][0].data, pendings[i % n][1], env), n)
    row("decide on a waiting approval (per tips change)", waiting, b)


def dispatch(env: FakeTaskEnv, n: int) -> None:
    print("\n## 2. Choosing executors for a dispatch")
    read = timed(lambda i: env.mirror.read("dev", "svc-0005/values.yaml"), n * 10)
    row("baseline: Mirror.read of one file", read, None)
    registry = Registry()
    request = env.request("deployment", "dev", "svc-0005")
    row("Registry.executors_for (job config lookup ×3 + built-ins)",
        timed(lambda i: registry.executors_for(request, env), n * 10), med(read))


def evaluation(env: FakeTaskEnv, n: int) -> None:
    print("\n## 3. Evaluation (stub Prometheus on loopback)")
    end = time.time() - 60
    with misbehaving_server(Reply(body=vector(42.0))) as stub:
        env.settings = Settings.from_data({"metadata": {"name": "shop"},
                                           "spec": {"sli": {"prometheus": {"url": stub.url}}}})
        config = PrometheusConfig.from_settings(env.settings.spec.sli.prometheus)
        indicators = merge_indicators(parse_sli(SLI), parse_sli(SLI))
        window = SliContext(end - 600, end, "shop", "dev", "svc-0006")
        baseline = timed(lambda i: evaluate_window(SLO, indicators, window, PrometheusProvider(config), []), n)
        row("baseline: evaluate_window (3 SLIs, no history)", baseline, None)
        data = {"evaluation": {"start": evidence.iso(end - 600), "end": evidence.iso(end)}}
        request = env.request("evaluation", "dev", "svc-0006", data)
        outcome = EvaluationExecutor().run(request, env)
        assert outcome.status == "succeeded", outcome.message
        row("evaluation executor, no history", timed(lambda i: EvaluationExecutor().run(request, env), n),
            med(baseline))
        for i in range(20):
            env.clock = lambda i=i: end + i
            env.record(EvaluationExecutor().run(request, env))
        row("evaluation executor, 20 stored evaluations", timed(lambda i: EvaluationExecutor().run(request, env), n),
            med(baseline))
        sizes = [len(json.dumps(outcome.data)), len(next(iter(outcome.journal.values())))]
        print(f"  payload: evaluation.finished data {sizes[0]} bytes, evidence document {sizes[1]} bytes")


if __name__ == "__main__":
    main()
