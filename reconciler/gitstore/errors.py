"""What can go wrong talking to the config repo, as exceptions a caller can act on.

Every message names the branch (or URL, with secrets redacted) and says what to do, because
these end up in `reconciler status` and in logs read by the person who owns the repo.
"""
from __future__ import annotations


class GitStoreError(Exception):
    """Base class: anything the Git store could not do."""


class RemoteError(GitStoreError):
    """The remote could not be reached or answered with an error (network, protocol)."""


class CorruptOrigin(RemoteError):
    """The origin is reachable but holds a damaged object (named in the message and `oid`):
    the mirror keeps its last good state until someone repairs the origin."""

    def __init__(self, message: str, oid: str = "") -> None:
        super().__init__(message)
        self.oid = oid


class AuthenticationError(RemoteError):
    """The remote refused our credentials, or asked for credentials we do not have."""


class PushRejected(GitStoreError):
    """The server declined an update for a reason a retry cannot fix (a hook, a protected
    branch, a permission). `reason` is the server's own message."""

    def __init__(self, branch: str, reason: str) -> None:
        self.branch = branch
        self.reason = reason
        super().__init__(
            f"push to branch {branch!r} was rejected by the server: {reason}. "
            "Check the repository's branch protection and hooks for this branch.")


class WriteConflict(GitStoreError):
    """Other writers kept moving the branch; we gave up after a bounded number of retries."""

    def __init__(self, branch: str, attempts: int, seconds: float, reason: str) -> None:
        self.branch = branch
        self.attempts = attempts
        self.seconds = seconds
        self.reason = reason
        super().__init__(
            f"could not write to branch {branch!r}: it changed under us {attempts} times in "
            f"{seconds:.1f}s ({reason}). Nothing was force-pushed; the write can be retried.")


class MergeConflict(GitStoreError):
    """A cherry-pick or revert does not apply cleanly; `paths` are the conflicting files."""

    def __init__(self, operation: str, commit: str, branch: str, paths: tuple[str, ...]) -> None:
        self.operation = operation
        self.commit = commit
        self.branch = branch
        self.paths = paths
        super().__init__(
            f"{operation} of {commit[:12]} onto {branch!r} conflicts in: {', '.join(paths)}. "
            "Resolve it by hand on that branch.")


class BranchExists(GitStoreError):
    """A branch we were asked to create already exists with different content."""

    def __init__(self, branch: str, tip: str) -> None:
        self.branch = branch
        self.tip = tip
        super().__init__(f"branch {branch!r} already exists at {tip[:12]}")


class UnknownRevision(GitStoreError):
    """A branch, ref or commit id that the mirror does not have."""
