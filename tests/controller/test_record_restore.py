"""A deleted or rewound `reconciler/results` on the origin is detected and the record restored
by a new commit on top (never a force-push), keeping what people added there."""
from __future__ import annotations

import json
import subprocess

import pytest

from reconciler import contract
from reconciler.controller.journal import RESTORED_EVENT, Batch, Journal
from reconciler.gitstore import Mirror, Writer
from reconciler.gitstore.trailers import parse as parse_trailers
from tests.support.remotes import make_origin


def git(*args: str, cwd) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def setup(tmp_path):
    origin = make_origin(tmp_path / "origin.git", {"main": {"shipyard.yaml": "stages: []\n"}})
    mirror = Mirror(origin.as_uri(), tmp_path / "work")
    mirror.fetch()
    journal = Journal(mirror, Writer(mirror))
    for i in range(3):
        batch = Batch()
        batch.put(f"sequences/dev/svc/ctx-{i}.json", json.dumps({"n": i}).encode())
        batch.note(f"record {i}")
        journal.commit(batch)
    return origin, mirror, journal


def record_files(origin) -> set[str]:
    return set(git("ls-tree", "-r", "--name-only", contract.RESULTS_BRANCH, cwd=origin).splitlines())


def write_one(journal: Journal, name: str):
    batch = Batch()
    batch.put(f"sequences/dev/svc/{name}.json", b"{}\n")
    batch.note(name)
    return journal.commit(batch)


def test_a_deleted_results_branch_is_restored_with_a_new_commit_on_the_old_history(setup):
    origin, mirror, journal = setup
    before = git("rev-parse", contract.RESULTS_BRANCH, cwd=origin)
    git("update-ref", "-d", f"refs/heads/{contract.RESULTS_BRANCH}", cwd=origin)
    mirror.fetch()                                         # the mirror follows the origin: branch gone
    assert journal.tip() is None
    write_one(journal, "ctx-new")
    assert record_files(origin) == {f"sequences/dev/svc/ctx-{i}.json" for i in range(3)} | {
        "sequences/dev/svc/ctx-new.json"}
    # the old history is still reachable: the restore commit's parent is the last record
    assert git("merge-base", "--is-ancestor", before, contract.RESULTS_BRANCH, cwd=origin) == ""
    restore = git("log", "--format=%B", "-1", f"{contract.RESULTS_BRANCH}~1", cwd=origin)
    assert "restore the record: reconciler/results was deleted on the origin" in restore
    assert parse_trailers(restore).get(contract.TRAILER_EVENT) == RESTORED_EVENT


def test_a_rewound_results_branch_is_restored_and_keeps_what_a_person_added(setup, tmp_path):
    origin, mirror, journal = setup
    first = git("rev-list", "--reverse", contract.RESULTS_BRANCH, cwd=origin).splitlines()[0]
    git("update-ref", f"refs/heads/{contract.RESULTS_BRANCH}", first, cwd=origin)   # lost two records
    clone = tmp_path / "human"
    git("clone", "-q", "-b", contract.RESULTS_BRANCH, str(origin), str(clone), cwd=tmp_path)
    (clone / "NOTES.md").write_text("a person's note\n")
    git("add", "NOTES.md", cwd=clone)
    git("-c", "user.name=P", "-c", "user.email=p@example.com", "commit", "-qm", "note", cwd=clone)
    git("push", "-q", "origin", contract.RESULTS_BRANCH, cwd=clone)
    human = git("rev-parse", "HEAD", cwd=clone)
    mirror.fetch()
    assert journal.guard() is not None
    files = record_files(origin)
    assert {f"sequences/dev/svc/ctx-{i}.json" for i in range(3)} <= files and "NOTES.md" in files
    # a fast-forward for the origin: the person's commit is an ancestor of the new tip
    assert git("merge-base", "--is-ancestor", human, contract.RESULTS_BRANCH, cwd=origin) == ""
    assert journal.guard() is None                       # restored: nothing more to do


def test_people_adding_commits_on_top_is_not_a_loss(setup, tmp_path):
    origin, mirror, journal = setup
    clone = tmp_path / "human"
    git("clone", "-q", "-b", contract.RESULTS_BRANCH, str(origin), str(clone), cwd=tmp_path)
    (clone / "NOTES.md").write_text("note\n")
    git("add", "NOTES.md", cwd=clone)
    git("-c", "user.name=P", "-c", "user.email=p@example.com", "commit", "-qm", "note", cwd=clone)
    git("push", "-q", "origin", contract.RESULTS_BRANCH, cwd=clone)
    count = int(git("rev-list", "--count", contract.RESULTS_BRANCH, cwd=origin))
    mirror.fetch()
    assert journal.guard() is None
    write_one(journal, "after-note")
    assert int(git("rev-list", "--count", contract.RESULTS_BRANCH, cwd=origin)) == count + 1
