"""HA: two controllers on one repo, one Kubernetes Lease (fake API server): exactly one works;
when it stops, the standby takes over and processes the next push."""
from __future__ import annotations

import httpx

from reconciler.controller.executors import NoExecutors
from reconciler.runtime.service import ServeOptions, Service
from tests.support.fake_kube import FakeKube
from tests.support.waiting import wait_until


def replica(origin, workdir, kube: FakeKube, identity: str) -> Service:
    options = ServeOptions(repo=origin.url, workdir=workdir, port=0, poll_interval=0.05,
                           lease=("default", "reconciler"), identity=identity)
    return Service(options, executors=NoExecutors(),
                   environ={"RECONCILER_API_TOKEN": "t", "RECONCILER_KUBE_URL": kube.url,
                            "RECONCILER_KUBE_TOKEN": kube.token}).start()


def test_only_the_lease_holder_works_and_the_standby_takes_over(origin, human_factory, tmp_path):
    with FakeKube() as kube:
        kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
        a = replica(origin, tmp_path / "a", kube, "a")
        wait_until(lambda: a.elector.is_leader, what="a to lead")
        b = replica(origin, tmp_path / "b", kube, "b")
        try:
            assert httpx.get(a.url + "/readyz").status_code == 200 or a.controller.wait_ready(30)
            standby = httpx.get(b.url + "/readyz")
            assert standby.status_code == 503 and "standby" in standby.json()["reason"]
            dev = human_factory(origin.url, "dev")
            first = dev.change("helloservice/values.yaml", "image: helloservice:9.0.0\n", "one")
            wait_until(lambda: a.index.runs(), what="the leader to record the push")
            assert b.index.runs() == [] and not b.elector.is_leader
            a.stop()                                   # releases the lease
            wait_until(lambda: b.elector.is_leader, timeout=15, what="b to take over")
            assert b.controller.wait_ready(30)
            second = dev.change("helloservice/values.yaml", "image: helloservice:9.0.1\n", "two")
            runs = wait_until(lambda: len(b.index.runs()) == 2 and b.index.runs(), what="b to catch up")
            assert sorted(r["trigger_commit"] for r in runs) == sorted([first, second])   # each once
        finally:
            b.stop()
            a.stop()
