"""What a job run reports: per task an outcome, per action a result for its `.finished` event."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class TaskOutcome:
    name: str
    succeeded: bool
    exit_code: int | None
    output: str                     # bounded, secrets redacted
    message: str                    # one line on what happened
    started: str                    # ISO 8601 UTC
    finished: str
    timed_out: bool = False
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobResult:
    """The outcome of one matched action. `event_data()` is the data of its `.finished` event
    (without project/stage/service, which the caller adds)."""

    action: str
    action_index: int
    status: Literal["succeeded", "errored"]
    result: Literal["pass", "fail"]
    message: str
    started: str
    finished: str
    tasks: list[TaskOutcome] = field(default_factory=list)
    silent: bool = False
    keptn_task: str | None = None   # `test` for sh.keptn.event.test.triggered

    def event_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "status": self.status,
            "result": self.result,
            "message": self.message,
            "jobExecutor": {"action": self.action, "actionIndex": self.action_index,
                            "tasks": [t.to_dict() for t in self.tasks]},
        }
        if self.keptn_task == "test":
            data["test"] = {"start": self.started, "end": self.finished}
        return data
