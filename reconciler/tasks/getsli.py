"""How the evaluation's `get-sli` provider reaches Keptn integrations: through the controller's
`SideTasks` (`controller.sidetasks`), which offers the question on Keptn's triggered-event poll
and routes the answer from `POST /api/v1/event`.

The event id is derived from the dispatch, so a redelivered evaluation asks with the same id;
the event belongs to the sequence's context, as lighthouse's did.
"""
from __future__ import annotations

from typing import Any

from reconciler.engine.events import CloudEvent, derived_id, iso_time
from reconciler.quality import getsli
from reconciler.quality.providers.get_sli import Answer, Ask
from reconciler.tasks.base import TaskEnv, TaskRequest

SOURCE = "reconciler/lighthouse"


def asker(request: TaskRequest, env: TaskEnv) -> Ask | None:
    """The `Ask` for this evaluation, or None outside `reconciler serve` (no SideTasks)."""
    sidetasks = getattr(env, "sidetasks", None)
    if sidetasks is None:
        return None

    def ask(data: dict[str, Any], timeout: float) -> tuple[str, Answer, list[str]]:
        event = CloudEvent(type=getsli.TRIGGERED, data=data, shkeptncontext=request.context,
                           id=derived_id(request.key, "get-sli"), source=SOURCE, time=iso_time(env.now()),
                           gitcommitid=request.commit)
        answer, started = sidetasks.ask(event, timeout)
        return event.id, (None if answer is None else (answer.source, answer.data)), started

    return ask
