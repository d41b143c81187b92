"""Issue 5: kill -9 at several points of a sequence, restart → every sequence finishes exactly
once and no write-back commit is made twice."""
from __future__ import annotations

import json
import re

import httpx
import pytest

from reconciler import contract
from tests.support.controller import ServeProcess, processes_under
from tests.support.remotes import git_out
from tests.support.waiting import poll, wait_until


def results_commits(origin) -> int:
    try:
        return int(git_out("rev-list", "--count", contract.RESULTS_BRANCH, cwd=origin))
    except Exception:  # noqa: BLE001 - no results branch yet
        return 0


def lanes(origin) -> dict[str, dict]:
    try:
        paths = git_out("ls-tree", "-r", "--name-only", contract.RESULTS_BRANCH, "sequences/", cwd=origin)
    except Exception:  # noqa: BLE001
        return {}
    return {p: json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:{p}", cwd=origin))
            for p in paths.splitlines()}


def runs(origin) -> list[dict]:
    return [run for doc in lanes(origin).values() for run in doc["runs"]]


def run_summary(origin) -> list[tuple]:
    return [(r["stage"], r["sequence"], r["state"], r.get("result"),
             [e["type"].removeprefix("sh.keptn.event.") for e in r["events"]][-3:]) for r in runs(origin)]


@pytest.fixture
def start_serve(project, tmp_path, sli_source):
    """Starts `reconciler serve` on the project's origin and this worker's Prometheus, in one
    work dir (so a second call after a kill -9 is the restart); returns it once ready."""
    _, prom = sli_source

    def start() -> ServeProcess:
        serve = ServeProcess(str(project.origin), tmp_path / "work", poll=0.1,
                             extra_env={"RECONCILER_PROMETHEUS_URL": prom.url})
        try:
            serve.wait_ready()
        except BaseException:
            serve.stop()
            raise
        return serve
    return start


def await_production_approval(origin, serve: ServeProcess) -> None:
    """Wait for the delivery to reach production's manual approval; on a timeout say where
    each run stands and what the controller logged (CI shows only the assertion)."""
    try:
        wait_until(lambda: any(r["stage"] == "production" and r["state"] == "waitingForApproval"
                               for r in runs(origin)), timeout=90, what="the production approval")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nruns: {run_summary(origin)}\nlog:\n{serve.log_excerpt()}") from None


def settled(origin, api: str) -> dict | None:
    """The successor's state when it has nothing queued and all it recorded is on the origin."""
    try:
        metrics = httpx.get(f"{api}/metrics", timeout=5).text
        status = httpx.get(f"{api}/api/v1/status", headers={"x-token": "test-token"}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    inbox = re.search(r"^reconciler_inbox_depth (\S+)$", metrics, re.M)
    origin_tip = git_out("rev-parse", contract.RESULTS_BRANCH, cwd=origin)
    if inbox is None or float(inbox.group(1)) != 0 or status.get("resultsCommit") != origin_tip:
        return None
    return status


def await_settled(origin, serve: ServeProcess) -> None:
    """Wait until the restarted controller has drained its inbox and pushed everything it
    recorded. Every task it redelivered comes before the production approval in the one
    sequence chain, so by then any duplicate write-back, answer or evaluation is on the origin."""
    api = json.loads((serve.workdir / "serve.json").read_text())["api"]
    try:
        wait_until(lambda: settled(origin, api), timeout=30, interval=0.05,
                   what="the restarted controller to settle (inbox empty, results pushed)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nruns: {run_summary(origin)}\nlog:\n{serve.log_excerpt()}") from None


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [3, 7, 12])
def test_kill9_mid_sequence_finishes_each_sequence_exactly_once(project, human_factory, tmp_path, start_serve,
                                                                  kill_after):
    origin = project.origin
    workdir = tmp_path / "work"
    serve = start_serve()
    try:
        start = results_commits(origin)
        dev = human_factory(str(origin), "dev")
        dev.change("helloservice/values.yaml", "image: helloservice:1.7.0\nreplicaCount: 1\n", "ship 1.7.0")
        wait_until(lambda: results_commits(origin) >= start + kill_after, timeout=60,
                   interval=0.005, what=f"{kill_after} results commits")
        serve.kill9()
        serve = start_serve()
        await_production_approval(origin, serve)
        await_settled(origin, serve)
    finally:
        serve.stop()
    # the killed controller's replicas were taken over by its successor, which stopped them
    poll(lambda: not processes_under(workdir), timeout=15, interval=0.1)
    assert processes_under(workdir) == []

    all_runs = runs(origin)
    context = all_runs[0]["context"]
    by_sequence = {}
    for run in all_runs:
        by_sequence.setdefault((run["stage"], run["sequence"]), []).append(run)
    assert sorted(by_sequence) == [("dev", "delivery"), ("production", "delivery"), ("staging", "delivery")]
    for (stage, sequence), found in by_sequence.items():
        assert len(found) == 1, f"{stage}.{sequence} ran {len(found)} times"
        finished = [e for e in found[0]["events"] if e["type"] == f"sh.keptn.event.{stage}.{sequence}.finished"]
        assert len(finished) == (0 if stage == "production" else 1)
        # every task answered at most once per executor
        finished_tasks = [e["triggeredid"] + e["source"] for e in found[0]["events"]
                          if e["type"].endswith(".finished") and e.get("triggeredid")]
        assert len(finished_tasks) == len(set(finished_tasks))
    # write-backs happened once: one promotion commit on staging, one approval commit
    staging = git_out("log", "--format=%H", f"--grep=Reconciler-Context: {context}", "staging", cwd=origin)
    assert len(staging.splitlines()) == 1
    branch = contract.approval_branch("production", "helloservice", context)
    approval = git_out("log", "--format=%H", f"--grep=Reconciler-Context: {context}", branch, cwd=origin)
    assert len(approval.splitlines()) == 1
    # one evaluation record per gate
    evidence = git_out("ls-tree", "-r", "--name-only", contract.RESULTS_BRANCH, "evaluations/", cwd=origin)
    for stage in ("dev", "staging"):
        assert len([p for p in evidence.splitlines() if p.startswith(f"evaluations/{stage}/")]) == 1


@pytest.mark.slow
def test_ref_locks_left_by_a_kill9_inside_an_update_do_not_stop_the_successor(project, human_factory, tmp_path,
                                                                               start_serve):
    """A writer killed between creating `<ref>.lock` and renaming it leaves the lock, and
    neither git nor libgit2 ever removes it: every later update of that ref would fail."""
    origin = project.origin
    workdir = tmp_path / "work"
    serve = start_serve()
    try:
        serve.kill9()
        planted = [gitdir / f"{ref}.lock" for gitdir in (origin, workdir / "mirror.git")
                   for ref in (f"refs/heads/{contract.RESULTS_BRANCH}", "refs/heads/staging")]
        for lock in planted:
            lock.parent.mkdir(parents=True, exist_ok=True)
            lock.write_text("0" * 40 + "\n")
        serve = start_serve()
        dev = human_factory(str(origin), "dev")
        dev.change("helloservice/values.yaml", "image: helloservice:1.8.0\nreplicaCount: 1\n", "ship 1.8.0")
        await_production_approval(origin, serve)
    finally:
        serve.stop()
    assert [p for p in planted if p.exists()] == []
    log = (workdir.parent / f"{workdir.name}-serve.log").read_text()
    assert "a lock" in log and "left by a git writer that died" in log
    assert "left by a reconciler that died while updating its mirror" in log
