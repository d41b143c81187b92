"""Fuzz run: 10,000 hostile HTTP requests against a `reconciler serve` process and 10,000
mutated YAML documents through every reader (issue 12's must-show).

Run: `.venv/bin/python -m bench.fuzz_bench [--http 10000] [--yaml 10000] [--seed 1]`.
Reports the answers by status, 5xx answers (must be 0), tracebacks in the serve log (must
be 0), the serve process' peak RSS (VmHWM) next to its RSS when idle after start (the
same-run baseline), and the YAML readers' unexpected exceptions (must be 0).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.support.controller import EXAMPLE, ServeProcess, seeded_origin
from tests.support.fuzzing import WEBHOOK_SECRET, corpus_seeds, fuzz_http, fuzz_yaml

SHARED = Path(__file__).resolve().parents[2] / "shared"


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=10_000)
    parser.add_argument("--yaml", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.http, opts.yaml = 1_000, 1_000
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    failed = False
    try:
        origin = seeded_origin(root / "origin.git")
        serve = ServeProcess(origin.as_uri(), root / "work", extra_env={"RECONCILER_WEBHOOK_SECRET": WEBHOOK_SECRET})
        try:
            api = serve.wait_ready()
            idle = rss_kib(serve.proc.pid, "VmRSS")
            report = fuzz_http(api, "test-token", opts.http, seed=opts.seed, budget_seconds=1800,
                               alive=lambda: serve.proc.poll() is None)
            peak = rss_kib(serve.proc.pid, "VmHWM")
        finally:
            serve.stop()
        log = Path(serve.log.name).read_text(errors="replace")
        tracebacks = log.count("Traceback (most recent call last)")
        answers = dict(sorted(report.statuses.items()))
        print(f"HTTP: {report.requests} requests in {report.seconds:.1f} s; answers {answers}")
        print(f"HTTP: 5xx answers {len(report.server_errors)}, tracebacks in the serve log {tracebacks}")
        print(f"serve RSS: idle after start {idle / 1024:.1f} MiB, peak during the run {peak / 1024:.1f} MiB "
              f"({peak / max(idle, 1):.2f}x)")
        for line in report.server_errors[:10]:
            print("  ", line)
        failed |= bool(report.server_errors) or tracebacks > 0 or report.requests < opts.http
        yaml_report = fuzz_yaml(opts.yaml, corpus_seeds(SHARED, EXAMPLE), seed=opts.seed, budget_seconds=1800)
        print(f"YAML: {yaml_report.documents} documents x 6 readers in {yaml_report.seconds:.1f} s; "
              f"{yaml_report.rejected} rejections with the reader's own error, "
              f"{len(yaml_report.unexpected)} unexpected exceptions")
        for line in yaml_report.unexpected[:10]:
            print("  ", line)
        failed |= bool(yaml_report.unexpected) or yaml_report.documents < opts.yaml
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
