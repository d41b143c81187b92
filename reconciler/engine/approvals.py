"""Which runs wait for a person's approval, found again from the record after a restart.

An approval task answers `.started` and then waits (for a merge, a branch deletion, a forge
review): nothing in the sequencer moves it. A restarted controller must ask again whether those
approvals were decided. The request it rebuilds has the key `<run id>/<task index>/dispatch`
(the sequencer's own dispatch key ends in `/triggered`; kept as it was when this moved here).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.events import CloudEvent
from reconciler.engine.state import WAITING_FOR_APPROVAL
from reconciler.engine.world import World


@dataclass(frozen=True, slots=True)
class WaitingApproval:
    """An approval task in `waitingForApproval`: its `.triggered` and what its `.started` said."""

    run_id: str
    context: str
    stage: str
    service: str
    task: str
    key: str
    trigger: CloudEvent
    started: dict[str, Any] = field(default_factory=dict)


def dispatch_key(run_id: str, task_index: int) -> str:
    return f"{run_id}/{task_index}/dispatch"


def waiting_approvals(world: World) -> list[WaitingApproval]:
    """Every active run waiting for approval whose task `.triggered` is in its record."""
    out: list[WaitingApproval] = []
    for run in world.active_runs():
        if run.state != WAITING_FOR_APPROVAL or run.current >= len(run.tasks):
            continue
        task = run.tasks[run.current]
        events = run.cloud_events()
        trigger = next((e for e in events if e.id == task.triggered_id), None)
        if trigger is None:
            continue
        started = next((e for e in events if e.triggeredid == task.triggered_id
                        and e.type.endswith(".started")), None)
        out.append(WaitingApproval(run.id, run.context, run.stage, run.service, task.name,
                                   dispatch_key(run.id, task.index), trigger,
                                   dict(started.data) if started else {}))
    return out
