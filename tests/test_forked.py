"""Documents checked on several cores give exactly what one core gives; fork only when it
is safe (one thread), and a worker that fails costs time, never a result."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from reconciler import forked
from reconciler.spec.kinds import kind_of_repo_path
from reconciler.spec.project import ProjectValidator, repo_name

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "example-config-repo"


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def test_results_keep_their_order_and_values():
    items = list(range(101))
    assert [v for _, v in forked.map_forked(_pid_and_square, items, 3)] == [x * x for x in items]


def test_with_another_thread_alive_nothing_is_forked():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forked.can_fork()
        pids = {pid for pid, _ in forked.map_forked(_pid_and_square, list(range(50)), 2)}
    finally:
        stop.set()
        thread.join()
    assert pids == {os.getpid()}


FORKING = """
import json, os, sys
from reconciler import forked
from reconciler.spec.kinds import kind_of_repo_path
parent = os.getpid()
FAIL = forked.split(40, 4)[2][0]
def fn(x):
    if os.getpid() != parent and x == FAIL:
        raise RuntimeError("a worker fails")          # that worker's share is redone here
    return os.getpid(), x + 1
out = forked.map_forked(fn, list(range(40)), 4)
print(json.dumps({"parent": parent, "out": out}))
"""


def test_workers_run_in_other_processes_and_a_failed_share_is_redone():
    run = subprocess.run([sys.executable, "-c", FORKING], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    values = [v for _, v in doc["out"]]
    pids = {pid for pid, _ in doc["out"]}
    assert values == [x + 1 for x in range(40)]
    assert len(pids) == 3 and doc["parent"] in pids     # 4 shares: one failed and ran in the parent
    failed = forked.split(40, 4)[2]
    assert {doc["out"][i][0] for i in failed} == {doc["parent"]}


def test_shares_cover_every_item_once_and_this_process_takes_more():
    for count, workers in ((40, 4), (12_000, 2), (7, 3), (1, 2)):
        shares = forked.split(count, workers)
        assert len(shares) == workers
        assert sorted(i for share in shares for i in share) == list(range(count))
    shares = forked.split(12_000, 2)
    assert len(shares[0]) == round(12_000 * forked.PARENT_WEIGHT / (forked.PARENT_WEIGHT + 1))


def test_worker_count_needs_enough_documents_per_core():
    assert forked.worker_count(100, cores=2) == 1
    assert forked.worker_count(12_000, cores=2) == 2
    assert forked.worker_count(12_000, cores=64) == 24


def _big_tree(services: int) -> dict[str, dict[str, bytes]]:
    tree: dict[str, dict[str, bytes]] = {}
    for branch_dir in EXAMPLE.iterdir():
        files = tree[branch_dir.name] = {}
        for f in branch_dir.rglob("*"):
            if not f.is_file():
                continue
            rel = f.relative_to(branch_dir).as_posix()
            if rel.startswith("helloservice/"):
                for i in range(services):
                    text = f"# svc-{i:03d} in {branch_dir.name}\n".encode() + f.read_bytes()   # no two alike
                    if i % 7 == 3 and rel.endswith("slo.yaml"):
                        text += b"\nnot_a_field: [1\n"            # some documents with findings
                    files[f"svc-{i:03d}/" + rel.removeprefix("helloservice/")] = text
            else:
                files[rel] = f.read_bytes()
    return tree


def test_a_warmed_validator_reports_exactly_what_a_cold_one_does():
    tree = _big_tree(60)
    cold = ProjectValidator(repo_name).set_tree(tree).report()
    warmed_validator = ProjectValidator(repo_name).set_tree(tree)
    checked = warmed_validator.warm(lambda fn, items: forked.map_forked(fn, items, 2))
    assert checked == sum(1 for files in tree.values() for p in files
                          if p.startswith("svc-") and kind_of_repo_path(p.split("/", 1)[1]))
    assert warmed_validator.warm(lambda fn, items: forked.map_forked(fn, items, 2)) == 0            # everything is cached now
    warm = warmed_validator.report()
    assert warm.findings == cold.findings
    assert len([f for f in cold.findings if f.severity == "error"]) >= 60 // 7
    assert sorted(warm.services) == sorted(cold.services)
