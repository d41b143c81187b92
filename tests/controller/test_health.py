"""`Health`: what the probes answer, and that a standing fault is logged once (a fake clock)."""
from __future__ import annotations

import logging

from reconciler.controller.health import Health


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_origin_fails_readiness_only_after_the_grace_and_recovers():
    clock = Clock()
    health = Health(origin_grace=60, clock=clock)
    health.origin_failed("connection refused")
    clock.now += 59
    assert health.not_ready_reasons() == []
    clock.now += 2
    [reason] = health.not_ready_reasons()
    assert "unreachable for 61s" in reason and "connection refused" in reason
    health.origin_ok()
    assert health.not_ready_reasons() == [] and health.snapshot()["origin"]["reachable"] is True


def test_a_busy_pass_is_stuck_after_the_limit_and_waiting_never_is():
    clock = Clock()
    health = Health(stuck_after=300, clock=clock)
    health.idle()
    clock.now += 10_000
    assert health.stuck_for() is None
    health.busy()
    clock.now += 300
    assert health.stuck_for() is None
    clock.now += 1
    assert health.stuck_for() == 301
    health.idle()
    assert health.stuck_for() is None


def test_a_repeating_fault_is_logged_once_per_kind_and_once_when_resolved(caplog):
    caplog.set_level(logging.INFO, logger="reconciler.health")
    published = []
    health = Health(on_change=published.append)
    for attempt in range(20):                    # a full disk names another temporary file each time
        health.fault("loop", f"No space left on device: tmp_{attempt}", signature="OSError:28")
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert health.not_ready_reasons() == ["No space left on device: tmp_19"]
    health.fault("loop", "database is locked", signature="OperationalError:database is locked")
    health.clear("loop")
    health.clear("loop")
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR", "INFO"]
    assert "resolved" in caplog.records[-1].getMessage() and health.not_ready_reasons() == []
    assert len(published) == 3 and published[-1]["faults"] == {}


def test_notices_do_not_fail_readiness():
    health = Health()
    health.notice("origin-object", "corrupt object 865c8e30 in objects/86/5c8e30")
    assert health.not_ready_reasons() == []
    assert "865c8e30" in health.snapshot()["notices"]["origin-object"]
