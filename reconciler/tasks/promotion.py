"""Promotion: land a context's change on the next stage's branch as one commit.

The change is the diff `base..commit` of the stage where it was made (base None: the
commit's first parent), restricted to `<service>/`, applied to the target stage tip as an
in-memory three-way merge. Lines that differ per stage (replicas, endpoints) survive as long
as the change did not touch them; a conflict names the paths. The commit carries
`Reconciler-Context`, `Reconciler-Event` and `Reconciler-Step: <Promote.key>`, so carrying out
the same Promote twice (a redelivery after a crash) finds the first commit instead of making
a second one, and a change that is already there writes nothing.

The approval executor uses the same merge for an automatic approval (directly on the stage)
and for a manual one (on the approval branch), so all three paths produce the same tree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pygit2

from reconciler import layout
from reconciler.engine.commands import Promote
from reconciler.engine.events import sequence_type, task_type
from reconciler.engine.inputs import PromotionFailed, PromotionFinished
from reconciler.gitstore import threeway
from reconciler.gitstore.errors import GitStoreError, MergeConflict, UnknownRevision
from reconciler.gitstore.writer import TipView, TreeChange
from reconciler.spec.valuesfile import merge_values
from reconciler.tasks.common import commit_trailers

if TYPE_CHECKING:
    from reconciler.gitstore import Mirror
    from reconciler.tasks.base import TaskEnv

PROMOTION_TASK = layout.TASK_PROMOTION


@dataclass(frozen=True)
class Change:
    """A context's change: what `commit` did relative to `base` inside `<service>/`."""

    service: str
    commit: str
    base: str | None = None

    @property
    def prefix(self) -> str:
        return layout.service_prefix(self.service)

    def trees(self, repo: pygit2.Repository) -> tuple[pygit2.Tree | None, pygit2.Tree]:
        """(base tree, change tree) in `repo`; UnknownRevision when a commit is missing."""
        try:
            commit = repo[self.commit].peel(pygit2.Commit)
            base_tree: pygit2.Tree | None
            if self.base:
                base_tree = repo[self.base].peel(pygit2.Commit).tree
            else:
                base_tree = commit.parents[0].tree if commit.parents else None
        except (KeyError, ValueError, pygit2.GitError):
            missing = self.commit if repo.get(self.commit) is None else self.base
            raise UnknownRevision(f"commit {missing} of the change is not in the config repository "
                                  f"(was the branch force-pushed?)") from None
        return base_tree, commit.tree

    def describe(self) -> str:
        base = f"{self.base[:12]}.." if self.base else ""
        return f"{base}{self.commit[:12]}"


def yaml_resolver(path: str, base: bytes | None, ours: bytes | None, theirs: bytes | None) -> bytes | None:
    """Settle a line conflict in a YAML file by merging keys (spec.valuesfile.merge_values):
    a promoted `image:` next to a stage's own `replicaCount:` is not a conflict."""
    if not path.endswith((".yaml", ".yml")):
        return None
    merged = merge_values(base, ours, theirs)
    return merged.encode() if merged is not None else None


def apply_change(repo: pygit2.Repository, change: Change, onto: pygit2.Tree | None,
                 branch: str) -> pygit2.Oid:
    """The root tree `onto` with `change` merged into `<service>/`; MergeConflict names paths."""
    base_tree, change_tree = change.trees(repo)
    result = threeway.merge_into(repo, base_tree, onto, change_tree, change.prefix, yaml_resolver)
    if not result.ok:
        raise MergeConflict("promotion", change.commit, branch, result.conflicts)
    assert result.tree is not None
    return result.tree


def change_builder(change: Change, branch: str):
    """A writer build function that applies `change` to whatever the tip is."""
    def build(tip: TipView) -> TreeChange:
        return TreeChange(apply_change(tip.repo, change, tip.tree, branch))
    return build


def promotion_message(change: Change, source_stage: str, target_stage: str) -> str:
    return (f"promote {change.service} from {source_stage} to {target_stage}\n\n"
            f"Applies change {change.describe()} of {change.service}/ on {source_stage} "
            f"to the {target_stage} branch (three-way, only {change.service}/).")


def promotion_event(target_stage: str, sequence: str | None) -> str:
    """`sh.keptn.event.<stage>.<sequence>.triggered` when the sequence is known, else
    `sh.keptn.event.promotion.triggered`."""
    return sequence_type(target_stage, sequence, "triggered") if sequence else task_type(PROMOTION_TASK, "triggered")


def land(env: TaskEnv, change: Change, *, context: str, source_stage: str, target_stage: str,
         step: str, event_type: str) -> str:
    """Commit `change` on `target_stage` (idempotent by `step`); the commit that holds it.

    Raises MergeConflict, UnknownRevision, or GitStoreError for a missing branch or a refused push.
    """
    mirror = env.mirror
    if mirror.tip(target_stage) is None:
        mirror.fetch([target_stage])
        if mirror.tip(target_stage) is None:
            raise GitStoreError(f"stage branch {target_stage!r} does not exist; create it from the "
                                f"default branch before promoting into it")
    result = env.writer.write(target_stage, change_builder(change, target_stage),
                              promotion_message(change, source_stage, target_stage),
                              commit_trailers(context, event_type), step=step)
    assert result.oid is not None
    return result.oid


def promote(cmd: Promote, env: TaskEnv, *, sequence: str | None = None) -> PromotionFinished | PromotionFailed:
    """Carry out a Promote command: PromotionFinished with the commit that holds the change
    (the current tip when it was already there), or PromotionFailed with conflicting paths or
    the reason. Never raises."""
    change = Change(cmd.service, cmd.commit, cmd.base)
    try:
        commit = land(env, change, context=cmd.context, source_stage=cmd.source_stage,
                      target_stage=cmd.target_stage, step=cmd.key,
                      event_type=promotion_event(cmd.target_stage, sequence))
    except MergeConflict as exc:
        return PromotionFailed(cmd.run_id, tuple(exc.paths))
    except GitStoreError as exc:
        return PromotionFailed(cmd.run_id, (), str(exc))
    except Exception as exc:   # noqa: BLE001 - answered, never raised into the controller loop
        env.log.exception("promotion %s failed", cmd.key)
        return PromotionFailed(cmd.run_id, (), f"unexpected error: {type(exc).__name__}: {exc}")
    return PromotionFinished(cmd.run_id, commit)


def change_tree_on(mirror: Mirror, change: Change, onto_commit: str, branch: str) -> pygit2.Oid:
    """The tree of `onto_commit` with `change` applied (for a commit made outside the writer)."""
    repo = mirror.repo
    return apply_change(repo, change, mirror.commit(onto_commit).tree, branch)
