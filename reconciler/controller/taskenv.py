"""The services executors may use (`tasks.base.TaskEnv`), backed by the controller's parts.

Executors run in worker threads: everything here is either immutable (the config objects
are replaced, never mutated), thread-local (pygit2 repositories inside the Mirror) or
locked (the Writer's per-branch locks, the target registry).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.controller.journal import Journal
from reconciler.gitstore import Mirror, Writer
from reconciler.spec.settings import Settings
from reconciler.spec.shipyard import Shipyard

if TYPE_CHECKING:
    from reconciler.controller.config_state import ConfigState
    from reconciler.targets.base import DeploymentTarget


class Targets:
    """One deployment target per kind, created on first use (`targets.registry`: the
    Kubernetes client costs ~200 ms to import and needs credentials; a project on `local`
    never pays for it). `factories` replace the registry for some kinds (tests)."""

    def __init__(self, workdir: Path, settings: Callable[[], Settings],
                 factories: dict[str, Callable[[], DeploymentTarget]] | None = None,
                 environ: Mapping[str, str] | None = None):
        self.workdir = workdir
        self.environ: Mapping[str, str] = dict(os.environ if environ is None else environ)
        self._settings = settings
        self._lock = threading.Lock()
        self._targets: dict[str, DeploymentTarget | None] = {}
        self._factories = factories or {}

    @property
    def file_sd_dir(self) -> Path:
        return self.workdir / "prometheus" / "targets"

    def _create(self, kind: str) -> DeploymentTarget | None:
        factory = self._factories.get(kind)
        if factory is not None:
            return factory()
        from reconciler.targets import registry
        from reconciler.targets.base import TargetContext
        return registry.create(kind, TargetContext(self.workdir, self._settings, self.environ, self.file_sd_dir))

    def local(self) -> DeploymentTarget:
        """The local target, created now if it does not exist yet."""
        with self._lock:
            target = self._targets.get("local")
            if target is None:
                target = self._targets["local"] = self._create("local")
            assert target is not None
            return target

    def for_stage(self, stage: str) -> DeploymentTarget | None:
        kind = self._settings().stage(stage).target
        with self._lock:
            if kind not in self._targets:
                self._targets[kind] = self._create(kind)
            target = self._targets[kind]
            if target is not None:
                target.configure(self._settings())
            return target

    def existing(self) -> dict[str, DeploymentTarget]:
        with self._lock:
            return {kind: t for kind, t in self._targets.items() if t is not None}

    def close(self) -> None:
        with self._lock:
            targets, self._targets = [t for t in self._targets.values() if t is not None], {}
        for target in targets:
            try:
                target.close()
            except Exception:  # noqa: BLE001 - closing must reach every target
                logging.getLogger(__name__).exception("closing a deployment target failed")


class ControllerTaskEnv:
    """`TaskEnv` for executors started by the controller."""

    sidetasks: Any = None     # controller.sidetasks.SideTasks, set by `serve` (the get-sli provider asks through it)

    def __init__(self, workdir: Path, mirror: Mirror, writer: Writer, journal: Journal,
                 config: ConfigState, targets: Targets, clock: Callable[[], float] = time.time,
                 log: logging.Logger | None = None, environ: Mapping[str, str] | None = None):
        self.workdir = workdir
        self.environ: Mapping[str, str] = dict(os.environ if environ is None else environ)
        self._runners: dict[str, Any] = {}
        self._runner_lock = threading.Lock()
        self.mirror = mirror
        self.writer = writer
        self.journal = journal
        self._config = config
        self.targets = targets
        self._clock = clock
        self.log = log or logging.getLogger("reconciler.tasks")

    @property
    def settings(self) -> Settings:
        return self._config.settings

    @property
    def shipyard(self) -> Shipyard | None:
        return self._config.shipyard

    @property
    def default_branch(self) -> str:
        return self._config.default_branch or "main"

    def target(self, stage: str) -> DeploymentTarget | None:
        return self.targets.for_stage(stage)

    def previous_evaluations(self, stage: str, service: str, limit: int) -> list[dict[str, Any]]:
        return self.journal.evaluations(stage, service, limit)

    def config_ref(self, stage: str, service: str, commit: str | None) -> str | None:
        return self._config.config_ref(stage, service, commit)

    def now(self) -> float:
        return self._clock()

    def job_runner(self) -> Any:
        """The runner for `job/config.yaml` tasks: local processes, or Kubernetes Jobs when
        `spec.jobs.runner` says so (client created on first use)."""
        kind = self.settings.spec.jobs.runner
        with self._runner_lock:
            runner = self._runners.get(kind)
            if runner is None:
                if kind == "kubernetes":
                    from reconciler.kube.client import Kube, KubeAccess
                    from reconciler.tasks.jobs.kube_runner import KubernetesJobRunner
                    namespace = self.settings.spec.jobs.namespace or f"{self.settings.project}-jobs"
                    runner = KubernetesJobRunner(Kube.connect(KubeAccess.from_env(self.environ)),
                                                 namespace=namespace)
                else:
                    from reconciler.tasks.jobs import LocalJobRunner
                    runner = LocalJobRunner(self.workdir / "jobs", environ=self.environ)
                self._runners[kind] = runner
            return runner

    def file_sd_path(self, stage: str, service: str) -> Path | None:
        return self.targets.file_sd_dir / f"{stage}-{service}.json"
