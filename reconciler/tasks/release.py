"""The `release` task: the deployed commit is the release.

Keptn's helm-service promoted a canary to primary here. A direct deployment has nothing left
to switch: the task passes and names the released commit, which is what later tooling (and
`git log`) looks for. After a `blue_green_service` deployment the new version runs beside the
old one; releasing switches the target's traffic to it and stops the old one
(`DeploymentTarget.release`: the local target's load balancer, the Kubernetes Service selector).
"""
from __future__ import annotations

from reconciler import layout
from reconciler.targets.base import DeploymentFailed
from reconciler.tasks.base import TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import BuiltinExecutor, stage_commit
from reconciler.tasks.deployment import failure_outcome


class ReleaseExecutor(BuiltinExecutor):
    name = "release"
    task = layout.TASK_RELEASE

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome:
        commit = stage_commit(request, env)
        detail = ""
        target = env.target(request.stage)
        if target is not None:
            try:
                switched = target.release(request.stage, request.service)
            except DeploymentFailed as exc:
                return failure_outcome(exc, f"release of {request.service} in {request.stage}")
            detail = f": {switched}" if switched else ""
        return TaskOutcome(result="pass", data={"release": {"gitCommit": commit}},
                           message=f"released {request.service} {commit[:12]} in {request.stage}{detail}")
