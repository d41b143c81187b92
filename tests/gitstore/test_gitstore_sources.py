"""Trigger sources: polling and the local watch call back on pushes and only on pushes."""
from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from reconciler.gitstore import LocalWatch, Mirror, Poller, Writer
from reconciler.gitstore.localwatch import is_ref_change
from tests.support.remotes import every_transport, git

WAIT = 10.0   # upper bound for "eventually"; never a performance assertion


class Calls:
    """A thread-safe callback that counts calls and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count >= n, timeout)


def read_only_access(url: str, tmp_path: Path, mirror: Mirror) -> None:
    """What other readers do to a repo: clone, ls-remote, fetch (CLI and libgit2)."""
    git("clone", "-q", "--bare", url, str(tmp_path / "reader.git"))
    git("ls-remote", url)
    git("fetch", "-q", url, "refs/heads/*:refs/remotes/x/*", cwd=tmp_path / "reader.git")
    mirror.ls_remote()
    mirror.fetch()


# ---------------------------------------------------------------------------- Poller

@every_transport
def test_poller_calls_back_on_a_push_and_not_on_reads(origin, workdir, human_factory, tmp_path):
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    calls = Calls()
    poller = Poller.for_mirror(mirror, calls, interval=1.0)
    assert poller.poll_once() is False

    read_only_access(origin.url, tmp_path, Mirror(origin.url, tmp_path / "other"))
    assert poller.poll_once() is False

    human_factory(origin.url, "dev").change("carts/values.yaml", "image: carts:7\n")
    assert poller.poll_once() is True and calls.count == 1
    assert poller.poll_once() is True and calls.count == 2    # until the controller fetches
    mirror.fetch()
    assert poller.poll_once() is False

    Writer(mirror).write("dev", lambda tip: {"x": b"1"}, "our own write")
    assert poller.poll_once() is False and calls.count == 2  # our pushes update the mirror
    assert (poller.polls, poller.changes) == (6, 2)


def test_poller_thread_notices_a_push_and_stops(remotes, workdir, human_factory):
    origin = remotes.origin("daemon", {"main": {"a": "1"}})
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    calls = Calls()
    with Poller.for_mirror(mirror, calls, interval=0.05) as poller:
        human_factory(origin.url).change("a", "2")
        assert calls.wait_for(1)
        thread = poller._thread
    assert thread is not None and not thread.is_alive()


def test_poller_without_known_tips_compares_with_the_previous_poll():
    answers = iter([{"main": "a"}, {"main": "a"}, {"main": "b"}, {"main": "b", "dev": "c"}, {"dev": "c"}])
    calls = Calls()
    poller = Poller(lambda: next(answers), calls, interval=1)
    assert [poller.poll_once() for _ in range(5)] == [False, False, True, True, True]
    assert calls.count == 3


def test_poller_survives_errors_and_backs_off():
    errors: list[Exception] = []
    state = {"fail": 2}
    calls = Calls()

    def remote():
        if state["fail"]:
            state["fail"] -= 1
            raise OSError("remote down")
        return {"main": "x"}

    poller = Poller(remote, calls, interval=0.01, known_tips=lambda: {"main": "old"}, on_error=errors.append,
                    jitter=0.0, max_backoff=0.03)
    assert poller.next_delay() == pytest.approx(0.01)
    with poller:
        assert calls.wait_for(1)
    assert len(errors) == 2 and all("remote down" in str(e) for e in errors) and poller.errors == 2
    poller._failures_in_a_row = 10
    assert poller.next_delay() == pytest.approx(0.03)          # capped while failing


def test_poll_intervals_are_jittered_by_ten_percent():
    poller = Poller(lambda: {}, lambda: None, interval=2.0, rng=random.Random(7))
    delays = [poller.next_delay() for _ in range(500)]
    assert all(1.8 <= d <= 2.2 for d in delays)
    assert max(delays) - min(delays) > 0.3                     # actually spread, not constant
    with pytest.raises(ValueError):
        Poller(lambda: {}, lambda: None, interval=0)


# ---------------------------------------------------------------------------- LocalWatch

@pytest.fixture
def local_origin(remotes):
    return remotes.origin("file", {"main": {"a": "1"}, "dev": {"svc/values.yaml": "v: 1\n"}})


def test_local_watch_calls_back_on_pushes(local_origin, workdir, human_factory):
    calls = Calls()
    errors: list[Exception] = []
    watch = LocalWatch.for_url(local_origin.url, calls, on_error=errors.append)
    assert watch is not None
    with watch:
        human = human_factory(local_origin.url, "dev")
        human.change("svc/values.yaml", "v: 2\n")                       # git CLI push
        assert calls.wait_for(1)
        mirror = Mirror(local_origin.url, workdir)
        mirror.fetch()
        Writer(mirror).write("dev", lambda tip: {"x": b"1"}, "ours")    # libgit2 push
        assert calls.wait_for(2)
        human.push("approve/dev/svc/12345678")                          # new nested branch
        assert calls.wait_for(3)
        git("pack-refs", "--all", cwd=local_origin.path)               # refs now only in packed-refs
        n = calls.count
        git("push", "-q", "origin", ":refs/heads/approve/dev/svc/12345678", cwd=human.path)
        assert calls.wait_for(n + 1)                                    # a deletion rewrites packed-refs
    assert not errors


def test_local_watch_ignores_read_only_access(local_origin, tmp_path):
    calls = Calls()
    seen: list[tuple[str, bool]] = []
    probes = threading.Event()
    probe_paths = {str(local_origin.path / "refs" / "probe.lock"), str(local_origin.path / "probe.lock")}
    seen_probes: set[str] = set()

    def on_event(event, accepted):
        seen.append((str(event.src_path), accepted))
        if str(event.src_path) in probe_paths:
            seen_probes.add(str(event.src_path))
            if seen_probes == probe_paths:
                probes.set()

    with LocalWatch(local_origin.path, calls, on_event=on_event) as watch:
        read_only_access(local_origin.url, tmp_path, Mirror(local_origin.url, tmp_path / "m"))
        # Probes: a lock file in each watched folder. inotify delivers in order per watch, so
        # once both probes are seen, every event the reads caused has been seen too.
        for probe in probe_paths:
            Path(probe).write_text("probe")
        assert probes.wait(WAIT)
        assert watch.events == 0 and calls.count == 0
    assert all(not accepted for _, accepted in seen)


def test_a_failing_callback_does_not_stop_the_watch(local_origin, human_factory):
    errors: list[Exception] = []
    calls = Calls()

    def flaky():
        calls()
        if calls.count == 1:
            raise RuntimeError("controller busy")

    with LocalWatch(local_origin.path, flaky, on_error=errors.append):
        human = human_factory(local_origin.url, "dev")
        human.change("svc/values.yaml", "v: 2\n")
        assert calls.wait_for(1)
        human.change("svc/values.yaml", "v: 3\n")
        assert calls.wait_for(2)
    assert [str(e) for e in errors] == ["controller busy"]


def test_event_filter(tmp_path):
    root = tmp_path
    heads = root / "refs" / "heads"
    assert is_ref_change(FileMovedEvent(str(heads / "main.lock"), str(heads / "main")), root)
    assert is_ref_change(FileMovedEvent(str(root / "packed-refs.lock"), str(root / "packed-refs")), root)
    assert is_ref_change(DirCreatedEvent(str(heads / "approve")), root)
    assert is_ref_change(FileModifiedEvent(str(heads / "main")), root)
    assert not is_ref_change(FileCreatedEvent(str(heads / "main.lock")), root)
    assert not is_ref_change(FileOpenedEvent(str(heads / "main")), root)
    assert not is_ref_change(FileClosedNoWriteEvent(str(root / "packed-refs")), root)
    assert not is_ref_change(FileModifiedEvent(str(root / "config")), root)
    assert not is_ref_change(FileMovedEvent(str(root / "HEAD.lock"), str(root / "HEAD")), root)


def test_local_watch_only_for_local_repos(local_origin, tmp_path):
    assert LocalWatch.for_url("git://127.0.0.1:1/x.git", lambda: None) is None
    assert LocalWatch.for_url("https://example.com/x.git", lambda: None) is None
    assert LocalWatch.for_url(str(tmp_path), lambda: None) is None            # not a repo
    assert LocalWatch.for_url(str(local_origin.path), lambda: None) is not None
    with pytest.raises(ValueError, match="not a bare Git repository"):
        LocalWatch(tmp_path, lambda: None)
