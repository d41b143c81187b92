"""The contract between the controller and the built-in task executors.

An executor gets a task's `.triggered` event and the services it may use (`TaskEnv`), and
answers with a `TaskOutcome` (becomes the task's `.finished`) or `Pending` (the task has
started and will be finished later by something the controller watches, e.g. a merged
approval branch). Executors never touch controller state: they run in a worker thread and
their answer goes back through the controller's inbox, so the sequencer stays the only
place where sequence state changes.

Idempotency: `TaskRequest.key` is stable for a dispatch; an executor that writes to Git passes
it (plus a suffix) as the writer's `step`, so a redelivered dispatch after a crash finds its
earlier commit instead of making a second one.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from reconciler.engine.events import CloudEvent

if TYPE_CHECKING:  # adapters, only for type hints
    from reconciler.gitstore import Mirror, Writer
    from reconciler.spec.settings import Settings
    from reconciler.spec.shipyard import Shipyard
    from reconciler.targets.base import DeploymentTarget

Result = Literal["pass", "warning", "fail"]
Status = Literal["succeeded", "errored"]


@dataclass(frozen=True)
class TaskRequest:
    event: CloudEvent                 # the task's `.triggered` event
    key: str                          # idempotency key of this dispatch
    run_id: str
    context: str
    stage: str
    service: str
    task: str
    redelivery: bool = False

    @property
    def data(self) -> dict[str, Any]:
        return self.event.data

    @property
    def project(self) -> str:
        return str(self.event.data.get("project") or "")

    @property
    def commit(self) -> str | None:
        """The config-repo commit this task must read (Keptn's gitcommitid)."""
        return self.event.gitcommitid

    @property
    def properties(self) -> dict[str, Any]:
        """This task's shipyard properties (merged under `data.<task>`)."""
        value = self.event.data.get(self.task)
        return value if isinstance(value, dict) else {}

    def step(self, suffix: str) -> str:
        """A `Reconciler-Step` for a write this dispatch makes."""
        return f"{self.key}/{suffix}"


@dataclass(frozen=True)
class TaskOutcome:
    """The task's `.finished`: `data` is merged into the event data as Keptn executors do
    (task-specific payload under the task name, e.g. `{"deployment": {...}}`)."""

    result: Result
    status: Status = "succeeded"
    message: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    gitcommitid: str | None = None            # the commit later tasks read (a new write-back)
    journal: Mapping[str, bytes] = field(default_factory=dict)   # files for reconciler/results

    @classmethod
    def errored(cls, message: str, **data: Any) -> TaskOutcome:
        return cls(result="fail", status="errored", message=message, data=data)


@dataclass(frozen=True)
class Pending:
    """The task started and finishes later (e.g. a human merges the approval branch).
    `data` goes into the `.started` event, so a restarted controller knows what it waits for."""

    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Detached:
    """The executor did its part and something outside answers the task (a webhook with
    `sendFinished: false`: the called system sends the `.finished` through the API). The
    controller records no answer for this executor; the task's timeouts still apply."""

    message: str


class TaskEnv(Protocol):
    """The services an executor may use; the controller provides one implementation.

    Optional: `job_runner() -> reconciler.tasks.jobs.JobRunner`, the runner for
    `job/config.yaml` tasks (e.g. a `KubernetesJobRunner` when `spec.jobs.runner` is
    kubernetes). Without it the job executor runs tasks locally under `<workdir>/jobs`."""

    workdir: Path
    environ: Mapping[str, str]        # secrets and endpoints come from here, never from the repo
    mirror: Mirror
    writer: Writer
    log: logging.Logger

    @property
    def settings(self) -> Settings: ...

    @property
    def shipyard(self) -> Shipyard | None: ...

    @property
    def default_branch(self) -> str: ...

    def target(self, stage: str) -> DeploymentTarget | None:
        """The deployment target of a stage (None: `target: none`)."""

    def previous_evaluations(self, stage: str, service: str, limit: int) -> list[dict[str, Any]]:
        """Evidence documents of earlier evaluations, newest first (for SLO comparison)."""

    def config_ref(self, stage: str, service: str, commit: str | None) -> str | None:
        """The commit whose quality-gate files (slo, sli, remediation, job config) of this
        service to read: `commit`, unless the service's config is currently invalid, in
        which case the last valid one (invalid config never replaces the last valid)."""

    def now(self) -> float: ...

    def file_sd_path(self, stage: str, service: str) -> Path | None:
        """Where the local target lists the replicas of a service (for load generators)."""


class Executor(Protocol):
    """A built-in executor. `applies` decides whether it answers this task at all (several
    executors may answer one task; Keptn aggregates their results).

    Optional attribute `started_on_dispatch` (default True): False asks the controller not to
    send `.started` at dispatch, because the executor's own `Pending` becomes its `.started`
    (the approval executor: one `.started` per source, and it must carry the pending data)."""

    name: str

    def applies(self, request: TaskRequest, env: TaskEnv) -> bool: ...

    def run(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome | Pending | Detached: ...
