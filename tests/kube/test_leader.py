"""Lease-based leader election against the fake API server (real HTTP, real threads)."""
from __future__ import annotations

import pytest

from reconciler.kube.leader import LeaderElector
from tests.support.waiting import wait_until

TIMING = dict(lease_duration=1.5, renew_deadline=1.0, retry_period=0.05)


@pytest.fixture
def electors(kube, namespace):
    started = []

    def make(identity, **callbacks):
        e = LeaderElector(kube, namespace, "reconciler", identity, **TIMING, **callbacks).start()
        started.append(e)
        return e

    yield make
    for e in started:
        e.stop(release=False)


def lease(fake_kube, namespace):
    return fake_kube.get("leases", namespace, "reconciler")["spec"]


def through_renewals(fake_kube, namespace, count: int, invariant) -> None:
    """Check `invariant()` at every poll until the lease has been renewed `count` times."""
    seen: set[str] = set()

    def renewed() -> bool:
        invariant()
        seen.add(lease(fake_kube, namespace)["renewTime"])
        return len(seen) > count

    wait_until(renewed, interval=0.01, what=f"{count} renewals of the lease")


def test_exactly_one_of_two_candidates_leads(electors, fake_kube, namespace):
    events = []
    a = electors("a", on_started_leading=lambda: events.append("a"))
    b = electors("b", on_started_leading=lambda: events.append("b"))
    assert wait_until(lambda: a.is_leader or b.is_leader)
    leader = a if a.is_leader else b

    def one_leader() -> None:
        assert [a.is_leader, b.is_leader].count(True) == 1

    through_renewals(fake_kube, namespace, 8, one_leader)
    assert leader.is_leader and lease(fake_kube, namespace)["holderIdentity"] == leader.identity
    assert events == [leader.identity]


def test_a_crashed_leader_is_replaced_after_the_lease_expires(electors, fake_kube, namespace):
    a = electors("a")
    assert wait_until(lambda: a.is_leader)
    b = electors("b")
    assert wait_until(lambda: b.observed_holder == "a", what="b to find a holding the lease")

    def b_waits() -> None:
        assert not b.is_leader                           # the lease is renewed, b must wait

    through_renewals(fake_kube, namespace, 4, b_waits)   # while b keeps trying (same retry period)
    a.stop(release=False)                                # crash: the lease is left to expire
    assert wait_until(lambda: b.is_leader)
    spec = lease(fake_kube, namespace)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1


def test_a_stopping_leader_releases_the_lease_for_its_successor(electors, fake_kube, namespace):
    stopped = []
    a = electors("a", on_stopped_leading=lambda: stopped.append("a"))
    assert wait_until(lambda: a.is_leader)
    b = electors("b")
    a.stop(release=True)
    assert stopped == ["a"] and not a.is_leader
    assert wait_until(lambda: b.is_leader)
    assert lease(fake_kube, namespace)["holderIdentity"] == "b"


def test_a_leader_that_loses_the_lease_steps_down(electors, fake_kube, kube, namespace):
    stopped = []
    a = electors("a", on_stopped_leading=lambda: stopped.append("a"))
    assert wait_until(lambda: a.is_leader)
    path = "/apis/coordination.k8s.io/v1/namespaces/shop-dev/leases/reconciler"
    current = kube.get(path)
    current["spec"]["holderIdentity"] = "intruder"
    current["spec"]["renewTime"] = "2099-01-01T00:00:00.000000Z"
    kube.replace(path, current)
    assert wait_until(lambda: not a.is_leader)
    assert stopped == ["a"]


def test_timings_are_validated(kube):
    with pytest.raises(ValueError):
        LeaderElector(kube, "ns", "l", "a", lease_duration=1, renew_deadline=2, retry_period=0.1)
