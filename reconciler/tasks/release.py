"""The `release` task: the deployed commit is the release.

Keptn's helm-service promoted a canary to primary here. Deployments in reconciler are
direct (a commit is what runs), so there is nothing left to switch: the task passes and
names the released commit, which is what later tooling (and `git log`) looks for.
"""
from __future__ import annotations

from reconciler import layout
from reconciler.tasks.base import TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import BuiltinExecutor, stage_commit


class ReleaseExecutor(BuiltinExecutor):
    name = "release"
    task = layout.TASK_RELEASE

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome:
        commit = stage_commit(request, env)
        return TaskOutcome(result="pass", data={"release": {"gitCommit": commit}},
                           message=f"released {request.service} {commit[:12]} in {request.stage}")
