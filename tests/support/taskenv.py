"""A `TaskEnv` for executor tests: a real Mirror and Writer on a real remote, a recording target.

The controller's own TaskEnv does the same wiring with its journal and config state; here
the journal is committed straight to `reconciler/results` (`record`) so that evaluations
find their history exactly where the controller would put it.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.contract import RESULTS_BRANCH
from reconciler.engine.events import CloudEvent, derived_id, iso_time, task_type
from reconciler.gitstore import Mirror, Writer
from reconciler.spec.settings import Settings
from reconciler.spec.shipyard import Shipyard
from reconciler.targets.base import (
    DeploymentFailed,
    DeployRequest,
    DeployResult,
    ReplicaStatus,
    ServiceStatus,
    TargetBase,
    replica_count,
)
from reconciler.tasks.base import TaskOutcome, TaskRequest

CONTEXT = "0b7c3e52-1c7e-4d2a-9f55-7d0a4c1e2f3a"


@dataclass
class Deployed:
    commit: str
    values: dict[str, Any]
    files: dict[str, str]           # relative path -> text, as the target saw the folder
    replicas: int


@dataclass
class RecordingTarget(TargetBase):
    """A DeploymentTarget that remembers every call and what it was given.

    `fail` makes the next deploy/scale raise it (then it is cleared)."""

    calls: list[tuple[str, ...]] = field(default_factory=list)
    deployed: dict[tuple[str, str], Deployed] = field(default_factory=dict)
    fail: DeploymentFailed | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _maybe_fail(self) -> None:
        if self.fail is not None:
            failure, self.fail = self.fail, None
            raise failure

    def deploy(self, request: DeployRequest) -> DeployResult:
        with self.lock:
            self.calls.append(("deploy", request.stage, request.service, request.commit))
            self._maybe_fail()
            files = {p.relative_to(request.service_dir).as_posix(): p.read_text(errors="replace")
                     for p in sorted(request.service_dir.rglob("*")) if p.is_file()}
            replicas = replica_count(request.values)
            self.deployed[(request.stage, request.service)] = Deployed(request.commit, dict(request.values),
                                                                       files, replicas)
        name = f"{request.service}-{request.stage}"
        return DeployResult([f"http://127.0.0.1:9/{name}"], [name], f"deployed {name}", commit=request.commit,
                            replicas=replicas)

    def scale(self, stage: str, service: str, replicas: int) -> ServiceStatus:
        with self.lock:
            self.calls.append(("scale", stage, service, str(replicas)))
            self._maybe_fail()
            current = self.deployed.get((stage, service))
            if current is None:
                raise DeploymentFailed("not-deployed", f"{service} is not deployed in {stage}")
            current.replicas = replicas
            return self.status(stage, service)

    def undeploy(self, stage: str, service: str) -> None:
        with self.lock:
            self.calls.append(("undeploy", stage, service))
            self.deployed.pop((stage, service), None)

    def status(self, stage: str, service: str) -> ServiceStatus:
        current = self.deployed.get((stage, service))
        if current is None:
            return ServiceStatus(stage, service, False)
        return ServiceStatus(stage, service, True, current.commit, str(current.values.get("image") or ""),
                             current.replicas, current.replicas,
                             [ReplicaStatus(f"{service}-{i}", True) for i in range(current.replicas)])

    def close(self) -> None:
        pass


class FakeTaskEnv:
    """TaskEnv over a real mirror of `url`; every stage deploys to `target` unless its
    settings say `target: none`."""

    def __init__(self, url: str, workdir: Path, *, settings: Settings | None = None,
                 shipyard: Shipyard | None = None, clock: Callable[[], float] = time.time) -> None:
        self.workdir = workdir
        self.environ: dict[str, str] = dict(os.environ)
        self.mirror = Mirror(url, workdir)
        self.mirror.fetch()
        self.writer = Writer(self.mirror)
        self.log = logging.getLogger("tests.taskenv")
        self._settings = settings or Settings()
        self._shipyard = shipyard
        self.clock = clock
        self.target_impl = RecordingTarget()
        self.config_refs: dict[tuple[str, str], str] = {}
        self.history_requests: list[tuple[str, str, int]] = []

    # -- TaskEnv

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    @property
    def shipyard(self) -> Shipyard | None:
        return self._shipyard

    @property
    def default_branch(self) -> str:
        return self.mirror.default_branch() or "main"

    def target(self, stage: str) -> RecordingTarget | None:
        return None if self._settings.stage(stage).target in ("none", "external") else self.target_impl

    def previous_evaluations(self, stage: str, service: str, limit: int) -> list[dict[str, Any]]:
        self.history_requests.append((stage, service, limit))
        if self.mirror.tip(RESULTS_BRANCH) is None:
            return []
        folder = f"evaluations/{stage}/{service}"
        paths = sorted(self.mirror.list_tree(RESULTS_BRANCH, folder), key=lambda p: p.rsplit("/", 1)[-1],
                       reverse=True)[:limit]
        return [json.loads(self.mirror.read(RESULTS_BRANCH, p) or b"{}") for p in paths]

    def config_ref(self, stage: str, service: str, commit: str | None) -> str | None:
        return self.config_refs.get((stage, service), commit)

    def now(self) -> float:
        return self.clock()

    def file_sd_path(self, stage: str, service: str) -> Path | None:
        return None

    # -- test helpers

    def refresh(self) -> dict[str, str]:
        return self.mirror.fetch()

    def record(self, outcome: TaskOutcome) -> str | None:
        """Commit the outcome's journal files to reconciler/results, as the controller does."""
        if not outcome.journal:
            return None
        files = dict(outcome.journal)
        return self.writer.write(RESULTS_BRANCH, lambda tip: files, "journal").oid

    def request(self, task: str, stage: str, service: str, data: Mapping[str, Any] | None = None, *,
                context: str = CONTEXT, commit: str | None = None, key: str | None = None,
                redelivery: bool = False, run: int = 0, index: int = 0) -> TaskRequest:
        """A task's `.triggered` as the sequencer would dispatch it (gitcommitid = stage tip)."""
        payload = {"project": self._settings.project, "stage": stage, "service": service, **dict(data or {})}
        run_id = f"{context}/{stage}/{run}"
        event = CloudEvent(type=task_type(task, "triggered"), data=payload, shkeptncontext=context,
                           id=derived_id(run_id, str(index), "triggered"), time=iso_time(self.clock()),
                           gitcommitid=commit if commit is not None else self.mirror.tip(stage))
        return TaskRequest(event=event, key=key or f"{run_id}/{index}/triggered", run_id=run_id, context=context,
                           stage=stage, service=service, task=task, redelivery=redelivery)


SHIPYARD = """\
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: shop}
spec:
  stages:
    - name: dev
      sequences: [{name: delivery, tasks: [{name: deployment}, {name: evaluation}]}]
    - name: staging
      sequences: [{name: delivery, triggeredOn: [{event: dev.delivery.finished}],
                   tasks: [{name: approval, properties: {pass: automatic, warning: manual}}, {name: deployment}]}]
"""


def values_yaml(image: str, replicas: int, note: str) -> str:
    """A values.yaml whose stage-specific lines sit one unchanged line away from `image`."""
    return (f"# values of carts\nimage: {image}\ntier: web\n# {note}\nreplicaCount: {replicas}  # per stage\n"
            f"endpoint: {note}.example\n")


def stage_branches(**extra: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """main + dev/staging/production with carts and orders; stage-specific values per stage."""
    branches: dict[str, dict[str, str]] = {"main": {"shipyard.yaml": SHIPYARD}}
    for i, stage in enumerate(("dev", "staging", "production")):
        branches[stage] = {
            "carts/values.yaml": values_yaml("carts:1.0", i + 1, f"{stage} only"),
            "carts/stage.yaml": f"stage: {stage}\n",
            "orders/values.yaml": "image: orders:1.0\n",
        }
    for branch, files in extra.items():
        branches.setdefault(branch, {}).update(files)
    return branches
