"""What the `local` kind costs a whole-repository validation, and what remembering schema
verdicts for string-reading schemas (`schemas.verdict_key`) gives back.

Run: `.venv/bin/python -m bench.validate_kinds_bench [--quick] [--services N]`. In memory (no
Git), N copies of the example's helloservice (every file, a comment naming the copy on top)
in each of the three stages. Cold validations (caches reset), CPU time, medians of rounds
taken in turns:

* baseline — libyaml-parse every config document (the least a validator pays).
* before — `local.yaml` not a kind and schema verdicts remembered by shape only (the
  validator before `local` existed).
* local.yaml, shape only — the new kind, without remembering verdicts for local.yaml and
  job/config.yaml, whose schemas read strings.
* local.yaml, verdict_key — as shipped.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import reconciler.spec.validate as validate_module
from reconciler.layout import split_service
from reconciler.spec.kinds import kind_of_repo_path
from reconciler.spec.project import ProjectValidator
from reconciler.spec.schemas import reset_shape_caches, shape_of, verdict_key
from reconciler.spec.yamltext import load_document

EXAMPLE = Path(__file__).resolve().parents[1] / "example-config-repo"
STAGES = ("dev", "staging", "production")


def build_tree(services: int) -> dict[str, dict[str, bytes]]:
    tree = {"main": {p.name: p.read_bytes() for p in (EXAMPLE / "main").iterdir() if p.is_file()}}
    for stage in STAGES:
        source = EXAMPLE / stage / "helloservice"
        files = {f.relative_to(source).as_posix(): f.read_text() for f in source.rglob("*") if f.is_file()}
        tree[stage] = {f"svc-{i:04d}/{rel}": f"# svc-{i:04d} in {stage}\n{text}".encode()
                       for i in range(services) for rel, text in files.items()}
    return tree


def without_local(tree: dict[str, dict[str, bytes]]) -> dict[str, dict[str, bytes]]:
    return {b: {p: d for p, d in files.items() if not p.endswith("/local.yaml")} for b, files in tree.items()}


def config_documents(tree: dict[str, dict[str, bytes]]) -> list[bytes]:
    return [d for files in tree.values() for p, d in files.items()
            if p in ("shipyard.yaml", "reconciler.yaml") or kind_of_repo_path(split_service(p)[1])]


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def validate_cold(tree, key_fn) -> float:
    validate_module.verdict_key = key_fn
    reset_shape_caches()
    try:
        return cpu(lambda: ProjectValidator().set_tree(tree).report())
    finally:
        validate_module.verdict_key = verdict_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 services, 3 rounds")
    parser.add_argument("--services", type=int, default=None)
    args = parser.parse_args(argv)
    services = args.services or (100 if args.quick else 1000)
    rounds = 3 if args.quick else 5
    tree = build_tree(services)
    docs = config_documents(tree)
    locals_ = sum(1 for files in tree.values() for p in files if p.endswith("/local.yaml"))
    print(f"{services} services x {len(STAGES)} stages: {len(docs)} config documents ({locals_} local.yaml), "
          f"{rounds} rounds, CPU time, medians")

    def before() -> float:      # no local kind: the files are deployable content, not parsed
        import reconciler.spec.project as project_module
        real = project_module.kind_of_repo_path
        project_module.kind_of_repo_path = lambda rel: None if rel == "local.yaml" else real(rel)
        try:
            return validate_cold(tree, shape_of)
        finally:
            project_module.kind_of_repo_path = real

    variants = {
        "baseline: libyaml parse of every config document": lambda: cpu(lambda: [load_document(d) for d in docs]),
        "before: local.yaml not a kind, shape-only verdicts": before,
        "local.yaml a kind, shape-only verdicts": lambda: validate_cold(tree, shape_of),
        "local.yaml a kind, verdict_key (shipped)": lambda: validate_cold(tree, verdict_key),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            times[name].append(run())
    base = statistics.median(times[next(iter(variants))])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:55s} {median * 1e3:8.1f} ms  = {median / base:4.2f}x baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
