"""What a deployment target is: the contract between the `deployment` task and where services run.

A target turns "this commit of this service folder, with these values" into running
replicas, and reports back what Keptn's `deployment.finished` carries (`deploymentURIsLocal`,
`deploymentNames`). It never reads Git: the caller exports the service folder at the
sequence's commit and parses `values.yaml`, so both targets see exactly the same input.

`DeploymentTarget` holds every hook the controller and the tasks call; `TargetBase` gives the
defaults a target may not need (`configure`, `recovered`). A target kind is the module
`reconciler.targets.<kind>` with `create(context)`, named in `spec.stages.<stage>.target`
(`registry`). Deployment strategies that need more than "make this commit run" (blue/green:
`release` switches traffic, `rollback` drops the new version) become hooks here, with a
`TargetBase` default that keeps direct deployments as they are.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from reconciler.spec.settings import Settings

BLUE_GREEN = "blue_green_service"

FailureKind = Literal["manifest-invalid", "not-healthy", "rollout-timeout", "rollout-failed",
                      "not-deployed", "api-error"]


class DeploymentFailed(Exception):
    """The deployment did not happen (or did not become healthy). `kind` says why, for people
    and for the sequence's message; the previous version is still running where possible."""

    def __init__(self, kind: FailureKind, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class DeployRequest:
    project: str
    stage: str
    service: str
    commit: str                         # the config-repo commit being deployed
    service_dir: Path                   # `<service>/` exported at that commit
    values: Mapping[str, Any] = field(default_factory=dict)   # parsed `<service>/values.yaml`
    strategy: str = "direct"            # Keptn's deployment.deploymentstrategy (BLUE_GREEN: beside the old one)

    @property
    def image(self) -> str | None:
        image = self.values.get("image")
        return str(image) if image not in (None, "") else None

    @property
    def replica_count(self) -> int:
        return replica_count(self.values)


def replica_count(values: Mapping[str, Any], default: int = 1) -> int:
    """`replicaCount` from values.yaml: a non-negative integer (a digit string is accepted)."""
    raw = values.get("replicaCount", default)
    if isinstance(raw, bool):
        raise DeploymentFailed("manifest-invalid", f"values.yaml replicaCount must be a whole number, not {raw!r}")
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int) or raw < 0:
        raise DeploymentFailed("manifest-invalid",
                               f"values.yaml replicaCount must be a whole number >= 0, not {raw!r}")
    return raw


@dataclass(frozen=True)
class DeployResult:
    deployment_uris_local: list[str]
    deployment_names: list[str]
    message: str
    commit: str = ""
    replicas: int = 0
    deployment_uris_public: list[str] = field(default_factory=list)

    def event_data(self) -> dict[str, Any]:
        """The `deployment` part of Keptn's `deployment.finished` data."""
        return {"deployment": {
            "deploymentURIsLocal": list(self.deployment_uris_local),
            "deploymentURIsPublic": list(self.deployment_uris_public),
            "deploymentNames": list(self.deployment_names),
            "deploymentstrategy": "direct",
            "gitCommit": self.commit,
        }}


@dataclass(frozen=True)
class ReplicaStatus:
    name: str
    ready: bool
    address: str = ""        # 127.0.0.1:port for local replicas
    pid: int | None = None
    restarts: int = 0


@dataclass(frozen=True)
class ServiceStatus:
    stage: str
    service: str
    deployed: bool
    commit: str = ""
    image: str | None = None
    desired: int = 0
    ready: int = 0
    replicas: list[ReplicaStatus] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class RecoveredService:
    """A service that a previous run of the target had running (now stopped)."""
    project: str
    stage: str
    service: str
    commit: str
    replicas: int


@dataclass(frozen=True)
class TargetContext:
    """What a target kind's `create(context)` gets from the controller."""

    workdir: Path                           # the serve work dir; a target keeps its state under targets/<kind>
    settings: Callable[[], Settings]        # the current reconciler.yaml
    environ: Mapping[str, str]
    file_sd_dir: Path                       # Prometheus file-SD folder for the replicas a target runs

    def state_dir(self, kind: str) -> Path:
        return self.workdir / "targets" / kind


@runtime_checkable
class DeploymentTarget(Protocol):
    """Where the services of a stage run. Implementations are thread-safe; calls for the same
    (stage, service) are serialised, calls for different services may run in parallel."""

    recovered: Sequence[RecoveredService]
    """Services an earlier process left running, found (and stopped) when the target was
    created; the controller deploys each again from its stage branch."""

    def configure(self, settings: Settings) -> None:
        """Take the current reconciler.yaml; called each time a stage's target is looked up."""

    def deploy(self, request: DeployRequest) -> DeployResult:
        """Make `request` the running version; raise DeploymentFailed otherwise."""

    def scale(self, stage: str, service: str, replicas: int) -> ServiceStatus:
        """Change the replica count of what is deployed; DeploymentFailed if not deployed."""

    def undeploy(self, stage: str, service: str) -> None:
        """Stop and remove the service (no error when nothing is deployed)."""

    def status(self, stage: str, service: str) -> ServiceStatus: ...

    def release(self, stage: str, service: str) -> str | None:
        """Blue/green: send traffic to the version deployed beside the released one and stop the
        old one; says what happened, None when nothing runs beside it (a direct deployment)."""

    def discard(self, stage: str, service: str) -> bool:
        """Blue/green: stop the version deployed beside the released one (rollback); False
        when there is none."""

    def close(self) -> None:
        """Release resources; the local target also stops every process it started."""


class TargetBase:
    """Defaults for the hooks of `DeploymentTarget` a target may not need."""

    recovered: Sequence[RecoveredService] = ()

    def configure(self, settings: Settings) -> None:
        """Nothing to take from reconciler.yaml."""

    def release(self, stage: str, service: str) -> str | None:
        """Deployments are direct: nothing runs beside the released version."""
        return None

    def discard(self, stage: str, service: str) -> bool:
        """Deployments are direct: nothing runs beside the released version."""
        return False

    def close(self) -> None:
        """Nothing to release."""
