"""The `rollback` task: revert what this context changed in `<service>/` on this stage.

What the context changed on a stage branch is (a) every commit carrying
`Reconciler-Context: <context>` that touched `<service>/` — promotions, approval commits and
their merges, remediation changes — and (b) on the stage where the context started, the
person's change itself (`configurationChange.base..commit`). They are reverted newest first,
three-way and restricted to `<service>/` (where a revert does not apply cleanly because a
later change touched the same lines, the previous values of the keys and files it changed are
restored as state, engine.changeset), as **one** commit with trailers and
`Reconciler-Step`, then the result is deployed through the stage's target (or undeployed,
when the service folder is gone). Walking stops at an earlier rollback of the same context:
what lies behind it was already undone.

A rollback after an approval that was declined finds nothing (the change never landed) and
passes with "nothing to roll back". A structural clash while restoring fails as errored and
names the file and key.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pygit2

from reconciler import layout
from reconciler.contract import TRAILER_CONTEXT, TRAILER_EVENT
from reconciler.engine.changeset import ChangeError
from reconciler.engine.events import task_type
from reconciler.gitstore import objects, threeway
from reconciler.gitstore.errors import UnknownRevision
from reconciler.gitstore.writer import TipView, TreeChange
from reconciler.targets.base import DeploymentFailed
from reconciler.tasks.base import TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import (
    BuiltinExecutor,
    carries,
    commit_trailers,
    commits_carrying,
    mapping,
    task_event,
    text,
)
from reconciler.tasks.deployment import deploy_commit, failure_outcome
from reconciler.tasks.promotion import apply_changeset, changeset_between, yaml_resolver

if TYPE_CHECKING:
    from reconciler.gitstore import Mirror

ROLLBACK = layout.TASK_ROLLBACK
HISTORY_LIMIT = 1000


@dataclass(frozen=True)
class Revert:
    """Undo what `commit` did relative to `base` (None: its first parent)."""

    commit: str
    base: str | None
    why: str

    def trees(self, repo: pygit2.Repository) -> tuple[pygit2.Tree, pygit2.Tree | None]:
        commit = repo[self.commit].peel(pygit2.Commit)
        if self.base:
            return commit.tree, repo[self.base].peel(pygit2.Commit).tree
        return commit.tree, commit.parents[0].tree if commit.parents else None


def context_changes(mirror: Mirror, stage: str, service: str, context: str, data: dict[str, Any],
                    tip: str) -> list[Revert]:
    """What to revert, newest first (see the module docstring)."""
    prefix = layout.service_prefix(service)
    out: list[Revert] = []
    for info in commits_carrying(mirror, tip, TRAILER_CONTEXT, context, limit=HISTORY_LIMIT):
        if carries(info.message, TRAILER_EVENT, task_type(ROLLBACK, "triggered")):
            return out           # an earlier rollback of this context undid everything older
        parent = info.parents[0] if info.parents else None
        if any(p.startswith(prefix) for p in mirror.changed_paths(parent, info.oid)):
            out.append(Revert(info.oid, parent, info.summary))
    change = mapping(data.get("configurationChange"))
    commit, base = text(change.get("commit")), text(change.get("base")) or None
    if commit:
        try:
            started_here = mirror.is_ancestor(commit, tip)
        except UnknownRevision:
            started_here = False
        if started_here and not any(r.commit == commit for r in out):
            out.append(Revert(commit, base, f"the change {(base[:12] + '..') if base else ''}{commit[:12]} "
                                            f"that started the sequence"))
    return out


def revert_builder(reverts: list[Revert], service: str, stage: str):
    def build(tip: TipView) -> TreeChange:
        repo = tip.repo
        tree = tip.tree
        for revert in reverts:
            changed, original = revert.trees(repo)
            result = threeway.merge_into(repo, changed, tree, original, layout.service_prefix(service), yaml_resolver)
            if result.ok:
                assert result.tree is not None     # ok: merged, so there is a tree
                tree = objects.tree(repo, result.tree)
                continue
            # A later change touched the same lines: restore, as state, the previous value of
            # each key (and the previous content of each file) this commit changed.
            restore = changeset_between(repo, changed, original, service)
            tree = objects.tree(repo, apply_changeset(repo, restore, service, tree, stage))
        assert tree is not None
        return TreeChange(tree.id)
    return build


class RollbackExecutor(BuiltinExecutor):
    name = "rollback"
    task = ROLLBACK

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome:
        stage, service, context = request.stage, request.service, request.context
        mirror = env.mirror
        # A redelivery finds its own earlier revert by step, before anything is recomputed.
        done = env.writer.find_step(stage, request.key) if mirror.tip(stage) else None
        if done is not None:
            return self._redeploy(request, env, done, [], reused=True)
        tip = mirror.tip(stage)
        if tip is None:
            return TaskOutcome.errored(f"stage branch {stage} does not exist; nothing to roll back")
        reverts = context_changes(mirror, stage, service, context, request.data, tip)
        if not reverts:
            return TaskOutcome(result="pass", message=f"nothing to roll back: context {context} changed nothing "
                                                      f"in {service}/ on {stage}")
        listing = "\n".join(f"- {r.commit[:12]} {r.why}" for r in reverts)
        try:
            written = env.writer.write(stage, revert_builder(reverts, service, stage),
                                       f"roll back {service} in {stage}\n\nReverts, newest first:\n{listing}",
                                       commit_trailers(context, task_event(request)), step=request.key)
        except ChangeError as exc:
            return TaskOutcome.errored(f"cannot roll back {service} in {stage}: restoring the previous values of "
                                       f"{', '.join(r.commit[:12] for r in reverts)} clashes with later changes: "
                                       f"{exc}. Revert by hand on {stage}")
        assert written.oid is not None
        if not written.created and not written.existing:
            return TaskOutcome(result="pass", message=f"nothing to roll back: the changes of context {context} "
                                                      f"are no longer in {service}/ on {stage}")
        return self._redeploy(request, env, written.oid, reverts, reused=written.existing)

    def _redeploy(self, request: TaskRequest, env: TaskEnv, commit: str, reverts: list[Revert],
                  reused: bool) -> TaskOutcome:
        stage, service = request.stage, request.service
        data: dict[str, Any] = {ROLLBACK: {"gitCommit": commit, "revertedCommits": [r.commit for r in reverts]}}
        target = env.target(stage)
        detail = ""
        if target is not None and target.discard(stage, service):
            # blue/green: the new version ran beside the released one, which never stopped serving
            detail = "; dropped the new version that ran beside the released one, which keeps serving"
        elif target is not None:
            try:
                if env.mirror.list_tree(commit, service):
                    result = deploy_commit(env, target, project=request.project or env.settings.project,
                                           stage=stage, service=service, commit=commit)
                    data.update(result.event_data())
                    data["deployment"]["gitCommit"] = commit
                    detail = f"; deployed {commit[:12]}"
                else:
                    target.undeploy(stage, service)
                    detail = f"; {service}/ no longer exists, undeployed"
            except DeploymentFailed as exc:
                return failure_outcome(exc, f"rolled back {service} in {stage} as {commit[:12]}, but redeploying",
                                       data=data, gitcommitid=commit)
        what = "already rolled back" if reused else f"reverted {len(reverts)} change(s)"
        return TaskOutcome(result="pass", gitcommitid=commit, data=data,
                           message=f"rolled back {service} in {stage}: {what} in {commit[:12]}{detail}")
