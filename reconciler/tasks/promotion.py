"""Promotion: land a context's change on the next stage's branch as one commit, as state.

The change is data (engine.changeset): per deployable file of `<service>/`, the YAML keys the
triggering commit changed (and their new values) or the file's new content. It travels in
the events (`data.configurationChange.files`); for a context recorded before that field
existed it is computed from `configurationChange.base..commit`. Promotion sets exactly those
keys (comments and layout kept) and writes exactly those files on the target stage tip, so
values that differ per stage (replicas, endpoints) stay and a fix after a failed, rolled-back
version lands as well (DESIGN §2: promotion is by state, not a cherry-pick of the diff). A
structural clash (a list where the change sets a key) fails naming the file and key path.
The commit carries `Reconciler-Context`, `Reconciler-Event` and `Reconciler-Step:
<Promote.key>`, so carrying out the same Promote twice (a redelivery after a crash) finds the
first commit instead of making a second one, and a change that is already there writes nothing.

The approval executor uses the same function for an automatic approval (directly on the
stage) and for a manual one (on the approval branch), so all three paths produce the same tree.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pygit2

from reconciler import layout
from reconciler.engine import changeset
from reconciler.engine.changeset import ChangeError, ChangeSet, FileDiff
from reconciler.engine.commands import Promote
from reconciler.engine.events import sequence_type, task_type
from reconciler.engine.inputs import PromotionFailed, PromotionFinished
from reconciler.gitstore import treeedit
from reconciler.gitstore.errors import GitStoreError, UnknownRevision
from reconciler.gitstore.mirror import tree_changes
from reconciler.gitstore.writer import TipView, TreeChange
from reconciler.spec.valuesfile import merge_values
from reconciler.tasks.common import commit_trailers

if TYPE_CHECKING:
    from reconciler.engine.triggers import Trigger
    from reconciler.gitstore import Mirror
    from reconciler.tasks.base import TaskEnv

PROMOTION_TASK = layout.TASK_PROMOTION


@dataclass(frozen=True)
class Change:
    """A context's change: what `commit` did relative to `base` inside `<service>/`, and
    the change set from the events when they carry it (`files`)."""

    service: str
    commit: str
    base: str | None = None
    files: ChangeSet | None = None
    from_values: bool = False        # Keptn's configurationChange.values of an API trigger (no commit)

    @classmethod
    def from_data(cls, service: str, change: object) -> Change | None:
        """The change named by `data.configurationChange` (None without a commit)."""
        if not isinstance(change, dict) or not isinstance(change.get("commit"), str) or not change["commit"]:
            return None
        base = change.get("base")
        files = change.get("files")
        try:
            parsed = ChangeSet.from_data(files) if files is not None else None
        except (ValueError, KeyError, TypeError):
            parsed = None
        return cls(service, change["commit"], base if isinstance(base, str) and base else None, parsed)

    def changeset(self, repo: pygit2.Repository) -> ChangeSet:
        if self.files is not None:
            return self.files
        base_tree, change_tree = self.trees(repo)
        return changeset_between(repo, base_tree, change_tree, self.service)

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
        if self.from_values:
            return "configurationChange.values of the trigger"
        base = f"{self.base[:12]}.." if self.base else ""
        return f"{base}{self.commit[:12]}"


def yaml_resolver(path: str, base: bytes | None, ours: bytes | None, theirs: bytes | None) -> bytes | None:
    """Settle a line conflict in a YAML file by merging keys (spec.valuesfile.merge_values);
    the rollback's revert uses it before it falls back to restoring keys."""
    if not path.endswith((".yaml", ".yml")):
        return None
    merged = merge_values(base, ours, theirs)
    return merged.encode() if merged is not None else None


def _blob(tree: pygit2.Tree | None, path: str) -> pygit2.Blob | None:
    if tree is None:
        return None
    try:
        obj = tree[path]
    except KeyError:
        return None
    return obj if isinstance(obj, pygit2.Blob) else None


def changeset_between(repo: pygit2.Repository, before: pygit2.Tree | None, after: pygit2.Tree | None,
                      service: str) -> ChangeSet:
    """The change set that turns `<service>/` of `before` into that of `after` (root trees)."""
    old, new = treeedit.subtree(repo, before, service), treeedit.subtree(repo, after, service)
    diffs = []
    for rel in tree_changes(repo, old, new):
        a, b = _blob(old, rel), _blob(new, rel)
        diffs.append(FileDiff(rel, a.data if a is not None else None, b.data if b is not None else None,
                              str(b.id) if b is not None else None))
    return changeset.compute(diffs)


def configuration_change(service: str, commit: str, base: str | None, change: ChangeSet) -> dict:
    """`data.configurationChange` of a delivery: Keptn's `values` plus the commit range and
    the full per-file change (`files`)."""
    out: dict = {"values": change.values(service), "commit": commit}
    if base:
        out["base"] = base
    out["files"] = change.to_data()
    return out


def delivery_change(mirror: Mirror, trigger: Trigger) -> dict | None:
    """`data.configurationChange` for a pushed trigger: what `base..commit` did to the
    service's deployables (None when a commit is missing: promotion then computes it)."""
    try:
        change = Change(trigger.service, trigger.commit, trigger.base)
        base_tree, tree = change.trees(mirror.repo)
        return configuration_change(trigger.service, trigger.commit, trigger.base,
                                    changeset_between(mirror.repo, base_tree, tree, trigger.service))
    except (UnknownRevision, ValueError):
        return None


def apply_changeset(repo: pygit2.Repository, change: ChangeSet, service: str, onto: pygit2.Tree | None,
                    branch: str) -> pygit2.Oid:
    """The root tree `onto` with `change` applied to `<service>/`; ChangeError names file and key."""
    folder = treeedit.subtree(repo, onto, service)

    def read(rel: str) -> bytes | None:
        blob = _blob(folder, rel)
        return blob.data if blob is not None else None

    def read_blob(oid: str) -> bytes:
        try:
            return repo[oid].peel(pygit2.Blob).data
        except (KeyError, ValueError) as exc:
            raise ChangeError(f"{branch}:{service}/", "", f"blob {oid} of the change is not in the config "
                                                          f"repository") from exc

    writes = changeset.apply(change, read, read_blob, where=f"{branch}:{service}/")
    if not writes:
        return onto.id if onto is not None else repo.TreeBuilder().write()
    return treeedit.apply(repo, onto, {f"{service}/{rel}": data for rel, data in writes.items()})


def apply_change(repo: pygit2.Repository, change: Change, onto: pygit2.Tree | None,
                 branch: str) -> pygit2.Oid:
    """The root tree `onto` with `change` set on `<service>/` (ChangeError on a clash)."""
    files = change.changeset(repo)
    if change.from_values:
        files = _onto_main_values(repo, files, change.service, onto)
    return apply_changeset(repo, files, change.service, onto, branch)


def _onto_main_values(repo: pygit2.Repository, files: ChangeSet, service: str, onto: pygit2.Tree | None) -> ChangeSet:
    """Trigger values go to the stage's main values file (`values.yaml`, else the chart's)."""
    folder = treeedit.subtree(repo, onto, service)
    present: list[str] = []
    if layout.VALUES_FILE in folder:
        present.append(layout.VALUES_FILE)
    try:
        charts = folder[layout.HELM_FOLDER]
    except KeyError:
        charts = None
    if isinstance(charts, pygit2.Tree):
        present += [f"{layout.HELM_FOLDER}/{chart.name}/{layout.VALUES_FILE}" for chart in charts
                    if isinstance(chart, pygit2.Tree) and layout.VALUES_FILE in chart]
    main = changeset.main_values_file(present, service) or changeset.MAIN_VALUES
    return ChangeSet(tuple(dataclasses.replace(f, path=main) if f.path == changeset.MAIN_VALUES else f
                           for f in files.files))


def change_builder(change: Change, branch: str):
    """A writer build function that applies `change` to whatever the tip is."""
    def build(tip: TipView) -> TreeChange:
        return TreeChange(apply_change(tip.repo, change, tip.tree, branch))
    return build


def promotion_message(change: Change, source_stage: str, target_stage: str, repo: pygit2.Repository) -> str:
    try:
        what = change.changeset(repo).describe()
    except GitStoreError:
        what = "?"
    return (f"promote {change.service} from {source_stage} to {target_stage}\n\n"
            f"Sets the change {change.describe()} of {change.service}/ on {source_stage} "
            f"on the {target_stage} branch: {what}.")


def promotion_event(target_stage: str, sequence: str | None) -> str:
    """`sh.keptn.event.<stage>.<sequence>.triggered` when the sequence is known, else
    `sh.keptn.event.promotion.triggered`."""
    return sequence_type(target_stage, sequence, "triggered") if sequence else task_type(PROMOTION_TASK, "triggered")


def land(env: TaskEnv, change: Change, *, context: str, source_stage: str, target_stage: str,
         step: str, event_type: str) -> str:
    """Commit `change` on `target_stage` (idempotent by `step`); the commit that holds it.

    Raises ChangeError (a structural clash), UnknownRevision, or GitStoreError for a missing
    branch or a refused push.
    """
    mirror = env.mirror
    if mirror.tip(target_stage) is None:
        mirror.fetch([target_stage])
        if mirror.tip(target_stage) is None:
            raise GitStoreError(f"stage branch {target_stage!r} does not exist; create it from the "
                                f"default branch before promoting into it")
    result = env.writer.write(target_stage, change_builder(change, target_stage),
                              promotion_message(change, source_stage, target_stage, mirror.repo),
                              commit_trailers(context, event_type), step=step)
    assert result.oid is not None
    return result.oid


def promote(cmd: Promote, env: TaskEnv, *, sequence: str | None = None) -> PromotionFinished | PromotionFailed:
    """Carry out a Promote command: PromotionFinished with the commit that holds the change
    (the current tip when it was already there), or PromotionFailed with conflicting paths or
    the reason. Never raises."""
    if not cmd.commit and cmd.files is not None:
        change = Change(cmd.service, "", None, ChangeSet.from_data(cmd.files), from_values=True)
    else:
        change = Change.from_data(cmd.service, {"commit": cmd.commit, "base": cmd.base, "files": cmd.files}) \
            or Change(cmd.service, cmd.commit, cmd.base)
    try:
        commit = land(env, change, context=cmd.context, source_stage=cmd.source_stage,
                      target_stage=cmd.target_stage, step=cmd.key,
                      event_type=promotion_event(cmd.target_stage, sequence))
    except ChangeError as exc:
        return PromotionFailed(cmd.run_id, (exc.file,), str(exc))
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
