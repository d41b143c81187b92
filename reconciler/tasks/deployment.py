"""The `deployment` task: hand one commit of the service folder to the stage's target.

The folder is exported from the mirror at the sequence's commit into a fresh temporary
directory (targets copy what they keep), `values.yaml` is parsed, and the target deploys.
Its answer is Keptn's `deployment.finished` payload (`deploymentURIsLocal`,
`deploymentNames`, `gitCommit`). On a stage whose target is `none` the deployment only
records the change: the commit is in Git, nothing runs it, and the task finishes at once
saying so (as `schemas/reconciler.json` promises). A stage with `target: external` hands
deployment to an integration: no built-in answers, and the task waits visibly for it
(tasks.answerers).
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler import layout
from reconciler.targets.base import DeploymentFailed, DeploymentTarget, DeployRequest, DeployResult
from reconciler.tasks.base import TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import BuiltinExecutor, TaskFailed, load_yaml, read_text, stage_commit


def read_values(env: TaskEnv, commit: str, service: str) -> Mapping[str, Any]:
    """`<service>/values.yaml` at `commit` (missing: no values)."""
    path = layout.service_path(service, layout.VALUES_FILE)
    content = read_text(env.mirror, commit, path)
    if content is None:
        return {}
    values = load_yaml(content, path)
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise TaskFailed(TaskOutcome(result="fail", message=f"{path}: expected a mapping of values "
                                                            f"(image: ..., replicaCount: ...)"))
    return values


def deploy_commit(env: TaskEnv, target: DeploymentTarget, *, project: str, stage: str, service: str,
                  commit: str, strategy: str = "direct") -> DeployResult:
    """Export `<service>/` at `commit`, parse its values, deploy. Raises DeploymentFailed."""
    if not env.mirror.list_tree(commit, service):
        raise DeploymentFailed("manifest-invalid", f"there is no folder {service}/ on branch {stage} at "
                                                   f"{commit[:12]}; nothing to deploy")
    values = read_values(env, commit, service)
    scratch = env.workdir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"deploy-{stage}-{service}-", dir=scratch))
    try:
        env.mirror.export(commit, service, folder / service)
        return target.deploy(DeployRequest(project=project, stage=stage, service=service, commit=commit,
                                           service_dir=folder / service, values=values, strategy=strategy))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def failure_outcome(exc: DeploymentFailed, what: str, **extra: Any) -> TaskOutcome:
    """A failed deployment: fail; errored when the target's API itself failed."""
    return TaskOutcome(result="fail", status="errored" if exc.kind == "api-error" else "succeeded",
                       message=f"{what} failed ({exc.kind}): {exc.message}", **extra)


class DeploymentExecutor(BuiltinExecutor):
    name = "deployment"
    task = layout.TASK_DEPLOYMENT

    def applies(self, request: TaskRequest, env: TaskEnv) -> bool:
        return request.task == self.task and env.settings.stage(request.stage).target != "external"

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome:
        target = env.target(request.stage)
        commit = stage_commit(request, env)
        if target is None:
            return TaskOutcome(result="pass", gitcommitid=commit, data={"deployment": {
                "deploymentNames": [request.service], "deploymentURIsLocal": [], "deploymentURIsPublic": [],
                "gitCommit": commit}},
                message=f"target none: the change to {request.service} is recorded on {request.stage} as "
                        f"{commit[:12]}; nothing deploys it (set a target in reconciler.yaml to run it)")
        try:
            strategy = request.properties.get("deploymentstrategy")
            result = deploy_commit(env, target, project=request.project or env.settings.project,
                                   stage=request.stage, service=request.service, commit=commit,
                                   strategy=strategy if isinstance(strategy, str) and strategy else "direct")
        except DeploymentFailed as exc:
            return failure_outcome(exc, f"deployment of {request.service} to {request.stage}")
        data = result.event_data()
        data["deployment"]["gitCommit"] = result.commit or commit
        return TaskOutcome(result="pass", message=result.message or f"deployed {request.service} "
                                                                    f"{commit[:12]} to {request.stage}", data=data)
