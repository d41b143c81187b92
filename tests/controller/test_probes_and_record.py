"""Honest probes and a record that is never silently lost, on a real controller (issues 12, 13).

* a deleted `reconciler/results` is put back right after the fetch that saw it gone, before the
  index syncs, and the restore is noted;
* a second controller on the same origin stops writing, and says whom it yields to;
* `/healthz` fails while one pass of the loop is stuck, `/readyz` while a fault stands;
* a fault that repeats (a full disk) is logged once, not once per retry;
* a corrupt object in the origin is named, while the controller stays live and ready.
"""
from __future__ import annotations

import errno
import logging
import subprocess
import threading

import httpx
import pytest
from click.testing import CliRunner

from reconciler import contract
from reconciler.cli import main as cli
from reconciler.gitstore.trailers import parse as parse_trailers
from tests.gitstore.test_gitstore_corrupt_origin import loose, truncate
from tests.support.controller import seeded_origin
from tests.support.waiting import wait_until

good: dict[str, bytes] = {}


def push_truncated_blob(origin, rel: str, content: bytes) -> tuple[str, str]:
    """A commit on dev whose new blob is a loose object truncated before the branch moves,
    so no fetch can have copied it intact; (blob id, commit id)."""
    import pygit2
    repo = pygit2.Repository(str(origin))
    parent = repo.references["refs/heads/dev"].peel(pygit2.Commit)
    blob = str(repo.create_blob(content))
    good[blob] = truncate(loose(origin, blob))
    folder, name = rel.split("/")
    sub = repo.TreeBuilder(parent.tree[folder])
    sub.insert(name, pygit2.Oid(hex=blob), pygit2.enums.FileMode.BLOB)
    top = repo.TreeBuilder(parent.tree)
    top.insert(folder, sub.write(), pygit2.enums.FileMode.TREE)
    sig = pygit2.Signature("Human", "human@example.com")
    commit = repo.create_commit(None, sig, sig, "4.0.0", top.write(), [parent.id])
    repo.references["refs/heads/dev"].set_target(commit)
    return blob, str(commit)


@pytest.fixture
def origin(tmp_path):
    return seeded_origin(tmp_path / "config.git")


def git(*args: str, cwd) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def results_commits(origin) -> list[dict[str, str]]:
    """Trailers of every commit on reconciler/results."""
    out = git("log", "--format=%B%x00", contract.RESULTS_BRANCH, cwd=origin)
    return [parse_trailers(m.strip()) for m in out.split("\0") if m.strip()]


def deliver(human_factory, origin, image: str) -> str:
    return human_factory(origin.as_uri(), "dev").change("helloservice/values.yaml",
                                                        f"image: helloservice:{image}\nreplicaCount: 1\n", image)


def status_json(workdir) -> dict:
    import json
    result = CliRunner().invoke(cli, ["status", "--workdir", str(workdir), "-o", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_deleted_results_branch_is_restored_after_the_fetch_before_the_index_syncs(origin, service_factory,
                                                                                     human_factory):
    service = service_factory(origin.as_uri(), poll=0, watch=False)
    deliver(human_factory, origin, "1.0.0")
    service.controller.notify_tips_changed("test")
    wait_until(lambda: service.index.runs(), what="the first run")
    before = git("rev-parse", contract.RESULTS_BRANCH, cwd=origin)
    runs = service.index.runs()
    seen_empty = []
    original = service.index.sync

    def watching_sync(journal):                      # the index must never see the record gone
        if journal.tip() is None:
            seen_empty.append(True)
        return original(journal)

    service.index.sync = watching_sync
    git("update-ref", "-d", f"refs/heads/{contract.RESULTS_BRANCH}", cwd=origin)
    service.controller.notify_tips_changed("test")
    wait_until(lambda: service.controller.health()["notices"].get("record-restored"), what="the restore")
    assert git("merge-base", "--is-ancestor", before, contract.RESULTS_BRANCH, cwd=origin) == ""
    assert not seen_empty and service.index.runs() == runs
    assert "deleted on the origin" in status_json(service.workdir)["controller"]["notices"]["record-restored"]


def test_a_second_controller_on_the_same_origin_stops_writing_and_names_the_first(origin, service_factory,
                                                                                  human_factory):
    first = service_factory(origin.as_uri(), name="first", poll=0.2)
    second = service_factory(origin.as_uri(), name="second", poll=0.2)
    deliveries = 4
    for i in range(deliveries):
        deliver(human_factory, origin, f"2.0.{i}")
        wait_until(lambda i=i: len({r["trigger_commit"] for r in first.index.runs()}) > i, timeout=30,
                   what=f"delivery {i}")
    wait_until(lambda: second.controller.halted, timeout=30, what="the second controller to stop writing")
    ready = httpx.get(second.url + "/readyz")
    assert ready.status_code == 503
    assert first.journal.identity in ready.json()["reason"] and "another controller" in ready.json()["reason"]
    assert httpx.get(first.url + "/readyz").status_code == 200
    assert httpx.get(second.url + "/healthz").status_code == 200     # restarting it would not help
    # its status says so too
    assert first.journal.identity in status_json(second.workdir)["controller"]["faults"]["foreign-controller"]
    text = CliRunner().invoke(cli, ["status", "--workdir", str(second.workdir)]).output
    assert "NOT READY: another controller writes reconciler/results" in text and first.journal.identity in text
    # the requests it gets are refused with the reason, not recorded
    refused = httpx.post(second.url + "/api/v1/sequences/none/control", json={"state": "abort"},
                         headers={"x-token": "test-token"}).json()
    assert refused["code"] == "foreign-controller"
    # the record is not doubled: the second one wrote at most the batch that raced the first
    writers = [c.get("Reconciler-Controller") for c in results_commits(origin)]
    mine, theirs = writers.count(first.journal.identity), writers.count(second.journal.identity)
    assert theirs <= 2 and mine + theirs < 2 * mine
    settled = len(writers)
    deliver(human_factory, origin, "2.1.0")
    wait_until(lambda: len({r["trigger_commit"] for r in first.index.runs()}) > deliveries, timeout=30,
               what="one more delivery")
    writers = [c.get("Reconciler-Controller") for c in results_commits(origin)]
    assert writers.count(second.journal.identity) == theirs and len(writers) > settled


def test_with_a_lease_the_journal_leaves_the_decision_to_the_lease(origin, tmp_path):
    from reconciler.runtime.service import ServeOptions, Service
    service = Service(ServeOptions(repo=origin.as_uri(), workdir=tmp_path / "leased", port=0,
                                   lease=("default", "reconciler")), environ={"RECONCILER_API_TOKEN": "t"})
    try:
        assert service.journal.exclusive is False
        service.controller.standby("standby: waiting for the lease default/reconciler")
        assert service.controller.health()["alive"] is True          # a standby is not restarted
        assert service.controller.ready() == (False, "standby: waiting for the lease default/reconciler")
    finally:
        service.stop()
    plain = Service(ServeOptions(repo=origin.as_uri(), workdir=tmp_path / "plain", port=0),
                    environ={"RECONCILER_API_TOKEN": "t"})
    try:
        assert plain.journal.exclusive is True
    finally:
        plain.stop()


def test_healthz_fails_while_the_loop_is_stuck_and_recovers(origin, service_factory, monkeypatch):
    from reconciler.controller.health import Health
    service = service_factory(origin.as_uri(), poll=0, watch=False)
    health: Health = service.controller.health_state
    monkeypatch.setattr(health, "stuck_after", 0.5)
    release, entered = threading.Event(), threading.Event()

    def stuck(now):                                    # a pass that never ends (until released)
        entered.set()
        release.wait(60)

    monkeypatch.setattr(service.controller, "check_approvals", stuck)
    assert httpx.get(service.url + "/healthz").status_code == 200
    service.controller.notify_tips_changed("test")
    assert entered.wait(10)
    answer = wait_until(lambda: (r := httpx.get(service.url + "/healthz")).status_code == 503 and r, timeout=10,
                        what="/healthz to fail")
    assert "has not advanced" in answer.json()["reason"]
    release.set()
    wait_until(lambda: httpx.get(service.url + "/healthz").status_code == 200, timeout=10, what="/healthz again")


def test_an_idle_loop_is_not_stuck(origin, service_factory, monkeypatch):
    service = service_factory(origin.as_uri(), poll=0, watch=False)
    monkeypatch.setattr(service.controller.health_state, "stuck_after", 0.01)
    threading.Event().wait(0.3)                         # the loop waits for work meanwhile
    assert httpx.get(service.url + "/healthz").status_code == 200


def test_a_full_disk_is_logged_once_fails_readyz_and_recovers(origin, service_factory, human_factory,
                                                              monkeypatch, caplog):
    service = service_factory(origin.as_uri(), poll=0.1)
    mirror = service.controller.mirror
    real_fetch, calls, full = mirror.fetch, [], threading.Event()
    full.set()

    def fetch(*args, **kwargs):                         # what writing objects on a full disk raises
        calls.append(1)
        if full.is_set():
            raise OSError(errno.ENOSPC, "No space left on device", str(mirror.path / "objects" / f"tmp_{len(calls)}"))
        return real_fetch(*args, **kwargs)

    monkeypatch.setattr(mirror, "fetch", fetch)
    caplog.set_level(logging.INFO, logger="reconciler")
    commit = deliver(human_factory, origin, "3.0.0")
    wait_until(lambda: len(calls) >= 6, timeout=30, what="several attempts")
    ready = httpx.get(service.url + "/readyz")
    assert ready.status_code == 503 and "No space left on device" in ready.json()["reason"]
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1 and failures[0].exc_info, [r.getMessage() for r in failures]
    full.clear()
    wait_until(lambda: httpx.get(service.url + "/readyz").status_code == 200, timeout=30, what="ready again")
    wait_until(lambda: [r for r in service.index.runs() if r["trigger_commit"] == commit], timeout=30,
               what="the delivery pushed while the disk was full")       # nothing lost
    assert any("resolved" in r.getMessage() for r in caplog.records)


def test_a_corrupt_object_in_the_origin_is_named_while_the_controller_serves_its_last_state(
        origin, service_factory, human_factory):
    service = service_factory(origin.as_uri(), poll=0.2)
    good_tip = service.mirror.tip("dev")
    blob, commit = push_truncated_blob(origin, "helloservice/values.yaml",
                                       b"image: helloservice:4.0.0\nreplicaCount: 1\n" + b"#\n" * 500)
    path = loose(origin, blob)
    answer = wait_until(lambda: blob in (r := httpx.get(service.url + "/readyz")).json()["reason"] and r,
                        timeout=30, what="/readyz to name the object")
    assert answer.status_code == 200 and service.mirror.tip("dev") == good_tip     # its last good state
    assert httpx.get(service.url + "/healthz").status_code == 200
    assert blob in status_json(service.workdir)["controller"]["notices"]["origin-object"]
    path.write_bytes(good[blob])                                           # repaired
    wait_until(lambda: service.mirror.tip("dev") == commit, timeout=30, what="the fetch after the repair")
    wait_until(lambda: blob not in httpx.get(service.url + "/readyz").json()["reason"], timeout=10,
               what="the notice to clear")
