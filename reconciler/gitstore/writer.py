"""Every commit the reconciler makes goes through here: built in memory, pushed, never forced.

A write is a *function of the branch tip* (`build(tip) -> changes`), not a diff computed in
advance. That is what makes concurrent writers safe: when the push is refused because
someone else moved the branch, we fetch, call `build` again on the new tip and push again,
with jittered exponential backoff, a bounded number of times. The server therefore only ever
sees fast-forwards, and a human's push that raced ours is kept, not overwritten.

Idempotency: a write may carry a `step` key, stored as the `Reconciler-Step` trailer. Before
building, the writer looks for that step on the branch (an incremental index over the last
`step_depth` commits) and returns the commit it finds, so a controller restarted between
"pushed" and "recorded" does not write the same thing twice.

Every push is a compare-and-swap from the tip the change was built on (`Mirror.update_branch`):
over the network the server enforces it, for a local origin we do it with libgit2's locked
ref update.
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pygit2
from pygit2.enums import ObjectType, SortMode

from reconciler.contract import BOT_EMAIL, BOT_NAME, TRAILER_STEP
from reconciler.gitstore import threeway, treeedit
from reconciler.gitstore.errors import (
    AuthenticationError,
    BranchExists,
    MergeConflict,
    PushRejected,
    RemoteError,
    WriteConflict,
)
from reconciler.gitstore.mirror import HEADS, Mirror, Rev, iter_files
from reconciler.gitstore.models import WriteResult
from reconciler.gitstore.trailers import Trailers, format_message
from reconciler.gitstore.trailers import parse as parse_trailers

TrailerInput = Mapping[str, str] | Iterable[tuple[str, str]] | Trailers | None


@dataclass(frozen=True, slots=True)
class TreeChange:
    """A build result that is a whole new root tree (from a merge), optionally with more
    parents than the tip (a merge-like commit whose parents the caller chooses)."""

    tree: pygit2.Oid | str
    extra_parents: tuple[str, ...] = ()


BuildResult = Mapping[str, "bytes | None | treeedit.SubtreeId"] | TreeChange | None


class TipView:
    """What a build function sees: the current tip of the branch being written (or of the
    start point, for a new branch), or nothing for a branch that does not exist yet."""

    def __init__(self, repo: pygit2.Repository, commit: pygit2.Commit | None) -> None:
        self.repo = repo
        self.commit = commit

    @property
    def oid(self) -> str | None:
        return None if self.commit is None else str(self.commit.id)

    @property
    def tree(self) -> pygit2.Tree | None:
        return None if self.commit is None else self.commit.tree

    def read(self, path: str) -> bytes | None:
        """File content at the tip, None when missing."""
        if self.commit is None:
            return None
        try:
            obj = self.commit.tree[path]
        except KeyError:
            return None
        return obj.data if obj.type == ObjectType.BLOB else None  # type: ignore[union-attr]

    def exists(self, path: str) -> bool:
        if self.commit is None:
            return False
        try:
            self.commit.tree[path.strip("/")]
            return True
        except KeyError:
            return False

    def files(self, prefix: str = "") -> dict[str, str]:
        """`{path: blob id}` under `prefix` (recursive, full paths)."""
        if self.commit is None:
            return {}
        tree = treeedit.subtree(self.repo, self.commit.tree, prefix)
        base = prefix.strip("/")
        return dict(iter_files(self.repo, tree, base + "/" if base else ""))


Build = Callable[[TipView], BuildResult]


@dataclass
class _StepIndex:
    """Steps seen on a branch: which commit carries each `Reconciler-Step` value."""

    tip: str | None = None
    steps: dict[str, str] | None = None


class Writer:
    """The one writer of a mirror's remote: a lock per branch, push-retry, idempotent steps.

    Tunables: `max_attempts` and `max_seconds` bound a write; backoff between retries is
    `base_delay * 2**n` capped at `max_delay`, jittered to 50–100 %; `step_depth` is how many
    commits back a step is looked for.
    """

    def __init__(self, mirror: Mirror, *, max_attempts: int = 8, max_seconds: float = 30.0,
                 base_delay: float = 0.02, max_delay: float = 1.0, step_depth: int = 1000,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        self.mirror = mirror
        self.max_attempts = max_attempts
        self.max_seconds = max_seconds
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.step_depth = step_depth
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._steps: dict[str, _StepIndex] = {}

    # ------------------------------------------------------------------ public API

    def lock(self, branch: str) -> threading.Lock:
        """The lock that serialises writes to `branch` in this process."""
        with self._guard:
            return self._locks.setdefault(branch, threading.Lock())

    def write(self, branch: str, build: Build, message: str, trailers: TrailerInput = None,
              step: str | None = None, *, start_point: Rev | None = None,
              author: tuple[str, str] | None = None) -> WriteResult:
        """Commit what `build(tip)` returns on `branch` and push it.

        `build` returns `{path: bytes | None}` (None deletes), a `TreeChange`, or None for
        "nothing to do"; it may be called again on a newer tip after a rejected push, so it
        must derive everything from the tip it is given. It may raise (e.g. MergeConflict);
        the exception propagates and nothing is written.

        A branch that does not exist is created, starting from `start_point` if given (else
        with a root commit). Raises PushRejected (a hook or permission refused it),
        WriteConflict (retries exhausted), RemoteError / AuthenticationError (transport).
        `author` (name, email) replaces the bot identity — for commits made on a person's
        behalf (`reconciler trigger delivery`), which must be able to trigger sequences.
        """
        formatted = self._message(message, trailers, step)
        with self.lock(branch):
            started = time.monotonic()
            attempt = 0
            while True:
                attempt += 1
                repo = self.mirror.repo
                tip = self.mirror.tip(branch)
                if step is not None:
                    found = self.find_step(branch, step, tip=tip)
                    if found is not None:
                        return WriteResult(branch, found, created=False, existing=True, attempts=attempt)
                base = repo[tip] if tip is not None else (
                    self.mirror.commit(start_point) if start_point is not None else None)
                commit_id = self._commit(repo, base, build(TipView(repo, base)), formatted,  # type: ignore[arg-type]
                                         author)
                if commit_id is None:
                    if tip is None and base is not None:
                        commit_id = base.id   # new branch with no change: the start point itself
                    else:
                        return WriteResult(branch, tip, created=False, attempts=attempt)
                reason = self._push(branch, commit_id, tip)
                if reason is None:
                    return WriteResult(branch, str(commit_id), created=True, attempts=attempt)
                new_tip = self.mirror.fetch([branch]).get(branch)
                if new_tip == str(commit_id):
                    # the update landed although the transport reported an error
                    return WriteResult(branch, new_tip, created=True, attempts=attempt)
                if new_tip == tip:
                    if reason.startswith("transport:"):
                        raise RemoteError(f"push to branch {branch!r} failed: {reason[len('transport: '):]}")
                    raise PushRejected(branch, reason)
                elapsed = time.monotonic() - started
                delay = self._backoff(attempt)
                if attempt >= self.max_attempts or elapsed + delay > self.max_seconds:
                    raise WriteConflict(branch, attempt, elapsed, reason)
                self._sleep(delay)

    def cherry_pick(self, branch: str, change: Rev, message: str, trailers: TrailerInput = None,
                    step: str | None = None, *, prefix: str | None = None,
                    start_point: Rev | None = None) -> WriteResult:
        """Apply what commit `change` did (restricted to `prefix`) on `branch` (promotion).

        Raises MergeConflict naming the conflicting paths; an already-applied change writes
        nothing (`created=False`).
        """
        commit = self.mirror.commit(change)

        def build(tip: TipView) -> BuildResult:
            result = threeway.cherry_pick(tip.repo, commit, tip.tree, prefix)
            if not result.ok:
                raise MergeConflict("cherry-pick", str(commit.id), branch, result.conflicts)
            return TreeChange(result.tree)  # type: ignore[arg-type]

        return self.write(branch, build, message, trailers, step, start_point=start_point)

    def revert(self, branch: str, change: Rev, message: str, trailers: TrailerInput = None,
               step: str | None = None, *, prefix: str | None = None) -> WriteResult:
        """Undo what commit `change` did (restricted to `prefix`) on `branch` (rollback)."""
        commit = self.mirror.commit(change)

        def build(tip: TipView) -> BuildResult:
            result = threeway.revert(tip.repo, commit, tip.tree, prefix)
            if not result.ok:
                raise MergeConflict("revert", str(commit.id), branch, result.conflicts)
            return TreeChange(result.tree)  # type: ignore[arg-type]

        return self.write(branch, build, message, trailers, step)

    def create_branch(self, branch: str, rev: Rev) -> str:
        """Create `branch` at `rev` on the remote; idempotent when it already points there.

        Raises BranchExists if it exists at another commit, PushRejected if refused.
        """
        target = str(self.mirror.commit(rev).id)
        with self.lock(branch):
            current = self.mirror.ls_remote().get(branch)
            if current == target:
                self.mirror.fetch([branch])
                return target
            if current is not None:
                raise BranchExists(branch, current)
            reason = self._push(branch, pygit2.Oid(hex=target), None)
            if reason is not None:
                if self.mirror.ls_remote().get(branch) == target:
                    return target
                raise PushRejected(branch, reason)
            return target

    def delete_branch(self, branch: str, expected: str | None = None) -> bool:
        """Delete `branch` on the remote (and here). False when it did not exist.

        With `expected`, refuse (WriteConflict) if the branch no longer points there. The
        delete itself is a compare-and-swap against the tip just read, so a push that lands
        in between makes it fail (PushRejected) instead of being deleted with the branch.
        """
        with self.lock(branch):
            current = self.mirror.ls_remote().get(branch)
            if current is None:
                self._drop_local(branch)
                return False
            if expected is not None and current != expected:
                raise WriteConflict(branch, 1, 0.0, f"branch is at {current[:12]}, expected {expected[:12]}")
            self.mirror.update_branch(branch, None, pygit2.Oid(hex=current))
            return True

    def find_step(self, branch: str, step: str, *, tip: str | None = None) -> str | None:
        """The commit on `branch` (within the last `step_depth` commits) carrying
        `Reconciler-Step: <step>`, or None. Incremental: only new commits are read."""
        tip = self.mirror.tip(branch) if tip is None else tip
        if tip is None:
            return None
        repo = self.mirror.repo
        index = self._steps.setdefault(branch, _StepIndex())
        if index.tip != tip:
            reuse = (index.tip is not None and index.steps is not None
                     and repo.get(index.tip) is not None and repo.descendant_of(tip, index.tip))
            walker = repo.walk(pygit2.Oid(hex=tip), SortMode.TOPOLOGICAL)
            if reuse:
                walker.hide(pygit2.Oid(hex=index.tip))  # type: ignore[arg-type]
            found: dict[str, str] = {}
            for n, commit in enumerate(walker):
                if n >= self.step_depth:
                    break
                message = commit.message
                if TRAILER_STEP.lower() not in message.lower():
                    continue
                for value in parse_trailers(message).get_all(TRAILER_STEP):
                    found.setdefault(value, str(commit.id))
            steps = dict(index.steps or {}) if reuse else {}
            steps.update(found)
            if len(steps) > 4 * self.step_depth:    # keep memory bounded: drop the oldest
                steps = dict(list(steps.items())[-2 * self.step_depth:])
            index.tip, index.steps = tip, steps
        return (index.steps or {}).get(step)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _message(message: str, trailers: TrailerInput, step: str | None) -> str:
        pairs = list(trailers.pairs) if isinstance(trailers, Trailers) else (
            list(trailers.items()) if isinstance(trailers, Mapping) else list(trailers or []))
        if step is not None and not any(k.lower() == TRAILER_STEP.lower() for k, _ in pairs):
            pairs.append((TRAILER_STEP, step))
        return format_message(message, pairs)

    @staticmethod
    def _commit(repo: pygit2.Repository, base: pygit2.Commit | None, result: BuildResult,
                message: str, author: tuple[str, str] | None = None) -> pygit2.Oid | None:
        if result is None:
            return None
        parents = [base.id] if base is not None else []
        if isinstance(result, TreeChange):
            tree = pygit2.Oid(hex=result.tree) if isinstance(result.tree, str) else result.tree
            parents += [pygit2.Oid(hex=p) for p in result.extra_parents]
            extra = bool(result.extra_parents)
        else:
            tree = treeedit.apply(repo, base.tree if base is not None else None, result)
            extra = False
        if base is not None and tree == base.tree_id and not extra:
            return None
        who = pygit2.Signature(*(author or (BOT_NAME, BOT_EMAIL)))
        return repo.create_commit(None, who, who, message, tree, parents)

    def _push(self, branch: str, oid: pygit2.Oid, old: str | None) -> str | None:
        """Move the remote `branch` from `old` to `oid`; None on success, else the reason
        (`transport: …` for transport errors, the remote's message for refusals)."""
        try:
            self.mirror.update_branch(branch, oid, pygit2.Oid(hex=old) if old else None)
        except AuthenticationError:
            raise
        except PushRejected as exc:
            return exc.reason
        except RemoteError as exc:
            return f"transport: {exc}"
        return None

    def _backoff(self, attempt: int) -> float:
        if attempt <= 1:
            return 0.0   # the first retry follows a fetch that already explains the conflict
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 2))
        return cap * (0.5 + 0.5 * self._rng.random())

    def _drop_local(self, branch: str) -> None:
        ref = self.mirror.repo.references.get(HEADS + branch)
        if ref is not None:
            ref.delete()
