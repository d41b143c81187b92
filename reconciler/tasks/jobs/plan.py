"""From (action, task, event) to a TaskPlan a runner can execute, without touching the world.

Environment, in JES' order (later entries win on a name clash): the task's `env` entries
(`valueFrom: event` — a JSONPath into the event, formatted per `as`; `valueFrom: string` —
the literal; `valueFrom: secret` — every key of the named secret, resolved by the runner),
then `KEPTN_PROJECT`, `KEPTN_STAGE`, `KEPTN_SERVICE`, `KEPTN_CONTEXT`, then `LABELS_<KEY>`
per event label (upper case, `-` and space become `_`).

Commands are argument lists. `$(VAR)` in `cmd`/`args` is expanded like the kubelet does it,
once, so a value from the event is one literal argument whatever it contains. Event data can
still do harm where an argument is *code*: the program itself, or the script of `sh -c`,
`bash -c`, `python -c`, `perl -e`, `node -e`, `ruby -e`. There a variable whose value came
from the event (`valueFrom: event`, labels, KEPTN_*) must consist of plain characters
(letters, digits and `_ . / : @ % + = , -`); otherwise the task is refused before it starts.
That keeps every corpus config working (names, image tags, URLs) and makes
`; rm -rf /`, `$(touch x)` or backticks in an event a refusal instead of a command. Pass such
data as an environment variable and quote it in the script (`"$HOST"`) instead.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.kube.expansion import Ref, escape, escape_for_kubelet, expand, tokens
from reconciler.spec.jobconfig import Action, Task
from reconciler.tasks.jobs.jsonpath import JsonPathError, evaluate
from reconciler.tasks.jobs.values import format_event_value

Source = Literal["event", "string", "secret", "auto", "label"]
TAINTED_SOURCES = frozenset({"event", "auto", "label"})
SAFE_VALUE = re.compile(r"[A-Za-z0-9_./:@%+=,-]*")
SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"})
INLINE_FLAGS = {"python": "-c", "perl": "-e", "node": "-e", "ruby": "-e"}


class PlanError(ValueError):
    """The task cannot run as configured (bad env reference, refused injection, ...)."""


@dataclass(frozen=True, slots=True)
class EnvEntry:
    name: str                 # for source "secret": the secret's name
    value: str
    source: Source


@dataclass(frozen=True)
class TaskPlan:
    action: str
    action_index: int
    task: str
    task_index: int
    image: str
    cmd: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[EnvEntry, ...]
    files: tuple[str, ...]
    working_dir: str
    timeout: float
    max_output_bytes: int
    context: str = ""
    event_id: str = ""
    git_commit: str = ""
    namespace: str = ""
    ttl_seconds: int = 21600
    image_pull_policy: str = ""
    service_account: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[str, Any] | None = None
    security_context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.env if e.source == "secret")


def environment(plan: TaskPlan, secrets: Mapping[str, Mapping[str, str]]) -> tuple[dict[str, str], frozenset[str]]:
    """The final variables (secret keys expanded in place, later entries win) and the names
    whose value came from the event."""
    values: dict[str, str] = {}
    sources: dict[str, Source] = {}
    for e in plan.env:
        if e.source == "secret":
            for key, value in secrets.get(e.name, {}).items():
                values[key], sources[key] = value, "secret"
        else:
            values[e.name], sources[e.name] = e.value, e.source
    return values, frozenset(n for n, s in sources.items() if s in TAINTED_SOURCES)


def label_env_name(key: str) -> str:
    return "LABELS_" + key.replace("-", "_").replace(" ", "_").upper()


def resolve_env(task: Task, event: Mapping[str, Any]) -> tuple[EnvEntry, ...]:
    """The environment entries of a task for an event; PlanError names the variable."""
    out: list[EnvEntry] = []
    for var in task.env:
        source = var.valueFrom
        if source == "event":
            try:
                value = evaluate(var.value, event)
            except JsonPathError as exc:
                raise PlanError(f"env {var.name!r}: could not read {var.value!r} from the event: {exc}") from None
            out.append(EnvEntry(var.name, format_event_value(value, var.as_), "event"))
        elif source == "string":
            out.append(EnvEntry(var.name, var.value, "string"))
        elif source == "secret":
            if not var.name:
                raise PlanError("env entry with valueFrom: secret needs the secret's name in 'name'")
            out.append(EnvEntry(var.name, "", "secret"))
        else:
            raise PlanError(f"env {var.name!r}: unknown valueFrom {source!r} (use event, secret or string)")
    raw_data = event.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    for name, key in (("KEPTN_PROJECT", "project"), ("KEPTN_STAGE", "stage"), ("KEPTN_SERVICE", "service")):
        out.append(EnvEntry(name, str(data.get(key) or ""), "auto"))
    out.append(EnvEntry("KEPTN_CONTEXT", str(event.get("shkeptncontext") or ""), "auto"))
    raw_labels = data.get("labels")
    labels: dict[Any, Any] = raw_labels if isinstance(raw_labels, dict) else {}
    for key in sorted(labels, key=str):
        out.append(EnvEntry(label_env_name(str(key)), str(labels[key]), "label"))
    return tuple(out)


def plan_task(action_index: int, action: Action, task_index: int, task: Task, event: Mapping[str, Any], *,
              default_timeout: float, max_output_bytes: int) -> TaskPlan:
    return TaskPlan(
        action=action.name, action_index=action_index, task=task.name, task_index=task_index,
        image=task.image, cmd=tuple(task.cmd), args=tuple(task.args), env=resolve_env(task, event),
        files=tuple(task.files), working_dir=task.workingDir,
        timeout=float(task.maxPollDuration) if task.maxPollDuration is not None else float(default_timeout),
        max_output_bytes=max_output_bytes, context=str(event.get("shkeptncontext") or ""),
        event_id=str(event.get("id") or ""), git_commit=str(event.get("gitcommitid") or ""),
        namespace=task.namespace, ttl_seconds=task.ttl_seconds, image_pull_policy=task.imagePullPolicy,
        service_account=task.serviceAccount, annotations=dict(task.annotations),
        resources=task.resources.model_dump() if task.resources is not None else None,
        security_context=task.securityContext.to_kubernetes())


# ---- argument lists ---------------------------------------------------------------------------

def code_positions(argv: Sequence[str]) -> set[int]:
    """Indexes of arguments that an interpreter runs as code: 0 (the program) and the script of
    `sh -c SCRIPT`, `python -c CODE`, `perl|node|ruby -e CODE`."""
    positions = {0}
    if not argv:
        return positions
    program = posixpath.basename(argv[0])
    if program in SHELLS:
        i, inline = 1, False
        if program == "busybox" and len(argv) > 1 and argv[1] in SHELLS:
            i = 2
        while i < len(argv) and argv[i].startswith("-") and argv[i] not in ("-", "--"):
            if not argv[i].startswith("--") and "c" in argv[i][1:]:
                inline = True
            i += 1
        if i < len(argv) and argv[i] == "--":
            i += 1
        if inline and i < len(argv):
            positions.add(i)
    else:
        base = re.sub(r"[0-9.]+$", "", program)
        flag = INLINE_FLAGS.get(base)
        if flag:
            for i in range(1, len(argv) - 1):
                if argv[i] == flag:
                    positions.add(i + 1)
                    break
    return positions


def check_injection(templates: Sequence[str], values: Mapping[str, str], tainted: frozenset[str]) -> None:
    """Refuse event data in code positions unless it is plainly inert (see module docstring)."""
    for pos in sorted(code_positions(templates)):
        if pos >= len(templates):
            continue
        for tok in tokens(templates[pos]):
            if not isinstance(tok, Ref) or tok.name not in tainted or tok.name not in values:
                continue
            if pos == 0:
                raise PlanError(f"cmd[0] takes $({tok.name}) from the event: the program to run may not "
                                f"come from event data")
            if not SAFE_VALUE.fullmatch(values[tok.name]):
                raise PlanError(
                    f"refused: $({tok.name}) comes from the event and contains characters a shell or "
                    f"interpreter would act on, and argument {pos} is run as code; pass it as an "
                    f"environment variable and quote it in the script (\"${tok.name}\") instead")


def render_local(cmd: Sequence[str], args: Sequence[str], values: Mapping[str, str], tainted: frozenset[str],
                 *, files_dir: str | None = None) -> list[str]:
    """The argv for a local process: `/keptn` paths mapped to `files_dir`, then expanded."""
    templates = [*cmd, *args]
    if files_dir is not None:
        templates = [rewrite_keptn_paths(t, files_dir) for t in templates]
    check_injection(templates, values, tainted)
    return [expand(t, values) for t in templates]


def check_kubelet_injection(cmd: Sequence[str], args: Sequence[str], values: Mapping[str, str],
                            tainted: frozenset[str]) -> None:
    """The same guard for a Job; without `cmd` the image's entrypoint is unknown, so only an
    explicit command can be judged."""
    if cmd:
        check_injection([*cmd, *args], values, tainted)


def render_kubelet(items: Sequence[str], values: Mapping[str, str], secret_keys: frozenset[str]) -> list[str]:
    """Command or args for a Job: expanded now, escaped so the kubelet's own expansion changes
    nothing, except references to secret keys (envFrom), which the kubelet fills in."""
    return [escape_for_kubelet(t, values, keep=secret_keys) for t in items]


_KEPTN_PATH = re.compile(r"(?<![\w.\-/])/keptn(?=/|$|[\s'\";:,)=])")


def rewrite_keptn_paths(template: str, files_dir: str) -> str:
    """`/keptn/x` (where JES mounts `files`) -> `<files_dir>/x`, in config text only."""
    return _KEPTN_PATH.sub(lambda m: files_dir.replace("$", "$$"), template)


def kube_env_value(value: str) -> str:
    """An env value for a Job spec: the kubelet expands `$(VAR)` in values too, so escape."""
    return escape(value)
