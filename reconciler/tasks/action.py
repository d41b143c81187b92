"""The `action` task for `scaling` (alias `scale`): Keptn's helm-service remediation action.

`action.value` is a string integer that is *added* to the replica count (`"1"`, `"+1"`,
`"-1"`, `"3"`), exactly as the helm-service reads it; a YAML number or any other text fails
with the helm-service's messages. The new count is committed first — a targeted edit of the
`replicaCount:` line of `<service>/values.yaml` on the stage branch that keeps comments and
every other line — and then applied to the running service with `target.scale`, so Git
stays the record of what runs.

Redelivery: the commit carries `Reconciler-Step: <request key>`; a second delivery finds it,
does not add the increment again, and scales to the count in that commit.

Bounds (issue 13): the new count stays within `minReplicas`..`maxReplicas` — the action's own
keys in remediation.yaml, else `spec.remediation.limits` — clamped to the bound, or refused
(`fail`, no commit) when the count already sits at the bound the action pushes against.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pygit2

from reconciler import layout
from reconciler.engine.changeset import main_values_file
from reconciler.engine.remediation import OutOfBounds, ReplicaBounds, scale_within
from reconciler.gitstore.writer import TipView
from reconciler.spec import yamltext
from reconciler.spec.settings import RemediationLimits
from reconciler.targets.base import DeploymentFailed
from reconciler.tasks.base import TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import BuiltinExecutor, TaskFailed, commit_trailers, mapping, task_event
from reconciler.tasks.deployment import deploy_commit, failure_outcome

SCALING_ACTIONS = frozenset({"scaling", "scale"})
NOT_A_STRING = "could not parse action.value to string value"
NOT_AN_INT = "could not parse action.value to int"
DEFAULT_REPLICAS = 1

_REPLICA_LINE = re.compile(r"^replicaCount[ \t]*:(?P<value>[^\n#]*?)(?P<rest>[ \t]+#[^\n]*)?[ \t]*(?P<eol>\r?\n|$)",
                           re.MULTILINE)
_GO_INT = re.compile(r"^[+-]?[0-9]+$")


def parse_increment(value: object) -> int:
    """The replica increment of `action.value` (Go's strconv.Atoi on a string)."""
    if not isinstance(value, str):
        raise ValueError(NOT_A_STRING)
    if not _GO_INT.match(value):
        raise ValueError(NOT_AN_INT)
    return int(value)


def replica_bounds(action: Mapping[str, Any], limits: RemediationLimits) -> ReplicaBounds:
    """The action's `minReplicas`/`maxReplicas` from remediation.yaml, else reconciler.yaml
    `spec.remediation.limits`, each with where it came from (for the message)."""
    found: dict[str, tuple[int, str]] = {}
    for key, default in (("minReplicas", limits.minReplicas), ("maxReplicas", limits.maxReplicas)):
        raw = action.get(key)
        if raw is None:
            found[key] = (default, f"spec.remediation.limits.{key} in reconciler.yaml")
        elif isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise ValueError(f"action.{key} must be a whole number >= 0, not {raw!r}")
        else:
            found[key] = (raw, f"the action's {key} in remediation.yaml")
    bounds = ReplicaBounds(*found["minReplicas"], *found["maxReplicas"])
    if bounds.low > bounds.high:
        raise ValueError(f"minReplicas ({bounds.low}, {bounds.low_from}) is above maxReplicas "
                         f"({bounds.high}, {bounds.high_from})")
    return bounds


def current_replicas(text: str | None, where: str) -> int:
    """`replicaCount` of a values.yaml text (missing: 1, the chart default)."""
    if not text:
        return DEFAULT_REPLICAS
    try:
        values = yamltext.load(text)
    except yamltext.YamlError as exc:
        raise ValueError(f"{where}:{exc.line or 1}: not valid YAML: {exc.message}") from None
    if values is None:
        return DEFAULT_REPLICAS
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping of values")
    raw = values.get("replicaCount", DEFAULT_REPLICAS)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        line = yamltext.Positions(text).of(["replicaCount"])[0]
        raise ValueError(f"{where}:{line or 1}: replicaCount must be a whole number >= 0, not {raw!r}")
    return raw


def set_replica_count(text: str | None, replicas: int) -> str:
    """`text` with its top-level `replicaCount:` line set to `replicas`, everything else as it
    was (comments, order, other lines); the line is appended when missing."""
    text = text or ""
    match = _REPLICA_LINE.search(text)
    if match is None:
        sep = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{sep}replicaCount: {replicas}\n"
    rest = match.group("rest") or ""
    return f"{text[:match.start()]}replicaCount: {replicas}{rest}{match.group('eol')}{text[match.end():]}"


class ScalingExecutor(BuiltinExecutor):
    name = "scaling"
    task = layout.TASK_ACTION

    def applies(self, request: TaskRequest, env: TaskEnv) -> bool:
        action = mapping(request.data.get("action")).get("action")
        return request.task == self.task and isinstance(action, str) and action.lower() in SCALING_ACTIONS

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome:
        action = mapping(request.data.get("action"))
        try:
            increment = parse_increment(action.get("value"))
        except ValueError as exc:
            return TaskOutcome(result="fail", message=str(exc), data={"action": {"gitCommit": ""}})
        try:
            bounds = replica_bounds(action, env.settings.spec.remediation.limits)
        except ValueError as exc:
            return TaskOutcome(result="fail", message=str(exc), data={"action": {"gitCommit": ""}})
        stage, service = request.stage, request.service
        if env.mirror.tip(stage) is None:
            env.mirror.fetch([stage])
        outcome: dict[str, str] = {}

        def build(tip: TipView) -> dict[str, bytes] | None:
            if not tip.exists(service):
                raise TaskFailed(TaskOutcome.errored(
                    f"there is no folder {service}/ on branch {stage}; nothing to scale"))
            path = outcome["path"] = replicas_file(tip, service)
            old = tip.read(path)
            text = old.decode() if old is not None else None
            try:
                count = current_replicas(text, f"{stage}:{path}")
            except ValueError as exc:
                raise TaskFailed(TaskOutcome(result="fail", message=str(exc))) from None
            try:
                scaled = scale_within(count, increment, bounds)
            except OutOfBounds as exc:
                raise TaskFailed(TaskOutcome(result="fail", message=f"scaling {service} in {stage}: {exc}",
                                             data={"action": {"gitCommit": ""}})) from None
            outcome["summary"] = f"{count} -> {scaled.replicas}" + (f" ({scaled.note})" if scaled.note else "")
            return {path: set_replica_count(text, scaled.replicas).encode()}

        written = env.writer.write(
            stage, build, f"scale {service} in {stage} by {action.get('value')}\n\n"
                          f"Remediation action {action.get('name') or action.get('action')}.",
            commit_trailers(request.context, task_event(request)), step=request.key)
        commit = written.oid
        assert commit is not None
        path = outcome.get("path") or layout.service_path(service, layout.VALUES_FILE)
        committed = env.mirror.read(commit, path)
        replicas = current_replicas(committed.decode() if committed is not None else None, f"{stage}:{path}")
        data = {"action": {"gitCommit": commit}}
        target = env.target(stage)
        if target is not None and f"/{layout.HELM_FOLDER}/" in path:
            # a Helm service: the chart's replicaCount changed, so the chart is deployed again
            try:
                deploy_commit(env, target, project=request.project or env.settings.project, stage=stage,
                              service=service, commit=commit)
            except DeploymentFailed as exc:
                return failure_outcome(exc, f"redeploying {service} in {stage} with {replicas} replicas",
                                       data=data, gitcommitid=commit)
        elif target is not None:
            try:
                target.scale(stage, service, replicas)
            except DeploymentFailed as exc:
                return failure_outcome(exc, f"scaling {service} in {stage} to {replicas}", data=data,
                                       gitcommitid=commit)
        change = outcome.get("summary") or f"already at {replicas}"
        return TaskOutcome(result="pass", gitcommitid=commit, data=data,
                           message=f"Successfully executed scaling action: {service} in {stage} {change} "
                                   f"replica(s), committed as {commit[:12]}")


def replicas_file(tip: TipView, service: str) -> str:
    """Where a service's `replicaCount` lives on the stage: `<service>/values.yaml`, else the
    values of its Helm chart (`helm/<service>/values.yaml`, else the only chart's), as Keptn's
    helm-service scaled the chart."""
    own = layout.service_path(service, layout.VALUES_FILE)
    if tip.exists(own) or tip.tree is None:
        return own
    try:
        charts = tip.tree[layout.service_path(service, layout.HELM_FOLDER)]
    except KeyError:
        return own
    if not isinstance(charts, pygit2.Tree):
        return own
    present = [f"{layout.HELM_FOLDER}/{chart.name}/{layout.VALUES_FILE}" for chart in charts
               if isinstance(chart, pygit2.Tree) and layout.VALUES_FILE in chart]
    chosen = main_values_file(present, service)
    return layout.service_path(service, chosen) if chosen else own
