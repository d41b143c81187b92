"""What every built-in executor shares: the guard that turns exceptions into outcomes, the
trailers of a write-back commit, and reading config files at a commit.

An executor's answer becomes a CloudEvent a person reads, so nothing here ever lets a
traceback escape: an unexpected exception becomes `TaskOutcome.errored` with one line that
names the executor and the error (the traceback goes to the log).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pygit2
from pygit2.enums import SortMode

from reconciler.contract import TRAILER_CONTEXT, TRAILER_EVENT, TRAILER_RESULT
from reconciler.engine.events import task_type
from reconciler.spec import yamltext
from reconciler.tasks.base import Pending, TaskEnv, TaskOutcome, TaskRequest

if TYPE_CHECKING:
    from reconciler.gitstore import Mirror


class TaskFailed(Exception):
    """An executor's way to stop with a prepared outcome from deep inside a helper."""

    def __init__(self, outcome: TaskOutcome):
        super().__init__(outcome.message)
        self.outcome = outcome


class BuiltinExecutor:
    """Base of the built-in executors: answers the task named `task`, never raises.

    Subclasses implement `execute`; `run` guards it. `applies` may be narrowed (deployment
    only where the stage has a target, the action executor only for its action names).
    """

    name: str = "builtin"
    task: str = ""

    def applies(self, request: TaskRequest, env: TaskEnv) -> bool:
        return request.task == self.task

    def run(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome | Pending:
        try:
            return self.execute(request, env)
        except TaskFailed as failed:
            return failed.outcome
        except Exception as exc:   # noqa: BLE001 - the point: no traceback in an event
            return unexpected(self.name, exc, env)

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome | Pending:
        raise NotImplementedError


def unexpected(who: str, exc: BaseException, env: TaskEnv | None = None) -> TaskOutcome:
    """`errored` for an exception nobody expected; the traceback goes to the log only."""
    if env is not None:
        env.log.exception("%s executor failed", who)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
    return TaskOutcome.errored(f"the {who} executor failed unexpectedly: {type(exc).__name__}: {detail}")


def safe_run(executor: Any, request: TaskRequest, env: TaskEnv) -> TaskOutcome | Pending:
    """Run any executor (built-in or not) so that an exception becomes an errored outcome."""
    try:
        return executor.run(request, env)
    except Exception as exc:   # noqa: BLE001
        return unexpected(getattr(executor, "name", type(executor).__name__), exc, env)


# --------------------------------------------------------------------------- commits

def commit_trailers(context: str, event_type: str, result: str | None = None) -> list[tuple[str, str]]:
    """`Reconciler-Context`, `Reconciler-Event` (and `Reconciler-Result`) of a write-back.
    The writer adds `Reconciler-Step` from its `step` argument."""
    pairs = [(TRAILER_CONTEXT, context), (TRAILER_EVENT, event_type)]
    if result is not None:
        pairs.append((TRAILER_RESULT, result))
    return pairs


def task_event(request: TaskRequest, kind: str = "triggered") -> str:
    return task_type(request.task, kind)


def carries(message: str, key: str, value: str) -> bool:
    """True when a line of `message` is the trailer `key: value` (key case-insensitive).

    Anywhere in the message, not only in the trailer block: a squash merge on a forge puts
    the squashed commits' messages (with their trailers) into the body.
    """
    pattern = re.compile(rf"^[ \t*-]*{re.escape(key)}[ \t]*:[ \t]*{re.escape(value)}[ \t]*$",
                         re.IGNORECASE | re.MULTILINE)
    return bool(pattern.search(message))


@dataclass(frozen=True)
class MarkedCommit:
    oid: str
    parents: tuple[str, ...]
    message: str

    @property
    def summary(self) -> str:
        return self.message.split("\n", 1)[0]


def commits_carrying(mirror: Mirror, tip: str, key: str, value: str, *, since: str | None = None,
                     limit: int = 1000) -> list[MarkedCommit]:
    """Commits reachable from `tip` (not from `since`), newest first, within the newest
    `limit`, whose message carries the trailer line `key: value`.

    Only messages are read (a substring test first): computing every commit's changed paths,
    as `Mirror.commits` does, made a rollback's scan of 1,000 commits cost 20 ms.
    """
    repo = mirror.repo
    walker = repo.walk(pygit2.Oid(hex=tip), SortMode.TOPOLOGICAL)
    if since is not None:
        try:
            walker.hide(pygit2.Oid(hex=since))
        except (KeyError, ValueError, pygit2.GitError):
            pass            # an unknown `since` (gc'ed, force-pushed away): scan the newest `limit`
    out: list[MarkedCommit] = []
    for n, commit in enumerate(walker):
        if n >= limit:
            break
        message = commit.message
        if value in message and carries(message, key, value):
            out.append(MarkedCommit(str(commit.id), tuple(str(p) for p in commit.parent_ids), message))
    return out


# --------------------------------------------------------------------------- reading config

def stage_commit(request: TaskRequest, env: TaskEnv) -> str:
    """The commit the task reads: the event's `gitcommitid`, else the stage branch tip."""
    commit = request.commit or env.mirror.tip(request.stage)
    if not commit:
        raise TaskFailed(TaskOutcome.errored(
            f"stage branch {request.stage!r} does not exist in the config repository and the event "
            f"carries no gitcommitid; create the branch or fix the shipyard"))
    return commit


def config_commit(request: TaskRequest, env: TaskEnv) -> str:
    """Where to read quality-gate files (slo, sli, remediation, job config): the last valid
    config when the current one is invalid (TaskEnv.config_ref)."""
    commit = stage_commit(request, env)
    return env.config_ref(request.stage, request.service, commit) or commit


def read_text(mirror: Mirror, rev: str, path: str) -> str | None:
    data = mirror.read(rev, path)
    return None if data is None else data.decode("utf-8", errors="replace")


def load_yaml(text: str, where: str) -> Any:
    """Parsed YAML; TaskFailed (errored) naming `where` and the line when it is not YAML."""
    try:
        return yamltext.load(text)
    except yamltext.YamlError as exc:
        line = f":{exc.line}" if exc.line else ""
        raise TaskFailed(TaskOutcome.errored(f"{where}{line}: not valid YAML: {exc.message}")) from None


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is an object, else an empty one (event data is untrusted)."""
    return value if isinstance(value, Mapping) else {}


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""
