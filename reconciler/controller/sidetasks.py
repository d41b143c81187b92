"""Questions the controller's own executors put to Keptn integrations, outside any sequence.

Keptn's lighthouse asked SLI providers with a `get-sli.triggered` event that was not a task of
the shipyard, and took the `.finished` of whichever integration answered. Here the evaluation
task does the same through `SideTasks.ask`: the event is offered to integrations polling
`GET /api/controlPlane/v1/event/triggered/sh.keptn.event.get-sli.triggered` (and to
`/api/v1/events/triggered/…`), their `.started`/`.finished` on `POST /api/v1/event` are routed
here by `triggeredid` instead of to the sequencer, and `ask` returns the first `.finished` or
None once its time is up (the caller fails the gate closed, saying so).

In memory only: an open question lives as long as the executor thread waiting for it, and a
restarted controller re-runs the evaluation, which asks again.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.events import CloudEvent

MAX_OPEN = 1000


@dataclass
class _Question:
    event: CloudEvent
    done: threading.Event = field(default_factory=threading.Event)
    started_by: list[str] = field(default_factory=list)
    answer: CloudEvent | None = None


class SideTasks:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._open: dict[str, _Question] = {}
        self._clock = clock

    def ask(self, event: CloudEvent, timeout: float) -> tuple[CloudEvent | None, list[str]]:
        """Offer `event` (a `.triggered`) until a `.finished` answers it or `timeout` seconds
        pass: (the answer or None, the sources that sent `.started`)."""
        question = _Question(event)
        with self._lock:
            if len(self._open) >= MAX_OPEN:
                raise RuntimeError(f"{MAX_OPEN} questions to integrations are open already")
            self._open[event.id] = question
        try:
            question.done.wait(max(0.0, timeout))
            return question.answer, list(question.started_by)
        finally:
            with self._lock:
                self._open.pop(event.id, None)

    def open_events(self, event_type: str) -> list[dict[str, Any]]:
        """The open questions of this type, as the triggered-event poll returns events."""
        with self._lock:
            return [q.event.to_dict() for q in self._open.values()
                    if q.event.type == event_type and q.answer is None]

    def answer(self, event: CloudEvent) -> str | None:
        """Route an integration's `.started`/`.finished`: None when it answers no open
        question (then it is the sequencer's), else "accepted" or a refusal reason."""
        if not event.triggeredid:
            return None
        with self._lock:
            question = self._open.get(event.triggeredid)
            if question is None:
                return None
            if event.shkeptncontext != question.event.shkeptncontext:
                return "context-mismatch"
            if question.answer is not None:
                return "task-finished"
            if event.type.endswith(".started"):
                question.started_by.append(event.source)
                return "accepted"
            if event.type.endswith(".finished"):
                question.answer = event
                question.done.set()
                return "accepted"
        return "unsupported-type"
