"""Issue 9: the controller keeps the work dir's mirror packed (`Mirror.maintain` on a schedule).

Every recorded batch leaves loose objects in the mirror (the lane file's blob, its trees, the
commit). Without maintenance they grow with every batch; the controller counts its commits and
packs the loose objects in the worker pool when a check finds too many.
"""
from __future__ import annotations

from concurrent.futures import Future

import pytest

from reconciler.controller.executors import NoExecutors
from reconciler.controller.maintenance import MirrorMaintenance
from reconciler.engine.events import CloudEvent, context_uuid, derived_id
from reconciler.runtime.service import ServeOptions, Service

BATCHES = 120
CHECK_EVERY = 10
LOOSE_LIMIT = 60


def trigger(n: int) -> CloudEvent:
    context = context_uuid(f"maintenance-test:{n}")
    return CloudEvent(type="sh.keptn.event.dev.delivery.triggered",
                      data={"project": "hello", "stage": "dev", "service": "helloservice"},
                      shkeptncontext=context, id=derived_id(context, "trigger"), time="2026-01-01T00:00:00.000Z")


def test_loose_objects_stay_bounded_over_many_recorded_batches(origin, tmp_path):
    options = ServeOptions(repo=origin.url, workdir=tmp_path / "work", port=0, poll_interval=0, watch=False,
                           mirror_check_every=CHECK_EVERY, mirror_loose_limit=LOOSE_LIMIT)
    service = Service(options, executors=NoExecutors(), environ={"RECONCILER_API_TOKEN": "t"}).start()
    try:
        mirror = service.mirror
        maintenance = service.controller.maintenance
        most = 0
        for n in range(BATCHES):          # one input per batch: each answer waits for its commit
            answer = service.controller.submit_event(trigger(n)).result(timeout=30)
            assert answer.accepted, answer
            # a check started after this batch finishes before the next one (however slow the
            # machine), so the bound below does not depend on timing
            assert maintenance.wait_idle(60)
            most = max(most, mirror.loose_objects())
        commits = len(mirror.commits(None, "reconciler/results"))
        assert commits > BATCHES                       # every trigger was its own batch
        assert maintenance.packed >= 2
        # without packing there would be a blob, trees and a commit per batch: far more than this
        bound = LOOSE_LIMIT + CHECK_EVERY * 12
        assert bound < 3 * BATCHES
        assert most <= bound, f"{most} loose objects in the mirror (bound {bound})"
        assert service.controller.health()["lastError"] is None
    finally:
        service.stop()


class FakeMirror:
    """Counts what the schedule asks of a mirror (the packing itself is tested above)."""

    def __init__(self, loose: int):
        self.loose = loose
        self.checks = 0
        self.packs = 0

    def loose_objects(self) -> int:
        self.checks += 1
        return self.loose

    def maintain(self) -> bool:
        self.packs += 1
        self.loose = 0
        return True


class InlinePool:
    """Runs submitted work at once, in the caller's thread (so the schedule is deterministic)."""

    def __init__(self):
        self.submitted = 0

    def submit(self, fn, *args):
        self.submitted += 1
        fn(*args)
        done: Future = Future()
        done.set_result(None)
        return done


@pytest.mark.parametrize("writes,elapsed,loose,checks,packs,at_start", [
    (9, 0.0, 500, 0, 0, False),        # not due yet: nothing runs
    (10, 0.0, 500, 1, 1, False),       # due by writes, over the limit: packed
    (10, 0.0, 99, 1, 0, False),        # due, under the limit: only counted
    (0, 3600.0, 500, 1, 1, False),     # due by time (a quiet controller still gets packed)
    (25, 0.0, 500, 1, 1, False),       # one check however many writes it missed
    (0, 0.0, 500, 1, 1, True),         # at start: a fresh clone may bring many
    (0, 0.0, 99, 1, 0, True),          # at start, under the limit
])
def test_schedule(writes, elapsed, loose, checks, packs, at_start):
    now = [0.0]
    mirror = FakeMirror(loose)
    maintenance = MirrorMaintenance(mirror, check_every=10, interval=3600.0, loose_limit=100, clock=lambda: now[0])
    for _ in range(writes):
        maintenance.wrote()
    now[0] = elapsed
    maintenance.tick(InlinePool(), now_due=at_start)
    assert (mirror.checks, mirror.packs, maintenance.packed) == (checks, packs, packs)


class HeldPool:
    """Keeps submitted work until the test runs it (a check still in progress)."""

    def __init__(self):
        self.held = []

    def submit(self, fn, *args):
        self.held.append((fn, args))
        return Future()

    def run_all(self):
        held, self.held = self.held, []
        for fn, args in held:
            fn(*args)
        return len(held)


def test_one_check_at_a_time():
    mirror = FakeMirror(500)
    maintenance = MirrorMaintenance(mirror, check_every=1, loose_limit=100)
    pool = HeldPool()
    maintenance.wrote()
    maintenance.tick(pool)
    for _ in range(5):                # while that check has not finished, ticks start nothing
        maintenance.wrote()
        maintenance.tick(pool)
    assert pool.run_all() == 1 and mirror.packs == 1
    maintenance.wrote()               # once it finished, the next one may start
    maintenance.tick(pool)
    assert pool.run_all() == 1 and mirror.checks == 2
