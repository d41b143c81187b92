"""What the HTTP server (and tests) may ask of a running controller.

The server never touches sequence state: writes become inputs on the controller's inbox
(answered through a future, so the API can return 202 or the sequencer's rejection), and
reads go to the SQLite index, which the server opens read-only.
"""
from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from reconciler.engine.events import CloudEvent
from reconciler.engine.problems import Problem


@dataclass(frozen=True)
class Admission:
    """The controller's answer to a submitted input."""

    accepted: bool
    code: str = "accepted"          # stable code; on rejection the sequencer's Rejected.code
    reason: str = ""
    context: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class ControllerHandle(Protocol):
    def notify_tips_changed(self, source: str) -> None:
        """A push may have happened (poll, watch or webhook). Never blocks; coalesced."""

    def submit_event(self, event: CloudEvent) -> Future[Admission]:
        """A CloudEvent from the API: a sequence `.triggered`, or a task `.started`/`.finished`."""

    def submit_control(self, context: str, action: Literal["abort", "pause", "resume"],
                       stage: str | None = None) -> Future[Admission]: ...

    def submit_problems(self, problems: list[Problem]) -> Future[list[Admission]]:
        """Firing alerts open remediations (one per fingerprint), resolved ones close them."""

    def health(self) -> dict[str, Any]:
        """Liveness facts: loop alive, last batch time, inbox depth."""

    def ready(self) -> tuple[bool, str]:
        """Ready once the first fetch and config load happened (reason when not)."""
