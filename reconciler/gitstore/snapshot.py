"""Read a config repository as plain data: its branches, and every file of one branch.

This is what `reconciler validate` and the project validator need: branch → {path →
source}. Sources are bytes, or `BlobRef`s that read their bytes only when asked, so a
caller that caches by blob id (the project validator does) never reads unchanged blobs.
Self-contained on purpose: it does not need the mirror or writer machinery.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pygit2

from reconciler.gitstore import objects

_LINK = pygit2.enums.FileMode.LINK if hasattr(pygit2, "enums") else 0o120000
_COMMIT = pygit2.enums.FileMode.COMMIT if hasattr(pygit2, "enums") else 0o160000


def open_repository(path: str | Path) -> pygit2.Repository:
    """A bare repository or a working copy at exactly `path` (no searching upwards)."""
    return pygit2.Repository(str(path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)


def is_repository(path: str | Path) -> bool:
    p = Path(path)
    if (p / ".git").exists():
        return True
    return (p / "HEAD").is_file() and (p / "objects").is_dir() and (p / "refs").is_dir()


def list_branches(repo: pygit2.Repository, *, remote_tracking: bool = True) -> dict[str, str]:
    """Branch name → tip commit id (hex). Local branches first; with `remote_tracking`,
    `origin/x` also counts as branch `x` where there is no local `x` (a fresh clone)."""
    out: dict[str, str] = {}
    for name in repo.branches.local:
        commit = _tip(repo, f"refs/heads/{name}")
        if commit is not None:
            out[name] = commit
    if remote_tracking:
        for name in repo.branches.remote:
            remote, _, short = name.partition("/")
            if not short or short == "HEAD" or short in out:
                continue
            commit = _tip(repo, f"refs/remotes/{name}")
            if commit is not None:
                out[short] = commit
    return out


def _tip(repo: pygit2.Repository, refname: str) -> str | None:
    try:
        return str(repo.references[refname].peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError):
        return None


@dataclass(frozen=True)
class BlobRef:
    """A blob that is read on first use of `.data`; `.id` is its hex id (a cache key)."""

    repo: pygit2.Repository
    id: str

    @property
    def data(self) -> bytes:
        return objects.blob_data(self.repo, self.id)


def read_tree(repo: pygit2.Repository, commit: str, *, lazy: bool = False) -> dict[str, bytes | BlobRef]:
    """Every regular file of the commit's tree: path → bytes (or BlobRef with lazy=True).
    Symlinks and submodules are left out: the reconciler never follows them."""
    out: dict[str, bytes | BlobRef] = {}
    stack: list[tuple[str, pygit2.Tree]] = [("", repo[commit].peel(pygit2.Tree))]
    while stack:
        prefix, tree = stack.pop()
        for entry in tree:
            path = prefix + (entry.name or "")
            if entry.type_str == "tree":
                stack.append((path + "/", objects.tree(repo, entry.id)))
            elif entry.type_str == "blob" and entry.filemode not in (_LINK, _COMMIT):
                out[path] = BlobRef(repo, str(entry.id)) if lazy else objects.blob_data(repo, entry.id)
    return out


def read_branches(repo: pygit2.Repository, *, lazy: bool = False,
                  remote_tracking: bool = True) -> dict[str, dict[str, bytes | BlobRef]]:
    """branch → {path → source} for every branch (see list_branches)."""
    return {name: read_tree(repo, commit, lazy=lazy)
            for name, commit in list_branches(repo, remote_tracking=remote_tracking).items()}


def project_name(path: str | Path) -> str:
    """The project's name for the repository at (or around) `path`: the name of its `origin`
    remote when it is a clone, else its own folder's name (`sockshop.git` → `sockshop`),
    as `serve` names it from the URL it is given (contract.project_name_from_repo)."""
    from reconciler import contract
    return discovered_project_name(path) or contract.project_name_from_repo(str(Path(path).resolve()))


def discovered_project_name(path: str | Path) -> str | None:
    """project_name of the repository holding `path`, None when it is in none."""
    from reconciler import contract
    found = pygit2.discover_repository(str(path))
    if found is None:
        return None
    repo = pygit2.Repository(found)
    try:
        origin = repo.remotes["origin"].url
    except (KeyError, ValueError):
        origin = None
    if origin:
        return contract.project_name_from_repo(origin)
    return contract.project_name_from_repo(str(Path(repo.workdir or repo.path).resolve()))
