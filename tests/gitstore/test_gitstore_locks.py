"""Lock files a dead Git writer left: waited for while young, removed once stale, and a
local origin's ref update goes through them."""
from __future__ import annotations

import os
import threading
import time

import pygit2
import pytest

from reconciler.contract import BOT_EMAIL, BOT_NAME
from reconciler.gitstore import Mirror, locks


def _lock(path, age: float = 0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("0" * 40 + "\n")
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def test_a_stale_lock_is_removed_at_once(tmp_path):
    stale = _lock(tmp_path / "refs/heads/dev.lock", age=60)
    slept = []
    broken = locks.wait_or_break([stale, tmp_path / "packed-refs.lock"], stale_after=5, sleep=slept.append)
    assert [p for p, _ in broken] == [stale] and broken[0][1] >= 59
    assert not stale.exists() and slept == []


def test_a_young_lock_is_waited_for_not_broken(tmp_path):
    young = _lock(tmp_path / "refs/heads/dev.lock")
    threading.Timer(0.2, young.unlink).start()          # its writer finishes
    assert locks.wait_or_break([young], stale_after=5) == []
    assert not young.exists()


def test_a_lock_that_stays_is_broken_once_it_is_stale(tmp_path):
    young = _lock(tmp_path / "refs/heads/dev.lock")
    started = time.monotonic()
    broken = locks.wait_or_break([young], stale_after=0.3)
    assert [p for p, _ in broken] == [young] and time.monotonic() - started >= 0.25


def test_all_locks_lists_ref_packed_refs_and_config_locks(tmp_path):
    made = [_lock(tmp_path / "refs/heads/reconciler/results.lock"), _lock(tmp_path / "packed-refs.lock"),
            _lock(tmp_path / "config.lock")]
    (tmp_path / "refs/heads/dev").write_text("x\n")
    assert sorted(locks.all_locks(tmp_path)) == sorted(made)


@pytest.fixture
def remote_kind():
    return "file"


def test_a_local_origin_update_goes_through_a_dead_writers_lock(origin, workdir, monkeypatch):
    monkeypatch.setattr(locks, "STALE_AFTER", 0.3)
    mirror = Mirror(origin.url, workdir)
    base = mirror.fetch()["dev"]
    lock = _lock(origin.path / "refs/heads/dev.lock")
    repo = mirror.repo
    bot = pygit2.Signature(BOT_NAME, BOT_EMAIL)
    ours = repo.create_commit(None, bot, bot, "after a crash", repo[base].tree_id, [repo[base].id])
    mirror.update_branch("dev", ours, pygit2.Oid(hex=base))
    assert not lock.exists()
    assert mirror.fetch()["dev"] == str(ours)


def test_the_owner_clears_its_mirrors_locks(origin, workdir, human_factory):
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    lock = _lock(mirror.path / "refs/heads/dev.lock")
    new = human_factory(origin.url, "dev").change("orders/values.yaml", "image: orders:9\n")
    with pytest.raises(OSError):
        mirror.fetch()                    # what a restarted controller used to hit forever
    assert mirror.clear_locks() == [lock]
    assert mirror.fetch()["dev"] == new
