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


def test_a_second_controller_on_the_same_origin_is_detected_and_the_later_one_stops(setup, tmp_path):
    from reconciler.controller.journal import ForeignController, controller_identity

    origin, first_mirror, first = setup
    second_mirror = Mirror(origin.as_uri(), tmp_path / "second")
    second_mirror.fetch()
    second = Journal(second_mirror, Writer(second_mirror),
                     identity=controller_identity(str(tmp_path / "second"), "2999-01-01T00:00:00.000000Z"))
    write_one(second, "by-second")                   # the later one writes once, unaware
    first_mirror.fetch()
    write_one(first, "by-first")                     # the first sees it, warns, and goes on
    second_mirror.fetch()
    with pytest.raises(ForeignController, match="another controller writes reconciler/results") as caught:
        write_one(second, "by-second-again")
    assert first.identity in str(caught.value)       # it names the other
    assert "sequences/dev/svc/by-second-again.json" not in record_files(origin)


def test_a_later_controller_whose_write_was_put_on_top_of_the_first_ones_stops_too(setup, tmp_path):
    """Its push was rejected and retried on the new tip, so its own commit hides the other's from
    the next check: it must notice at that write."""
    from reconciler.controller.journal import ForeignController, controller_identity

    origin, first_mirror, first = setup
    second_mirror = Mirror(origin.as_uri(), tmp_path / "second")
    second_mirror.fetch()
    second = Journal(second_mirror, Writer(second_mirror),
                     identity=controller_identity(str(tmp_path / "second"), "2999-01-01T00:00:00.000000Z"))
    write_one(second, "by-second")
    first_mirror.fetch()
    write_one(first, "by-first")                     # the second one has not fetched this
    write_one(second, "by-second-on-top")            # rejected, retried on top of by-first: lands
    with pytest.raises(ForeignController) as caught:
        write_one(second, "by-second-again")
    assert first.identity in str(caught.value)
    with pytest.raises(ForeignController):
        second.guard()
    assert "sequences/dev/svc/by-second-again.json" not in record_files(origin)


def test_a_restarted_controller_on_its_own_work_dir_is_not_another(setup):
    from reconciler.controller.journal import controller_identity

    origin, mirror, journal = setup
    old = Journal(mirror, Writer(mirror), identity=controller_identity(str(mirror.workdir), "2000-01-01T00:00:00Z"))
    batch = Batch()
    batch.put("state/x.json", b"{}\n")
    old.writer.write(contract.RESULTS_BRANCH, lambda tip: dict(batch.files), "by the dead incarnation",
                     [("Reconciler-Controller", old.identity)])   # pushed, but died before remembering it
    mirror.fetch()
    write_one(journal, "after-restart")              # no ForeignController
