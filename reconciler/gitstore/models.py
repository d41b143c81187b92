"""Plain data the Git store hands out, so nothing above it needs pygit2 objects."""
from __future__ import annotations

from dataclasses import dataclass

from reconciler.contract import BOT_EMAIL, TRAILER_CONTEXT
from reconciler.gitstore.trailers import Trailers


@dataclass(frozen=True, slots=True)
class Person:
    """An author or committer: who, and when (Unix seconds, UTC offset in minutes)."""

    name: str
    email: str
    time: int
    offset: int = 0


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """One commit as the controller needs it to decide what a push means.

    `changed_paths` are relative to the first parent (everything, for a root commit), so
    for a merge they are what the merge brought into the branch.
    """

    oid: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str
    trailers: Trailers
    changed_paths: tuple[str, ...]

    @property
    def time(self) -> int:
        """Commit time (the committer's), Unix seconds."""
        return self.committer.time

    @property
    def summary(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def by_reconciler(self) -> bool:
        """Our own write-back: committed by the bot or carrying a context trailer."""
        return self.committer.email == BOT_EMAIL or TRAILER_CONTEXT in self.trailers


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: `oid` is the branch tip that holds the change.

    `created` is False when nothing new was committed: the build had nothing to change, or
    `existing` is True because a commit with the same `Reconciler-Step` was already there.
    """

    branch: str
    oid: str | None
    created: bool
    existing: bool = False
    attempts: int = 1
