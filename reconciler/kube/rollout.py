"""Waiting for a Deployment rollout, and scaling through the `scale` subresource.

Done means what `kubectl rollout status` means: the controller has seen the latest spec
(observedGeneration >= generation), every desired replica runs the new template (updated ==
desired), no old replicas are left (replicas == desired) and all are available. A
`Progressing=False/ProgressDeadlineExceeded` condition ends the wait early as a failure.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.kube import resources
from reconciler.kube.client import Kube
from reconciler.kube.conflict import with_retries


@dataclass(frozen=True, slots=True)
class RolloutState:
    name: str
    generation: int
    observed_generation: int
    desired: int
    replicas: int
    updated: int
    ready: int
    available: int
    deadline_exceeded: bool = False

    @property
    def done(self) -> bool:
        return (self.observed_generation >= self.generation and self.updated == self.desired
                and self.replicas == self.desired and self.available == self.desired)

    def describe(self) -> str:
        return (f"observedGeneration {self.observed_generation}/{self.generation}, "
                f"updated {self.updated}/{self.desired}, available {self.available}/{self.desired}, "
                f"total {self.replicas}")


def rollout_state(deployment: dict) -> RolloutState:
    """The rollout facts of a Deployment object (pure)."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    exceeded = any(c.get("type") == "Progressing" and c.get("status") == "False"
                   and c.get("reason") == "ProgressDeadlineExceeded" for c in status.get("conditions") or [])
    desired = spec.get("replicas")
    return RolloutState(
        name=str(meta.get("name", "")),
        generation=int(meta.get("generation") or 0),
        observed_generation=int(status.get("observedGeneration") or 0),
        desired=1 if desired is None else int(desired),
        replicas=int(status.get("replicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        deadline_exceeded=exceeded,
    )


class RolloutTimeout(Exception):
    def __init__(self, namespace: str, state: RolloutState, timeout: float):
        self.namespace, self.state, self.timeout = namespace, state, timeout
        super().__init__(f"rollout of deployment {state.name} in namespace {namespace} did not finish "
                         f"within {timeout:g}s: {state.describe()}")


class RolloutFailed(Exception):
    def __init__(self, namespace: str, state: RolloutState):
        self.namespace, self.state = namespace, state
        super().__init__(f"rollout of deployment {state.name} in namespace {namespace} exceeded its "
                         f"progress deadline: {state.describe()}")


def wait_for_rollout(kube: Kube, namespace: str, name: str, timeout: float, *, interval: float = 0.2,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> RolloutState:
    """Poll the Deployment until its rollout is done; RolloutTimeout/RolloutFailed otherwise."""
    deadline = clock() + timeout
    path = resources.DEPLOYMENT.path(namespace, name)
    while True:
        state = rollout_state(with_retries(lambda: kube.get(path)))
        if state.done:
            return state
        if state.deadline_exceeded:
            raise RolloutFailed(namespace, state)
        if clock() >= deadline:
            raise RolloutTimeout(namespace, state, timeout)
        sleep(min(interval, max(0.0, deadline - clock())))


def read_scale(kube: Kube, namespace: str, name: str) -> int:
    scale = with_retries(lambda: kube.get(resources.DEPLOYMENT.path(namespace, name, "scale")))
    return int((scale.get("spec") or {}).get("replicas") or 0)


def scale_deployment(kube: Kube, namespace: str, name: str, replicas: int, *, attempts: int = 5) -> dict:
    """Set spec.replicas through the scale subresource: read, replace with that
    resourceVersion, and on a 409 read again (bounded)."""
    if replicas < 0:
        raise ValueError("replicas must not be negative")
    path = resources.DEPLOYMENT.path(namespace, name, "scale")

    def attempt() -> dict:
        scale = kube.get(path)
        scale.setdefault("spec", {})["replicas"] = replicas
        return kube.replace(path, scale)

    return with_retries(attempt, attempts=attempts)
