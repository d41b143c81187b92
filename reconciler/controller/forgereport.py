"""Gate results where developers look: commit statuses and a comment on approval pull requests.

With `spec.forge.statuses: true` in `reconciler.yaml` (and a forge configured), every
recorded `evaluation.finished` sets a commit status on the evaluated commit (`success` for
pass/warning, `failure` for fail, `error` otherwise; the score in the description; the link
from `spec.forge.statusUrl`), every remediation action and rollback that committed sets one
on its commit, and when a manual approval opens a pull request, one comment on it carries the SLI table of
the context's latest evaluation; a later evaluation in that context edits the same comment.

Like chat notifications this runs on its own thread with a bounded queue: a forge that is
slow, refuses or is down is logged and counted, never waited for by a sequence.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler import layout
from reconciler.engine.events import CloudEvent, parse_type
from reconciler.spec.settings import Settings
from reconciler.tasks.forges.base import ForgeError, StatusState
from reconciler.tasks.forges.registry import from_settings

log = logging.getLogger("reconciler.forgereport")


@dataclass(frozen=True)
class Status:
    commit: str
    state: StatusState
    context: str
    description: str
    stage: str
    service: str
    sequence_context: str


@dataclass(frozen=True)
class Comment:
    number: int
    marker: str
    body: str


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def status_for(event: CloudEvent) -> Status | None:
    """The commit status an event sets, if any (pure)."""
    parsed = parse_type(event.type)
    if parsed is None or parsed.scope != "task" or parsed.kind != "finished":
        return None
    data = event.data or {}
    stage, service = str(data.get("stage") or ""), str(data.get("service") or "")
    result = str(data.get("result") or "")
    if parsed.task == layout.TASK_EVALUATION:
        evaluation = _mapping(data.get("evaluation"))
        commit = str(evaluation.get("gitCommit") or event.gitcommitid or "")
        verdict = str(evaluation.get("result") or result)
        score = evaluation.get("score")
        shown = f"score {score:g}" if isinstance(score, (int, float)) and not isinstance(score, bool) else "no score"
        state: StatusState = ("success" if verdict in ("pass", "warning") else
                              "failure" if verdict == "fail" else "error")
        return Status(commit, state, f"reconciler/{stage}/{service}/evaluation",
                      f"quality gate {verdict or 'errored'}: {shown}", stage, service, event.shkeptncontext) \
            if commit else None
    if parsed.task in _COMMITTING:
        key, what = _COMMITTING[parsed.task]
        commit = str(_mapping(data.get(key)).get("gitCommit") or "")
        if not commit:
            return None
        state = "success" if result in ("pass", "warning") else "failure" if result == "fail" else "error"
        return Status(commit, state, f"reconciler/{stage}/{service}/{what}",
                      f"{what} {result or 'errored'}", stage, service, event.shkeptncontext)
    return None


# Tasks whose `.finished` names a commit they made: (data key, status name).
_COMMITTING = {layout.TASK_ACTION: ("action", "remediation"), layout.TASK_ROLLBACK: ("rollback", "rollback")}


def sli_table(stage: str, service: str, evaluation: Mapping[str, Any]) -> str:
    """Markdown: the verdict and one row per objective."""
    lines = [f"**Quality gate of {service} in {stage}: {evaluation.get('result', 'unknown')}**, "
             f"score {evaluation.get('score', '?')}", "",
             "| objective | value | status | score |", "|---|---|---|---|"]
    for item in evaluation.get("indicatorResults") or []:
        item = _mapping(item)
        value = _mapping(item.get("value"))
        name = str(item.get("displayName") or item.get("sli") or value.get("metric") or "?")
        shown = value.get("value") if value.get("success") else (str(value.get("message") or "") or "no value")
        lines.append(f"| {name} | {shown} | {item.get('status', '')} | {item.get('score', '')} |")
    return "\n".join(lines)


def marker_for(context: str) -> str:
    return f"<!-- reconciler:gate {context} -->"


class ForgeReporter:
    """A Notifier: `send` for every recorded event; work happens on a background thread."""

    def __init__(self, settings: Callable[[], Settings], repo_url: str, *,
                 environ: Mapping[str, str] = os.environ, max_queue: int = 1000):
        self._settings = settings
        self._repo_url = repo_url
        self._environ = environ
        self._queue: queue.Queue[Status | Comment | None] = queue.Queue(maxsize=max_queue)
        self._evaluations: dict[str, tuple[str, str, dict[str, Any]]] = {}   # context -> latest
        self._pulls: dict[str, int] = {}                                      # context -> PR number
        self._lock = threading.Lock()
        self.done = self.failed = self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forge-report", daemon=True)
        self._thread.start()

    def send(self, event: CloudEvent) -> None:
        settings = self._settings()
        if not settings.spec.forge.statuses or settings.spec.forge.kind == "none":
            return
        status = status_for(event)
        if status is not None:
            self._put(status)
        parsed = parse_type(event.type)
        if parsed is None or parsed.scope != "task":
            return
        data = event.data or {}
        context = event.shkeptncontext
        with self._lock:
            if parsed.task == layout.TASK_EVALUATION and parsed.kind == "finished":
                self._evaluations[context] = (str(data.get("stage") or ""), str(data.get("service") or ""),
                                              _mapping(data.get("evaluation")))
                number = self._pulls.get(context)
            elif parsed.task == layout.TASK_APPROVAL and parsed.kind == "started":
                pull = _mapping(_mapping(data.get("approval")).get("pullRequest"))
                number = pull.get("number") if isinstance(pull.get("number"), int) else None
                if number is not None:
                    self._pulls[context] = number
            else:
                return
            latest = self._evaluations.get(context)
        if number is not None and latest is not None:
            self._put(Comment(number, marker_for(context),
                              f"{marker_for(context)}\n{sli_table(*latest)}\n\n_Sequence context `{context}`._"))

    def escalate(self, event: CloudEvent) -> None:
        """Escalations set no status."""

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)

    def drain(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _put(self, item: Status | Comment) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            log.warning("forge report queue full: dropped %s", type(item).__name__.lower())

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            try:
                if item is not None:
                    self._report(item)
            finally:
                self._queue.task_done()

    def _report(self, item: Status | Comment) -> None:
        settings = self._settings().spec.forge
        try:
            forge = from_settings(settings, self._repo_url, environ=self._environ)
            if forge is None:
                return
            if isinstance(item, Status):
                link = (settings.statusUrl or "").replace("{context}", item.sequence_context) \
                    .replace("{stage}", item.stage).replace("{service}", item.service) or None
                forge.set_status(item.commit, item.state, item.context, item.description, link)
            else:
                forge.upsert_comment(item.number, item.marker, item.body)
            self.done += 1
        except ForgeError as exc:
            self.failed += 1
            log.warning("forge report (%s) failed: %s", type(item).__name__.lower(), exc)
        except Exception:  # noqa: BLE001 - a bug here must not end the thread
            self.failed += 1
            log.exception("forge report failed")
