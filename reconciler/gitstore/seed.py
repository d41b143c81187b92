"""Create a bare config repository from a folder laid out one sub-folder per branch.

`example-config-repo/` (and any `reconciler init --from DIR`) holds `main/` (or `master/`)
plus one folder per stage. The default branch is committed first; every other branch is
committed with the default branch's commit as its parent, the way Keptn forks stage
branches, so `git log --graph --all` shows where each stage came from.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pygit2

from reconciler.contract import BOT_EMAIL, BOT_NAME, DEFAULT_BRANCHES
from reconciler.gitstore import objects


class SeedError(ValueError):
    """The layout or the destination cannot be used; the message says what to change."""


def branch_folders(layout: Path) -> tuple[str, list[str]]:
    """(default branch, other branches) of a layout folder; raises SeedError when it has
    neither main/ nor master/."""
    if not layout.is_dir():
        raise SeedError(f"{layout} is not a folder")
    names = sorted(p.name for p in layout.iterdir() if p.is_dir() and not p.name.startswith("."))
    default = next((b for b in DEFAULT_BRANCHES if b in names), None)
    if default is None:
        raise SeedError(f"{layout} has no main/ or master/ folder; lay it out one folder per branch "
                        "(main/ holds shipyard.yaml, one folder per stage)")
    return default, [n for n in names if n != default]


def seed_bare_repo(dest: Path, layout: Path) -> dict[str, str]:
    """Create a bare repository at `dest` from `layout`; returns branch → commit id.
    Refuses a `dest` that exists and is not an empty folder."""
    default, others = branch_folders(layout)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise SeedError(f"{dest} already exists and is not empty; choose a new path")
    repo = pygit2.init_repository(str(dest), bare=True, initial_head=default)
    who = pygit2.Signature(BOT_NAME, BOT_EMAIL)
    root = repo.create_commit(f"refs/heads/{default}", who, who,
                              f"Create project from {layout.resolve().name}/{default}\n",
                              _tree(repo, layout / default), [])
    commits = {default: str(root)}
    for branch in others:
        oid = repo.create_commit(f"refs/heads/{branch}", who, who,
                                 f"Create stage branch {branch} from {layout.resolve().name}/{branch}\n",
                                 _tree(repo, layout / branch), [root])
        commits[branch] = str(oid)
    return commits


def _tree(repo: pygit2.Repository, folder: Path) -> pygit2.Oid:
    builder = repo.TreeBuilder()
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name in (".git",):
            continue
        if entry.is_dir():
            sub = _tree(repo, Path(entry.path))
            if len(objects.tree(repo, sub)) > 0:
                builder.insert(entry.name, sub, pygit2.enums.FileMode.TREE)
        elif entry.is_file():
            mode = entry.stat().st_mode
            filemode = (pygit2.enums.FileMode.BLOB_EXECUTABLE if mode & stat.S_IXUSR
                        else pygit2.enums.FileMode.BLOB)
            builder.insert(entry.name, repo.create_blob(Path(entry.path).read_bytes()), filemode)
    return builder.write()
