"""Any task answered by `job/config.yaml`: find the file, run the matching actions.

The file is looked up like the job-executor-service does it: the service's
`<service>/job/config.yaml`, else the stage's `job/config.yaml` (both on the stage branch at
the config commit), else the project's `job/config.yaml` on the default branch; the first one
found is used, they are not merged. Every non-silent action whose event matches
`sh.keptn.event.<task>.triggered` runs (`tasks.jobs.run_job`); their answers are combined the
way the sequencer combines several executors (fail wins, then warning).

The runner is `TaskEnv.job_runner()` when the environment offers one (the controller picks
local processes or Kubernetes Jobs from `spec.jobs.runner`); otherwise a local runner under
`<workdir>/jobs`.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import layout
from reconciler.engine.payload import aggregate, deep_merge
from reconciler.spec.jobconfig import JobConfig, JobConfigError, load_jobconfig
from reconciler.tasks.base import TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import BuiltinExecutor, config_commit, read_text, stage_commit
from reconciler.tasks.jobs import LocalJobRunner, run_job
from reconciler.tasks.jobs.executor import JobRunner
from reconciler.tasks.jobs.matching import matching_actions

JOB_CONFIG = layout.JOB_CONFIG_FILE


@dataclass(frozen=True)
class ResolvedJobConfig:
    """The job config that answers a task, or the reason it cannot be used."""

    source: str                        # `<branch>:<path>`
    config: JobConfig | None
    error: str | None = None


def resolve_jobconfig(env: TaskEnv, stage: str, service: str, ref: str) -> ResolvedJobConfig | None:
    """Service → stage → project, the first file that exists (None: no job config at all)."""
    default = env.default_branch
    project_ref = env.mirror.tip(default) if default else None
    for level, path in layout.job_config_paths(service):
        rev, branch = (project_ref, default) if level == "project" else (ref, stage)
        if rev is None:
            continue
        content = read_text(env.mirror, rev, path)
        if content is None:
            continue
        source = f"{branch}:{path}"
        try:
            return ResolvedJobConfig(source, load_jobconfig(content, source))
        except JobConfigError as exc:
            return ResolvedJobConfig(source, None, str(exc))
    return None


def job_runner(env: TaskEnv) -> JobRunner:
    factory = getattr(env, "job_runner", None)
    if callable(factory):
        return factory()
    if env.settings.spec.jobs.runner != "local":
        raise RuntimeError("spec.jobs.runner is kubernetes but this controller offers no Kubernetes "
                           "job runner (TaskEnv.job_runner)")
    return LocalJobRunner(env.workdir / "jobs", environ=env.environ)


class JobExecutor(BuiltinExecutor):
    """Answers every task a `job/config.yaml` action matches (applies before any built-in)."""

    name = "job-executor"

    def _resolved(self, request: TaskRequest, env: TaskEnv) -> ResolvedJobConfig | None:
        return resolve_jobconfig(env, request.stage, request.service, config_commit(request, env))

    def applies(self, request: TaskRequest, env: TaskEnv) -> bool:
        try:
            resolved = self._resolved(request, env)
        except Exception:   # noqa: BLE001 - a broken read is reported by the built-in, if any
            env.log.exception("job config lookup for %s/%s failed", request.stage, request.service)
            return False
        if resolved is None:
            return False
        if resolved.config is None:
            return True      # fail closed: a job config that cannot be read answers errored
        event = request.event.to_dict()
        return any(not action.silent for _, action in matching_actions(resolved.config, event))

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome:
        resolved = self._resolved(request, env)
        if resolved is None:
            return TaskOutcome.errored(f"no {JOB_CONFIG} answers task {request.task} for {request.service} "
                                       f"in {request.stage} any more")
        if resolved.config is None:
            return TaskOutcome.errored(f"{resolved.error}; fix {resolved.source} (reconciler validate shows "
                                       f"every problem)")
        commit = stage_commit(request, env)
        scratch = env.workdir / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"job-{request.stage}-{request.service}-", dir=scratch))
        try:
            service_dir = folder / request.service
            if env.mirror.list_tree(commit, request.service):
                env.mirror.export(commit, request.service, service_dir)
            else:
                service_dir.mkdir()
            results = run_job(resolved.config, request.event, service_dir, job_runner(env), env.settings.spec.jobs)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        answered = [r for r in results if not r.silent]
        if not answered:
            return TaskOutcome.errored(f"no action of {resolved.source} matches {request.event.type} any more")
        return combine(answered, resolved.source)


def combine(results: list[Any], source: str) -> TaskOutcome:
    """One outcome for several actions' results (each would be its own answer in JES)."""
    result, status = aggregate((r.result, r.status) for r in results)
    data: dict[str, Any] = {}
    for r in results:
        own = r.event_data()
        for key in ("status", "result", "message"):
            own.pop(key, None)
        data = deep_merge(data, own)
    if len(results) > 1:
        data["jobExecutor"] = {"actions": [r.event_data()["jobExecutor"] for r in results]}
    message = "\n".join(r.message for r in results)
    return TaskOutcome(result=result, status=status, message=f"{source}: {message}", data=data)  # type: ignore[arg-type]
