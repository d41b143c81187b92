"""A bare mirror of the config repo in the work dir: the only place we read Git from.

The mirror's fetch refspec is `+refs/heads/*:refs/heads/*` with pruning, so after a fetch
its branches *are* the remote's branches (no `origin/` layer to keep in sync). Everything we
read (files at a ref, diffs, commit facts) comes from here in well under a millisecond;
the network is touched only by `ls_remote`, `fetch` and pushes.

Threads: libgit2 objects may be used by one thread at a time, so each thread opens its own
`pygit2.Repository` on the same directory (0.1 ms). Operations that move local refs over
the network (fetch, push) are serialised by one lock per mirror.
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Iterable

import pygit2
from pygit2.enums import FetchPrune, ObjectType, SortMode

from reconciler.contract import DEFAULT_BRANCHES
from reconciler.gitstore.credentials import GitCredentials, TransportCallbacks, configure_timeouts, redact
from reconciler.gitstore.errors import AuthenticationError, GitStoreError, RemoteError, UnknownRevision
from reconciler.gitstore.models import CommitInfo, Person
from reconciler.gitstore.trailers import parse as parse_trailers

HEADS = "refs/heads/"
FETCH_REFSPEC = "+refs/heads/*:refs/heads/*"
REMOTE_NAME = "origin"
MIRROR_DIRNAME = "mirror.git"
_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

Rev = str | pygit2.Oid


def _same_repo_url(a: str, b: str) -> bool:
    """Equal after dropping user-info and a trailing slash (a rotated token is the same repo)."""
    strip = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]+@")
    return strip.sub(r"\1", a).rstrip("/") == strip.sub(r"\1", b).rstrip("/")


def local_path(url: str) -> Path | None:
    """The directory of a `file://` URL or plain path remote; None for network remotes."""
    if url.startswith("file://"):
        return Path(url[len("file://"):])
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        return None
    return Path(url)


class Mirror:
    """The config repo's bare mirror at `<workdir>/mirror.git`.

    Revisions (`rev`) are accepted as a branch name (`dev`), a full ref
    (`refs/heads/dev`), a 40-hex commit id, or anything `git rev-parse` understands.
    """

    def __init__(self, url: str, workdir: Path | str, credentials: GitCredentials | None = None,
                 *, connect_timeout: float = 10.0, io_timeout: float = 60.0) -> None:
        self.url = url
        self.workdir = Path(workdir)
        self.path = self.workdir / MIRROR_DIRNAME
        self.credentials = credentials or GitCredentials()
        self._local = threading.local()
        self._net_lock = threading.RLock()
        self._remote_head: str | None = None
        configure_timeouts(connect_timeout, io_timeout)
        self._open_or_create()

    # ------------------------------------------------------------------ setup

    @property
    def display_url(self) -> str:
        """The URL safe to print (user-info and token removed)."""
        return self.redact(self.url)

    def redact(self, text: str) -> str:
        return redact(text, self.credentials.secrets)

    def _open_or_create(self) -> None:
        if (self.path / "HEAD").exists():
            repo = pygit2.Repository(str(self.path))
            remote = repo.remotes[REMOTE_NAME] if REMOTE_NAME in [r.name for r in repo.remotes] else None
            if remote is None:
                raise GitStoreError(f"{self.path} is not a reconciler mirror (no remote {REMOTE_NAME!r}); "
                                    "point --workdir at an empty or reconciler-owned folder")
            if not _same_repo_url(remote.url or "", self.url):
                raise GitStoreError(
                    f"the mirror in {self.path} belongs to {self.redact(remote.url or '')}, not "
                    f"{self.display_url}; use another --workdir or delete that folder")
            if remote.url != self.url:
                repo.remotes.set_url(REMOTE_NAME, self.url)   # same repo, new credentials in the URL
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repo = pygit2.init_repository(str(self.path), bare=True)
        repo.remotes.create(REMOTE_NAME, self.url, FETCH_REFSPEC)
        repo.config["core.logAllRefUpdates"] = False

    @property
    def repo(self) -> pygit2.Repository:
        """This thread's `Repository` on the mirror (libgit2 objects are not shared across threads)."""
        repo = getattr(self._local, "repo", None)
        if repo is None:
            repo = pygit2.Repository(str(self.path))
            self._local.repo = repo
        return repo

    def callbacks(self) -> TransportCallbacks:
        return self.credentials.callbacks()

    def _network_error(self, action: str, exc: Exception) -> GitStoreError:
        if isinstance(exc, GitStoreError):
            return exc
        return RemoteError(f"{action} {self.display_url} failed: {self.redact(str(exc))}")

    # ------------------------------------------------------------------ remote

    def ls_remote(self) -> dict[str, str]:
        """The remote's branch tips `{branch: oid}` without fetching (the cheap poll).

        Raises RemoteError / AuthenticationError with the URL redacted.
        """
        remote = self.repo.remotes.create_anonymous(self.url)
        try:
            heads = remote.list_heads(callbacks=self.callbacks())
        except (pygit2.GitError, AuthenticationError, OSError) as exc:
            raise self._network_error("ls-remote of", exc) from None
        return self._heads(heads)

    def _heads(self, heads: list) -> dict[str, str]:
        tips: dict[str, str] = {}
        for head in heads:
            if head.name == "HEAD" and head.symref_target and head.symref_target.startswith(HEADS):
                self._remote_head = head.symref_target[len(HEADS):]
            elif head.name and head.name.startswith(HEADS):
                tips[head.name[len(HEADS):]] = str(head.oid)
        return tips

    def fetch(self, branches: Iterable[str] | None = None) -> dict[str, str]:
        """Bring the mirror's branches up to the remote's and return all tips `{branch: oid}`.

        With `branches`, only those are fetched (a writer refreshing one branch); without,
        every branch is, and branches deleted on the remote disappear here too.
        """
        wanted = None if branches is None else list(branches)
        specs = None if wanted is None else [f"+{HEADS}{b}:{HEADS}{b}" for b in wanted]
        with self._net_lock:
            remote = self.repo.remotes[REMOTE_NAME]
            try:
                remote.fetch(specs, callbacks=self.callbacks(),
                             prune=FetchPrune.PRUNE if specs is None else FetchPrune.NO_PRUNE)
                # the refs the server advertised for this fetch (no new connection)
                advertised = self._heads(remote.list_heads(connect=False))
            except (pygit2.GitError, AuthenticationError, OSError) as exc:
                raise self._network_error("fetch from", exc) from None
            for branch in wanted or ():
                if branch not in advertised:   # gone on the remote: drop it here too
                    ref = self.repo.references.get(HEADS + branch)
                    if ref is not None:
                        ref.delete()
        return self.tips()

    def push(self, refspecs: list[str]) -> TransportCallbacks:
        """Push `refspecs` (never forced: callers must not pass `+`). Returns the callbacks,
        whose `rejected` lists refs the server declined; raises RemoteError for transport
        failures and libgit2's client-side non-fast-forward refusals."""
        if any(spec.startswith("+") for spec in refspecs):
            raise ValueError("reconciler never force-pushes")
        callbacks = self.callbacks()
        with self._net_lock:
            remote = self.repo.remotes[REMOTE_NAME]
            try:
                remote.push(refspecs, callbacks=callbacks)
            except (pygit2.GitError, AuthenticationError, OSError) as exc:
                raise self._network_error("push to", exc) from None
        return callbacks

    # ------------------------------------------------------------------ refs

    def tips(self) -> dict[str, str]:
        """The mirror's branch tips `{branch: oid}` (what the last fetch or push left)."""
        repo = self.repo
        out: dict[str, str] = {}
        for name in repo.references:
            if name.startswith(HEADS):
                ref = repo.references.get(name)
                if ref is not None and ref.type == pygit2.enums.ReferenceType.DIRECT:
                    out[name[len(HEADS):]] = str(ref.target)
        return out

    def tip(self, branch: str) -> str | None:
        ref = self.repo.references.get(HEADS + branch)
        return None if ref is None else str(ref.resolve().target)

    def default_branch(self) -> str | None:
        """The remote's default branch (its HEAD), else `main` or `master` if present."""
        tips = self.tips()
        if self._remote_head is None:
            try:
                self.ls_remote()
            except GitStoreError:
                pass
        if self._remote_head and self._remote_head in tips:
            return self._remote_head
        return next((b for b in DEFAULT_BRANCHES if b in tips), None)

    # ------------------------------------------------------------------ reading

    def commit(self, rev: Rev) -> pygit2.Commit:
        """The commit `rev` names; raises UnknownRevision."""
        repo = self.repo
        try:
            if isinstance(rev, pygit2.Oid):
                obj = repo.get(rev)
            elif _HEX.match(rev):
                obj = repo.get(rev)
            else:
                ref = repo.references.get(rev if rev.startswith("refs/") else HEADS + rev)
                obj = ref.peel(pygit2.Commit) if ref is not None else repo.revparse_single(rev)
            if obj is None:
                raise KeyError(rev)
            return obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise UnknownRevision(f"{rev} is not a branch or commit in the mirror of {self.display_url}") from None

    def _entry(self, rev: Rev, path: str) -> pygit2.Object | None:
        tree = self.commit(rev).tree
        path = path.strip("/")
        if not path:
            return tree
        try:
            return tree[path]
        except KeyError:
            return None

    def read(self, rev: Rev, path: str) -> bytes | None:
        """The content of file `path` at `rev`, or None when there is no such file."""
        obj = self._entry(rev, path)
        return obj.data if obj is not None and obj.type == ObjectType.BLOB else None  # type: ignore[union-attr]

    def blob_id(self, rev: Rev, path: str) -> str | None:
        """The blob id of file `path` at `rev` (compare two versions without reading them)."""
        obj = self._entry(rev, path)
        return str(obj.id) if obj is not None and obj.type == ObjectType.BLOB else None

    def list_tree(self, rev: Rev, prefix: str = "") -> dict[str, str]:
        """`{path: blob id}` of every file under `prefix` at `rev` (full paths, recursive)."""
        obj = self._entry(rev, prefix)
        if obj is None or obj.type != ObjectType.TREE:
            return {}
        base = prefix.strip("/")
        return dict(iter_files(self.repo, obj, base + "/" if base else ""))  # type: ignore[arg-type]

    def changed_paths(self, old: Rev | None, new: Rev | None) -> tuple[str, ...]:
        """Paths that differ between two commits (sorted; a rename lists both names).

        `None` stands for "nothing", so `changed_paths(None, c)` lists every file of `c`.
        Unchanged subtrees are skipped by id, so the cost follows the change, not the repo.
        """
        repo = self.repo
        a = self.commit(old).tree if old is not None else None
        b = self.commit(new).tree if new is not None else None
        return tree_changes(repo, a, b)

    def commits(self, old: Rev | None, new: Rev, limit: int = 1000) -> list[CommitInfo]:
        """Commits reachable from `new` but not from `old`, oldest first (at most `limit`,
        the newest ones, so a surprise history import cannot stall the controller)."""
        repo = self.repo
        head = self.commit(new)
        walker = repo.walk(head.id, SortMode.TOPOLOGICAL)
        if old is not None:
            walker.hide(self.commit(old).id)
        picked: list[pygit2.Commit] = []
        for c in walker:
            picked.append(c)
            if len(picked) >= limit:
                break
        return [commit_info(repo, c) for c in reversed(picked)]

    def commit_info(self, rev: Rev) -> CommitInfo:
        return commit_info(self.repo, self.commit(rev))

    def is_ancestor(self, ancestor: Rev, descendant: Rev) -> bool:
        """True when `ancestor` is `descendant` or in its history."""
        a, d = self.commit(ancestor).id, self.commit(descendant).id
        return a == d or self.repo.descendant_of(d, a)

    def export(self, rev: Rev, prefix: str, dest: Path | str) -> list[str]:
        """Write the files under `prefix` at `rev` into `dest` (prefix stripped); returns the
        relative paths written. For handing a service folder to a deployment or a job.

        `dest` must be missing or empty, so stale files from an earlier version never mix in.
        Executable bits are kept; symlinks that point outside `dest` are refused.
        """
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise GitStoreError(f"export target {dest} is not empty")
        obj = self._entry(rev, prefix)
        if obj is None or obj.type != ObjectType.TREE:
            raise GitStoreError(f"{prefix!r} is not a folder at {rev}")
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        written: list[str] = []
        stack: list[tuple[pygit2.Tree, Path, str]] = [(obj, root, "")]  # type: ignore[list-item]
        repo = self.repo
        while stack:
            tree, folder, rel = stack.pop()
            for entry in tree:
                name = entry.name or ""
                if name in ("", ".", "..") or "/" in name or name == ".git":
                    raise GitStoreError(f"refusing to export unsafe path {rel}{name!r}")
                target = folder / name
                if entry.filemode == pygit2.enums.FileMode.TREE:
                    target.mkdir()
                    stack.append((repo[entry.id], target, f"{rel}{name}/"))  # type: ignore[arg-type]
                elif entry.filemode == pygit2.enums.FileMode.LINK:
                    link = repo[entry.id].data.decode()  # type: ignore[union-attr]
                    if os.path.isabs(link) or not (folder / link).resolve().is_relative_to(root):
                        raise GitStoreError(f"symlink {rel}{name} -> {link} points outside the export")
                    target.symlink_to(link)
                    written.append(rel + name)
                elif entry.filemode in (pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE):
                    target.write_bytes(repo[entry.id].data)  # type: ignore[union-attr]
                    if entry.filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE:
                        target.chmod(0o755)
                    written.append(rel + name)
                # submodule entries (commits) have no content here: skipped
        return sorted(written)


# ---------------------------------------------------------------------- helpers on a repo

def iter_files(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = ""):
    """Yield `(path, blob id)` for every file in `tree`, depth first."""
    stack = [(tree, prefix)]
    while stack:
        t, base = stack.pop()
        for entry in t:
            if entry.filemode == pygit2.enums.FileMode.TREE:
                stack.append((repo[entry.id], f"{base}{entry.name}/"))
            elif entry.filemode != pygit2.enums.FileMode.COMMIT:
                yield f"{base}{entry.name}", str(entry.id)


def tree_changes(repo: pygit2.Repository, old: pygit2.Tree | None, new: pygit2.Tree | None) -> tuple[str, ...]:
    """Sorted paths that differ between two trees (None = empty tree)."""
    if old is None and new is None:
        return ()
    if old is None:
        return tuple(sorted(p for p, _ in iter_files(repo, new)))  # type: ignore[arg-type]
    if new is None:
        return tuple(sorted(p for p, _ in iter_files(repo, old)))
    paths: set[str] = set()
    for delta in old.diff_to_tree(new).deltas:
        paths.add(delta.old_file.path)
        paths.add(delta.new_file.path)
    return tuple(sorted(paths))


def _person(sig: pygit2.Signature) -> Person:
    return Person(sig.name, sig.email, int(sig.time), int(sig.offset))


def commit_info(repo: pygit2.Repository, c: pygit2.Commit) -> CommitInfo:
    parent_tree = c.parents[0].tree if c.parents else None
    message = c.message
    return CommitInfo(
        oid=str(c.id),
        parents=tuple(str(p) for p in c.parent_ids),
        author=_person(c.author),
        committer=_person(c.committer),
        message=message,
        trailers=parse_trailers(message),
        changed_paths=tree_changes(repo, parent_tree, c.tree),
    )
