"""Promotion by state against the cherry-pick it replaced, at 1,000 services, in one run.

Run: `.venv/bin/python -m bench.promotion_bench [--quick]`. A `file://` config repo with N
services × 3 stages (N = 1,000; `--quick` 100). Every case promotes one service's new image
from dev to staging, where the service's `values.yaml` has a stage-specific line right next
to `image:` (the case the cherry-pick needed its YAML resolver for). Cases take turns
(bench.sampling.interleaved), so load from elsewhere hits all of them:

* baseline: `Writer.write` of one file on staging (in-memory commit + compare-and-swap push);
* cherry-pick (the previous promotion, same-run baseline): three-way merge of dev's diff
  `base..commit` restricted to `<service>/` with the YAML resolver, commit, push;
* state, change set computed at promotion (a context recorded before the change travelled
  in the events): diff of `<service>/`, change set, set keys, commit, push;
* state, change set from the events (the normal path): set keys, commit, push;
* and, outside the promotion, what computing the change set costs once per push trigger.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import uuid
from pathlib import Path

from bench.sampling import interleaved
from bench.tasks_bench import make_repo
from reconciler.engine.commands import Promote
from reconciler.engine.triggers import Trigger
from reconciler.gitstore import threeway
from reconciler.spec.settings import Settings
from reconciler.tasks.common import commit_trailers
from reconciler.tasks.promotion import Change, delivery_change, promote, yaml_resolver
from tests.support.taskenv import FakeTaskEnv


def cherry_pick(env: FakeTaskEnv, service: str, base: str, commit: str, context: str) -> None:
    """The promotion as it was before issue 10: a three-way merge of the diff."""
    change = Change(service, commit, base)

    def build(tip):
        base_tree, change_tree = change.trees(tip.repo)
        result = threeway.merge_into(tip.repo, base_tree, tip.tree, change_tree, f"{service}/", yaml_resolver)
        assert result.ok, result.conflicts
        from reconciler.gitstore.writer import TreeChange
        return TreeChange(result.tree)
    env.writer.write("staging", build, f"promote {service}", commit_trailers(context, "bench"),
                     step=f"{context}/staging/0/-/promote")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    services, runs = (100, 15) if args.quick else (1000, 40)
    with tempfile.TemporaryDirectory(prefix="promotion-bench-") as tmp:
        root = Path(tmp)
        origin = make_repo(root / "origin.git", services, 50)
        env = FakeTaskEnv(origin.as_uri(), root / "work", settings=Settings.from_data({"metadata": {"name": "shop"}}))
        print(f"repo: {services} services × 3 stages, file:// origin; {runs} runs per case, interleaved")
        counter = iter(range(10**6))

        def dev_change() -> tuple[str, str, str]:
            i = next(counter)
            service = f"svc-{(i * 7) % services:04d}"
            base = env.mirror.tip("dev")
            text = f"# values\nimage: {service}:2.{i}\ntier: web\nreplicaCount: 1  # per stage\n".encode()
            commit = env.writer.write("dev", lambda tip: {f"{service}/values.yaml": text}, f"bump {i}").oid
            assert base and commit
            return service, base, commit

        prepared: dict[str, list] = {k: [] for k in ("cherry", "state-diff", "state-events", "trigger")}
        for _ in range(runs + 1):
            for key in prepared:
                prepared[key].append(dev_change())
        env.refresh()
        # the change set of the normal path was computed at trigger time (measured apart)
        files_of = {commit: delivery_change(env.mirror, Trigger("dev", service, "delivery", commit, base, "c",
                                                                (commit,)))["files"]
                    for service, base, commit in prepared["state-events"]}

        def state(key: str, with_files: bool):
            def run() -> None:
                service, base, commit = prepared[key].pop()
                context = str(uuid.uuid4())
                files = files_of[commit] if with_files else None
                answer = promote(Promote(f"{context}/staging/0/-/promote", f"{context}/staging/0", context, service,
                                         "dev", "staging", commit, base, files=files), env)
                assert type(answer).__name__ == "PromotionFinished", answer
            return run

        def cherry() -> None:
            service, base, commit = prepared["cherry"].pop()
            cherry_pick(env, service, base, commit, str(uuid.uuid4()))

        def trigger() -> None:
            service, base, commit = prepared["trigger"].pop()
            delivery_change(env.mirror, Trigger("dev", service, "delivery", commit, base, "c", (commit,)))

        writes = iter(range(10**6))

        def baseline() -> None:
            i = next(writes)
            env.writer.write("staging", lambda tip: {"svc-0002/notes.txt": f"baseline {i}\n".encode()}, f"b {i}")

        cases = {"baseline": baseline, "cherry": cherry, "state-diff": state("state-diff", False),
                 "state-events": state("state-events", True), "trigger": trigger}
        times = interleaved(cases, runs)
        med = {k: statistics.median(v) for k, v in times.items()}
        b, c = med["baseline"], med["cherry"]
        events_only = med["state-events"]
        print(f"  {'baseline: Writer.write of one file':<58} {b:7.2f} ms")
        print(f"  {'cherry-pick (previous promotion, same run)':<58} {c:7.2f} ms   {c / b:5.2f}× baseline")
        print(f"  {'state, change set computed at promotion':<58} {med['state-diff']:7.2f} ms   "
              f"{med['state-diff'] / b:5.2f}× baseline   {med['state-diff'] / c:5.2f}× cherry-pick")
        print(f"  {'state, change set from the events':<58} {events_only:7.2f} ms   "
              f"{events_only / b:5.2f}× baseline   {events_only / c:5.2f}× cherry-pick")
        print(f"  {'computing the change set (once per push trigger)':<58} {med['trigger']:7.2f} ms")


if __name__ == "__main__":
    main()
