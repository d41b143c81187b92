"""Leader election on a coordination.k8s.io/v1 Lease, for running several controllers (HA).

The same protocol as client-go's leaderelection (and the official Python client's
`kubernetes.leaderelection`), written small because that module cannot be used as-is here: it
calls `sys.exit` on bad timings, reads the process-wide default client, requires whole-second
periods and has no way to stop or to release the lease.

Protocol: the holder renews `spec.renewTime` every `retry_period`. A candidate takes the Lease
when it has no holder, or when the record it observed has not changed for
`leaseDurationSeconds` *by the candidate's own clock* (so clock skew between machines does not
matter). Every write is a replace carrying the resourceVersion just read, so of two candidates
racing for an expired lease exactly one wins; the other gets a 409. A leader that cannot renew
within `renew_deadline` steps down. `stop(release=True)` empties `holderIdentity` so a
successor takes over at once instead of after the lease duration.
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from reconciler.kube import resources
from reconciler.kube.client import AlreadyExists, Conflict, Kube, KubeError, NotFound

log = logging.getLogger("reconciler.kube.leader")


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, kube: Kube, namespace: str, name: str, identity: str, *,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 on_started_leading: Callable[[], None] | None = None,
                 on_stopped_leading: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.on_started_leading = on_started_leading or (lambda: None)
        self.on_stopped_leading = on_stopped_leading or (lambda: None)
        self.clock = clock
        self._path = resources.LEASE.path(namespace, name)
        self._observed: tuple | None = None
        self._observed_at = 0.0
        self._last_renew = 0.0
        self._leader = False
        self._stop = threading.Event()
        self._release_on_stop = True
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        return self._leader

    # ---- one round of the protocol ---------------------------------------------------------

    def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the lease; True if we hold it afterwards."""
        duration = max(1, math.ceil(self.lease_duration))
        now = _micro_time()
        try:
            lease = self.kube.get(self._path)
        except NotFound:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": duration,
                             "acquireTime": now, "renewTime": now, "leaseTransitions": 0}}
            try:
                created = self.kube.create(resources.LEASE.collection(self.namespace), body)
            except (AlreadyExists, Conflict):
                return False
            self._observe(created.get("spec") or {})
            return True
        spec = dict(lease.get("spec") or {})
        holder = spec.get("holderIdentity") or ""
        self._observe(spec)
        held_for = spec.get("leaseDurationSeconds") or duration
        if holder and holder != self.identity and self.clock() < self._observed_at + held_for:
            return False
        if holder != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update({"holderIdentity": self.identity, "leaseDurationSeconds": duration, "renewTime": now})
        lease["spec"] = spec
        try:
            updated = self.kube.replace(self._path, lease)   # carries the resourceVersion we read
        except Conflict:
            return False
        self._observe(updated.get("spec") or {})
        return True

    def _observe(self, spec: dict) -> None:
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._observed:
            self._observed, self._observed_at = record, self.clock()

    @property
    def observed_holder(self) -> str | None:
        return self._observed[0] if self._observed else None

    def release(self) -> bool:
        """Give the lease up now (holderIdentity emptied) if we hold it."""
        try:
            lease = self.kube.get(self._path)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return False
            spec.update({"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": _micro_time()})
            lease["spec"] = spec
            self.kube.replace(self._path, lease)
            return True
        except KubeError as exc:
            log.info("could not release lease %s/%s: %s", self.namespace, self.name, exc)
            return False

    # ---- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        """Campaign and renew until stop(); callbacks run in this thread and must not block."""
        while not self._stop.is_set():
            try:
                ok = self.try_acquire_or_renew()
            except KubeError as exc:
                log.info("leader election %s/%s: %s", self.namespace, self.name, exc)
                ok = False
            now = self.clock()
            if ok:
                self._last_renew = now
                if not self._leader:
                    self._leader = True
                    log.info("%s became leader of %s/%s", self.identity, self.namespace, self.name)
                    self.on_started_leading()
            elif self._leader and (self.observed_holder not in (None, "", self.identity)
                                   or now - self._last_renew > self.renew_deadline):
                self._step_down()
            wait = self.retry_period if self._leader else self.retry_period * (1 + 0.2 * random.random())
            self._stop.wait(wait)
        if self._leader:
            if self._release_on_stop:
                self.release()
            self._step_down()

    def _step_down(self) -> None:
        self._leader = False
        log.info("%s stopped leading %s/%s", self.identity, self.namespace, self.name)
        self.on_stopped_leading()

    def start(self) -> LeaderElector:
        self._thread = threading.Thread(target=self.run, name=f"leader-{self.identity}", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, release: bool = True, timeout: float = 5.0) -> None:
        """Stop campaigning; with release=False the lease is left to expire (as after a crash)."""
        self._release_on_stop = release
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
