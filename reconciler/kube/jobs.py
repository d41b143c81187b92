"""batch/v1 Jobs: create, wait for the outcome, read the pods' logs, delete.

The outcome is read from the Job's conditions (`Complete` / `Failed`, with the reason, e.g.
`DeadlineExceeded` when activeDeadlineSeconds ran out), as the job controller reports it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.kube import resources
from reconciler.kube.client import Kube, NotFound
from reconciler.kube.conflict import with_retries


@dataclass(frozen=True, slots=True)
class JobState:
    name: str
    finished: bool
    succeeded: bool
    reason: str = ""
    message: str = ""


def job_state(job: dict) -> JobState:
    """Outcome facts of a Job object (pure)."""
    name = str((job.get("metadata") or {}).get("name", ""))
    status = job.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return JobState(name, True, True, str(cond.get("reason") or "Complete"), str(cond.get("message") or ""))
        if cond.get("type") == "Failed":
            return JobState(name, True, False, str(cond.get("reason") or "Failed"), str(cond.get("message") or ""))
    return JobState(name, False, False)


def create_job(kube: Kube, namespace: str, body: dict) -> dict:
    return with_retries(lambda: kube.create(resources.JOB.collection(namespace), body))


def wait_for_job(kube: Kube, namespace: str, name: str, timeout: float, *, interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> JobState:
    """Poll until the Job finishes; after `timeout` a JobState with finished=False, reason Timeout."""
    deadline = clock() + timeout
    path = resources.JOB.path(namespace, name)
    while True:
        state = job_state(with_retries(lambda: kube.get(path)))
        if state.finished:
            return state
        if clock() >= deadline:
            return JobState(name, False, False, "Timeout", f"job {name} did not finish within {timeout:g}s")
        sleep(min(interval, max(0.0, deadline - clock())))


def job_logs(kube: Kube, namespace: str, name: str, *, tail_lines: int | None = None) -> str:
    """The logs of the Job's pods (oldest pod first); with `tail_lines` only the end of each
    (the server's `limitBytes` would keep the beginning, and the end is what explains a failure)."""
    pods = with_retries(lambda: kube.list(resources.POD.collection(namespace), f"job-name={name}"))
    pods.sort(key=lambda p: ((p.get("metadata") or {}).get("creationTimestamp") or "",
                             (p.get("metadata") or {}).get("name") or ""))
    out = []
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        try:
            # B023: with_retries calls the lambda at once, inside this iteration
            out.append(with_retries(lambda: kube.text(resources.POD.path(namespace, pod_name, "log"),  # noqa: B023
                                                      {"tailLines": tail_lines})))
        except NotFound:
            continue
    return "".join(out)


def delete_job(kube: Kube, namespace: str, name: str) -> bool:
    """Delete the Job and (background propagation) its pods; False if it was already gone."""
    try:
        with_retries(lambda: kube.delete(resources.JOB.path(namespace, name), propagation="Background"))
        return True
    except NotFound:
        return False
