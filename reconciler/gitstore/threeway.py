"""Cherry-pick and revert as in-memory three-way merges, optionally limited to one folder.

Promotion carries a change from one stage branch to the next; rollback undoes it. Both are
three-way merges of trees (`repo.merge_trees`) with no working tree and no index file:

* cherry-pick C onto T: merge(base = C's parent, ours = T, theirs = C)
* revert C on T:        merge(base = C, ours = T, theirs = C's parent)

With `prefix="svc/"` only that folder takes part, so the rest of the target branch stays
exactly as it is, and inside the folder lines that differ per stage (replicas, endpoints)
survive as long as the change did not touch them. A conflict yields the conflicting paths,
so the sequence can end as errored and name them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pygit2

from reconciler.gitstore import objects
from reconciler.gitstore.treeedit import SubtreeId, apply, subtree


@dataclass(frozen=True, slots=True)
class ThreeWayResult:
    """A merged root tree id, or the conflicting paths (then `tree` is None)."""

    tree: pygit2.Oid | None
    conflicts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.tree is not None


def _first_parent_tree(commit: pygit2.Commit) -> pygit2.Tree | None:
    return commit.parents[0].tree if commit.parents else None


# (path, base, ours, theirs) contents of a conflicting file → merged content, or None
Resolver = Callable[[str, "bytes | None", "bytes | None", "bytes | None"], "bytes | None"]


def _resolve(repo: pygit2.Repository, index: pygit2.Index, clean: str, resolver: Resolver | None) -> set[str]:
    """Settle the index's conflicts the resolver can merge; the paths left in conflict."""
    left: set[str] = set()
    settled: list[tuple[str, pygit2.Oid, pygit2.enums.FileMode]] = []
    for entries in list(index.conflicts):
        present = [e for e in entries if e is not None]
        path = present[0].path
        full = f"{clean}/{path}" if clean else path
        blobs = [objects.blob_data(repo, e.id) if e is not None else None for e in entries]
        merged = resolver(full, *blobs) if resolver is not None and entries[1] is not None else None
        if merged is None:
            left.add(full)
        else:
            settled.append((path, repo.create_blob(merged), entries[1].mode))
    if not left:
        for path, oid, mode in settled:
            del index.conflicts[path]
            index.add(pygit2.IndexEntry(path, oid, mode))
    return left


def merge_into(repo: pygit2.Repository, base: pygit2.Tree | None, ours: pygit2.Tree | None,
               theirs: pygit2.Tree | None, prefix: str | None = None,
               resolver: Resolver | None = None) -> ThreeWayResult:
    """Three-way merge of root trees, restricted to `prefix` when given; the result is
    `ours` with only the prefix folder replaced by the merged folder. `resolver` may settle
    files the line merge left in conflict (e.g. a YAML merge by key)."""
    clean = prefix.strip("/") if prefix else ""
    b, o, t = (subtree(repo, x, clean) for x in (base, ours, theirs))
    index = repo.merge_trees(b, o, t)
    if index.conflicts is not None:
        paths = _resolve(repo, index, clean, resolver)
        if paths:
            return ThreeWayResult(None, tuple(sorted(paths)))
    merged = index.write_tree(repo)
    if not clean:
        return ThreeWayResult(merged)
    return ThreeWayResult(apply(repo, ours, {clean: SubtreeId(merged)}))


def cherry_pick(repo: pygit2.Repository, change: pygit2.Commit, onto: pygit2.Tree | None,
                prefix: str | None = None, resolver: Resolver | None = None) -> ThreeWayResult:
    """`onto` with what `change` did (relative to its first parent) applied."""
    return merge_into(repo, _first_parent_tree(change), onto, change.tree, prefix, resolver)


def revert(repo: pygit2.Repository, change: pygit2.Commit, onto: pygit2.Tree | None,
           prefix: str | None = None, resolver: Resolver | None = None) -> ThreeWayResult:
    """`onto` with what `change` did undone."""
    return merge_into(repo, change.tree, onto, _first_parent_tree(change), prefix, resolver)
