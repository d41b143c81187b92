"""The `get-action` task: Keptn's remediation-service, one action per remediation round.

Reads `<service>/remediation.yaml` (apiVersion exactly `spec.keptn.sh/0.1.4`) at the config
commit, picks the action list by the problem's root cause, then its title, then `default`,
and answers with action number `get-action.actionIndex` (0 at first) and the index of the
next one. When the list has run out (or nothing matches) the task succeeds with result
`fail` and `get-action.exhausted: true`, which makes the sequencer escalate.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from reconciler import layout
from reconciler.spec.remediation import API_VERSION, Remediation
from reconciler.tasks.base import TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import BuiltinExecutor, config_commit, load_yaml, mapping, read_text, text

GET_ACTION = layout.TASK_GET_ACTION


def problem_details(data: Mapping[str, Any]) -> tuple[str, str]:
    """(rootCause, problemTitle) of `data.problem`, also under Keptn's older capitalised keys."""
    problem = mapping(data.get("problem"))
    root = text(problem.get("rootCause")) or text(problem.get("RootCause"))
    title = text(problem.get("problemTitle")) or text(problem.get("ProblemTitle"))
    return root, title


def action_index(data: Mapping[str, Any]) -> int | None:
    raw = mapping(data.get(GET_ACTION)).get("actionIndex", 0)
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        raw = int(raw)
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return raw if isinstance(raw, int) and raw >= 0 else None


def describe_problem(root: str, title: str) -> str:
    if root:
        return f"root cause {root!r}"
    if title:
        return f"problem title {title!r}"
    return "problem type default"


def action_info(action: Any) -> dict[str, Any]:
    info = {"name": action.name, "action": action.action, "description": action.description, "value": action.value}
    for bound in ("minReplicas", "maxReplicas"):
        if getattr(action, bound) is not None:
            info[bound] = getattr(action, bound)
    return info


class GetActionExecutor(BuiltinExecutor):
    name = "get-action"
    task = GET_ACTION

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome:
        service = request.service
        path = layout.service_path(service, layout.REMEDIATION_FILE)
        content = read_text(env.mirror, config_commit(request, env), path)
        if content is None:
            return TaskOutcome.errored(f"there is no {path} on branch {request.stage}; add one with the "
                                       f"actions for this problem")
        raw = load_yaml(content, path)
        if not isinstance(raw, dict):
            return TaskOutcome.errored(f"{path}: expected a Remediation document (apiVersion {API_VERSION})")
        if raw.get("apiVersion") != API_VERSION:
            return TaskOutcome.errored(f"{path}: apiVersion is {raw.get('apiVersion')!r}; the remediation file must "
                                       f"have apiVersion {API_VERSION}")
        try:
            remediation = Remediation.from_data(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return TaskOutcome.errored(f"{path}: spec.remediations: {where}: {first['msg']}")
        index = action_index(request.data)
        if index is None:
            return TaskOutcome.errored(f"get-action.actionIndex must be a whole number >= 0, not "
                                       f"{mapping(request.data.get(GET_ACTION)).get('actionIndex')!r}")
        root, title = problem_details(request.data)
        actions = remediation.actions_for(root_cause=root or None, problem_title=title or None)
        problem = describe_problem(root, title)
        if not actions or index >= len(actions):
            message = (f"unable to find an action for {problem} in {path}" if not actions else
                       f"there is no action with index {index} for {problem}: all {len(actions)} "
                       f"action(s) of {path} have been tried")
            return TaskOutcome(result="fail", message=message, data={GET_ACTION: {
                "actionIndex": index, "exhausted": True,
                "actionsTried": [action_info(a) for a in actions[:index]]}})
        action = actions[index]
        return TaskOutcome(result="pass", message=f"action {index + 1} of {len(actions)} for {problem}: "
                                                  f"{action.name or action.action}",
                           data={GET_ACTION: {"actionIndex": index + 1}, "action": action_info(action)})
