"""Issue 4: crash safety. kill -9 between a push and its record → recorded exactly once after
restart; deleting the SQLite index rebuilds the same rows from Git."""
from __future__ import annotations

import json
import time

import pytest

from reconciler import contract
from reconciler.controller.index import Index
from tests.support.controller import ServeProcess, processes_under
from tests.support.remotes import git_out
from tests.support.waiting import poll, wait_until

WAITING_SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: hello}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: external-check}]
    - name: staging
    - name: production
"""


def processed_tip(origin, branch: str) -> str | None:
    try:
        doc = json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:state/tips.json", cwd=origin.path))
    except Exception:  # noqa: BLE001 - not written yet
        return None
    return doc["tips"].get(branch)


@pytest.fixture
def remote_kind():
    return "daemon"        # a network remote: the serve process polls it


def lane_runs(origin) -> list[dict]:
    """Every run recorded on the remote's results branch (the record, not the index)."""
    try:
        listing = git_out("ls-tree", "-r", "--name-only", contract.RESULTS_BRANCH, "sequences/", cwd=origin.path)
    except Exception:  # noqa: BLE001 - no results branch yet
        return []
    out = []
    for path in listing.splitlines():
        doc = json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:{path}", cwd=origin.path))
        out.extend(doc["runs"])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.15, 0.6])
def test_kill9_between_push_and_record_records_the_trigger_exactly_once(origin, human_factory, tmp_path, delay):
    workdir = tmp_path / "work"
    serve = ServeProcess(origin.url, workdir, poll=0.1)
    try:
        serve.wait_ready()
        dev = human_factory(origin.url, "dev")
        commit = dev.change("helloservice/values.yaml", "image: helloservice:1.9.0\nreplicaCount: 1\n", "bump")
        # Deliberate, not a wait for a condition: the delay picks the crash point (0: before
        # the poll saw the push; later: during or after its record), the time is what is tested.
        time.sleep(delay)
        serve.kill9()
        serve = ServeProcess(origin.url, workdir, poll=0.1)
        serve.wait_ready()
        wait_until(lambda: [r for r in lane_runs(origin) if r["trigger"]["gitcommitid"] == commit],
                   timeout=20, what="the trigger to be recorded")
        # give a duplicate every chance to appear, then count
        dev.change("helloservice/values.yaml", "image: helloservice:1.9.1\nreplicaCount: 1\n", "second")
        wait_until(lambda: len(lane_runs(origin)) >= 2, timeout=20, what="the second push")
        triggered = [r for r in lane_runs(origin) if r["trigger"]["gitcommitid"] == commit]
        assert len(triggered) == 1
    finally:
        serve.stop()
    # what the killed controller had started was taken over and stopped by its successor
    poll(lambda: not processes_under(workdir), timeout=15, interval=0.1)
    assert processes_under(workdir) == []


@pytest.mark.slow
def test_deleting_the_index_rebuilds_the_same_rows_from_git(origin, human_factory, tmp_path):
    workdir = tmp_path / "work"
    serve = ServeProcess(origin.url, workdir, poll=0.1)
    try:
        serve.wait_ready()
        # a task no built-in executor answers: the runs wait, so nothing moves across the restart
        main = human_factory(origin.url, "main")
        shipyard = main.change("shipyard.yaml", WAITING_SHIPYARD, "dev delivery waits for an external check")
        wait_until(lambda: processed_tip(origin, "main") == shipyard, what="the new shipyard")
        dev = human_factory(origin.url, "dev")
        for count, image in enumerate(("2.0.1", "2.0.2"), start=1):
            dev.change("helloservice/values.yaml", f"image: helloservice:{image}\nreplicaCount: 1\n", image)
            # one push at a time: pushes seen together are one trigger (the newest commit)
            wait_until(lambda: len(lane_runs(origin)) >= count, what=f"run {count}")  # noqa: B023 - waited for here
        main.pull()
        main.change("shipyard.yaml", "not: [valid", "break it")       # a config finding in the index too
        wait_until(lambda: len(lane_runs(origin)) >= 2, what="two runs")
        wait_until(lambda: not json.loads(git_out("show", f"{contract.RESULTS_BRANCH}:config/status.json",
                                                  cwd=origin.path))["valid"], what="the config error")
        serve.stop()
        old = Index(workdir / "index.sqlite", readonly=True)
        before = old.dump()
        old.close()
        assert before["runs"] and before["events"] and before["documents"]
        for suffix in ("", "-wal", "-shm"):
            (workdir / f"index.sqlite{suffix}").unlink(missing_ok=True)
        serve = ServeProcess(origin.url, workdir, poll=0.1)
        serve.wait_ready()
        serve.stop()
        rebuilt = Index(workdir / "index.sqlite", readonly=True)
        assert rebuilt.dump() == before
        rebuilt.close()
    finally:
        serve.stop()
