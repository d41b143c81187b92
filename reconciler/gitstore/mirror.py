"""A bare mirror of the config repo in the work dir: the only place we read Git from.

The mirror's fetch refspec is `+refs/heads/*:refs/heads/*` with pruning, so after a fetch
its branches *are* the remote's branches (no `origin/` layer to keep in sync). Everything we
read (files at a ref, diffs, commit facts) comes from here in well under a millisecond;
the network is touched only by `ls_remote`, `fetch` and pushes.

A remote on this machine (`file://` or a path, the embedded default) is not fetched through
libgit2's file:// transport, whose cost grows with the repository and whose push overwrites
the remote ref without a compare-and-swap; objects are copied directly and refs moved with a
locked compare-and-swap instead (`update_branch`). Network remotes use libgit2's transports.

Threads: libgit2 objects may be used by one thread at a time, so each thread opens its own
`pygit2.Repository` on the same directory (0.1 ms). Operations that move refs (fetch, branch
updates) are serialised by one lock per mirror.
"""
from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pygit2
from pygit2.enums import FetchPrune, ObjectType, SortMode

from reconciler.contract import BOT_NAME, DEFAULT_BRANCHES
from reconciler.gitstore import locks, objects
from reconciler.gitstore.credentials import GitCredentials, StaleRef, TransportCallbacks, configure_timeouts, redact
from reconciler.gitstore.errors import (
    AuthenticationError,
    CorruptOrigin,
    GitStoreError,
    PushRejected,
    RemoteError,
    UnknownRevision,
)
from reconciler.gitstore.models import CommitInfo, Person
from reconciler.gitstore.objectcheck import CorruptObject, LooseObjectGuard
from reconciler.gitstore.trailers import parse as parse_trailers

log = logging.getLogger("reconciler.gitstore")

HEADS = "refs/heads/"
OUTGOING = "refs/reconciler/outgoing/"
FETCHED = "refs/reconciler/fetched/"       # where a bulk `git fetch` lands before branches move
FETCH_REFSPEC = "+refs/heads/*:refs/heads/*"
REMOTE_NAME = "origin"
MIRROR_DIRNAME = "mirror.git"
_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_OBJECT_NAME = re.compile(r"[0-9a-f]{38}([0-9a-f]{24})?")     # a loose object's file name (SHA-1 or SHA-256)

Rev = str | pygit2.Oid


def _same_repo_url(a: str, b: str) -> bool:
    """Equal after dropping user-info and a trailing slash (a rotated token is the same repo)."""
    strip = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]+@")
    return strip.sub(r"\1", a).rstrip("/") == strip.sub(r"\1", b).rstrip("/")


def local_path(url: str) -> Path | None:
    """The directory of a `file://` URL or plain path remote; None for network remotes."""
    if url.startswith("file://"):
        return Path(unquote(url[len("file://"):]))
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
        self._origin_path = local_path(url)      # set for file:// and plain-path remotes
        self._object_guard: LooseObjectGuard | None = None
        # (old tree, new tree) -> changed paths; trees are immutable, so this never goes stale.
        # It saves the second diff when `commits()` follows `changed_paths()` for one push.
        self._diffs: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()
        self._diffs_lock = threading.Lock()
        self.pack_timeout = max(io_timeout, 60.0) * 10      # a bulk fetch of a large record
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

    def clear_locks(self) -> list[Path]:
        """Remove every lock file in the mirror, whatever its age. Only for the mirror's
        owner, at start and while it holds the work dir: a lock found then was left by a
        predecessor that died mid-update, and would fail every later fetch of that ref."""
        removed = []
        for path in locks.all_locks(self.path):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            log.warning("removed %s, left by a reconciler that died while updating its mirror", path)
            removed.append(path)
        return removed

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
        source = self._local_source()
        with self._net_lock:
            if source is not None:
                self._fetch_local(source, wanted)
                return self.tips()
            specs = None if wanted is None else [f"+{HEADS}{b}:{HEADS}{b}" for b in wanted]
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

    # -- fetching from a repository on this machine

    def _local_source(self) -> pygit2.Repository | None:
        """The origin opened directly when it is a local repository (file:// or a path);
        None for network remotes. A local origin that cannot be opened is an error, never a
        fallback to libgit2's file:// transport (its push has no compare-and-swap)."""
        if self._origin_path is None:
            return None
        source = getattr(self._local, "source", None)
        if source is None:
            try:
                source = pygit2.Repository(str(self._origin_path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
            except (pygit2.GitError, KeyError, OSError) as exc:
                raise RemoteError(f"{self.display_url} is not a readable Git repository: {exc}") from None
            self._local.source = source
        return source

    def _fetch_local(self, source: pygit2.Repository, wanted: list[str] | None) -> None:
        """Fetch from a local origin by copying only the objects we lack.

        libgit2's file:// transport builds a pack and marks the *whole* tree of every commit
        we already have as uninteresting, so its cost grows with the repo (30 ms at 1,000
        services). Copying new objects directly costs what the change costs: new commits,
        the trees on the changed paths, the new blobs. Objects are written children first,
        so a tree or commit in our store always has everything below it.
        """
        remote: dict[str, pygit2.Oid] = {}
        try:
            names = list(source.references)
        except pygit2.GitError as exc:      # the origin moved or broke since we opened it
            self._local.source = None       # reopen next time
            raise RemoteError(f"{self.display_url} is not a readable Git repository: {exc}") from None
        for name in names:
            if name.startswith(HEADS):
                try:
                    target = source.references[name].resolve().target
                except (KeyError, pygit2.GitError):
                    continue   # a dangling symbolic ref is not a branch we can mirror
                if isinstance(target, pygit2.Oid):     # always, for a resolved (direct) reference
                    remote[name[len(HEADS):]] = target
        head = source.references.get("HEAD")
        if head is not None and head.type == pygit2.enums.ReferenceType.SYMBOLIC:
            target = head.target
            if isinstance(target, str) and target.startswith(HEADS):
                self._remote_head = target[len(HEADS):]
        self._guard_source(source)
        repo = self.repo
        branches = list(remote) if wanted is None else [b for b in wanted if b in remote]
        have = repo.odb
        bulk = [b for b in branches if remote[b] not in have and not _one_commit_ahead(source, have, remote[b])]
        if bulk:
            # More than one new commit (a fresh mirror, a restart after a busy day): let git
            # send a pack, which costs what a clone costs, instead of replaying history here.
            self._fetch_pack(bulk, remote)
        known = self._branch_oids(repo)
        for branch in branches:
            tip = remote[branch]
            if copy_missing(source, repo, tip, known):
                known.append(tip)
            ref = repo.references.get(HEADS + branch)
            if ref is None or ref.target != tip:
                repo.references.create(HEADS + branch, tip, force=True)
        gone = (set(self.tips()) - set(remote)) if wanted is None else {b for b in wanted if b not in remote}
        for branch in gone:
            ref = repo.references.get(HEADS + branch)
            if ref is not None:
                ref.delete()

    def _fetch_pack(self, branches: list[str], remote: dict[str, pygit2.Oid]) -> None:
        """`git fetch` of `branches` from the local origin into private refs (the caller moves
        the branches), bounded in time; the git CLI reports damage instead of hanging."""
        specs = [f"+{HEADS}{b}:{FETCHED}{b}" for b in branches]
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_DIR": str(self.path)}
        try:
            proc = subprocess.run(["git", "-c", "protocol.version=2", "fetch", "--quiet", "--no-tags",
                                   "--no-write-fetch-head", str(self._origin_path), *specs],
                                  capture_output=True, timeout=self.pack_timeout, env=env, cwd=self.path)
        except subprocess.TimeoutExpired:
            raise RemoteError(f"fetching from {self.display_url} took longer than {self.pack_timeout:g}s") from None
        except OSError as exc:
            raise RemoteError(f"cannot run git to fetch from {self.display_url}: {exc}") from None
        if proc.returncode != 0:
            detail = self.redact(proc.stderr.decode(errors="replace").strip().splitlines()[-1:][0]
                                 if proc.stderr.strip() else f"exit {proc.returncode}")
            raise RemoteError(f"fetching from {self.display_url} failed: {detail}")
        repo = self.repo
        for name in [n for n in repo.references if n.startswith(FETCHED)]:
            repo.references.delete(name)

    def _guard_source(self, source: pygit2.Repository) -> None:
        """Verify the origin's new loose objects before libgit2 touches them (see
        `objectcheck`: libgit2 hangs for good on a truncated one); a corrupt one stops the
        fetch with a RemoteError naming the file, and the mirror keeps its last good state."""
        guard = self._object_guard
        if guard is None or guard.objects_dir != Path(source.path) / "objects":
            guard = self._object_guard = LooseObjectGuard(Path(source.path) / "objects")
        try:
            guard.check()
        except CorruptObject as exc:
            raise CorruptOrigin(f"fetching from {self.display_url} stopped: {exc}", exc.oid) from None

    @staticmethod
    def _branch_oids(repo: pygit2.Repository) -> list[pygit2.Oid]:
        out = []
        for name in repo.references:
            if name.startswith(HEADS):
                ref = repo.references.get(name)
                if ref is not None and isinstance(ref.target, pygit2.Oid):
                    out.append(ref.target)
        return out

    def update_branch(self, branch: str, new: pygit2.Oid | None, old: pygit2.Oid | None) -> None:
        """Move `branch` on the remote from `old` to `new` — a compare-and-swap, never forced.

        `old=None` creates the branch, `new=None` deletes it. On success the mirror's branch
        follows. Raises PushRejected when the remote refuses (the branch moved, a hook or a
        permission declined), RemoteError / AuthenticationError for transport failures.

        A local origin is updated directly: the new objects are copied into it and its ref is
        moved with libgit2's locked compare-and-swap (the same `<ref>.lock` protocol git's
        receive-pack uses). libgit2's own file:// push overwrites the remote ref without
        checking it (a concurrent `git push` could be lost) and its cost grows with the repo.
        Like that transport, this runs no server hooks; use git:// or http(s):// for hooks.
        """
        source = self._local_source()
        with self._net_lock:
            if source is not None:
                self._update_local(source, branch, new, old)
            else:
                self._update_remote(branch, new, old)
            local = self.repo.references.get(HEADS + branch)
            if new is None:
                if local is not None:
                    local.delete()
            elif local is None or local.target != new:
                self.repo.references.create(HEADS + branch, new, force=True)

    def _update_local(self, source: pygit2.Repository, branch: str, new: pygit2.Oid | None,
                      old: pygit2.Oid | None) -> None:
        name = HEADS + branch
        if not source.is_bare and not source.head_is_unborn and source.head.name == name:
            # what git's receive.denyCurrentBranch protects: the working tree would go stale
            raise PushRejected(branch, "it is checked out in the non-bare repository "
                                       f"{self._origin_path}; use a bare repository as the config repo")
        for lock, seconds in locks.wait_or_break(locks.ref_locks(Path(source.path), name, deleting=new is None)):
            log.warning("removed %s, a lock %.1fs old left by a git writer that died", lock, seconds)
        ref = source.references.get(name)
        current = ref.target if ref is not None else None
        if current != old:
            raise PushRejected(branch, f"the branch is at {str(current)[:12] if current else 'nothing'}, "
                                       f"not {str(old)[:12] if old else 'nothing'} (fetch first)")
        try:
            if new is None:
                ref.delete()  # type: ignore[union-attr]  # CAS: fails if it moved since lookup
                return
            copy_missing(self.repo, source, new, self._branch_oids(source))
            if ref is None:
                source.references.create(name, new, force=False)
            else:
                ref.set_target(new, f"push by {BOT_NAME}")   # CAS against the looked-up value
        except (pygit2.GitError, pygit2.AlreadyExistsError, ValueError) as exc:
            raise PushRejected(branch, f"the branch moved while we updated it ({exc})") from None
        except OSError as exc:      # another writer took the lock in between: retryable
            raise RemoteError(f"updating branch {branch!r} in {self._origin_path} failed: {exc}") from None

    def _update_remote(self, branch: str, new: pygit2.Oid | None, old: pygit2.Oid | None) -> None:
        repo = self.repo
        outgoing = OUTGOING + branch
        if new is None:
            spec = f":{HEADS}{branch}"
        else:
            # Push from a private ref: a concurrent fetch resets refs/heads/* to the remote's
            # state, and must not change what we push.
            repo.references.create(outgoing, new, force=True)
            spec = f"{outgoing}:{HEADS}{branch}"
        callbacks = self.callbacks()
        callbacks.expected[HEADS + branch] = old   # checked against the server's advertisement
        try:
            self.repo.remotes[REMOTE_NAME].push([spec], callbacks=callbacks)
        except StaleRef:
            pass   # reported through callbacks.rejected below
        except (pygit2.GitError, OSError) as exc:
            raise self._network_error("push to", exc) from None
        finally:
            ref = repo.references.get(outgoing)
            if ref is not None:
                ref.delete()
        if callbacks.rejected:
            raise PushRejected(branch, "; ".join(message for _, message in callbacks.rejected))

    def maintain(self, force: bool = False) -> bool:
        """Pack the loose objects; True if git exited cleanly.

        Every write-back and every local fetch adds a few loose objects, and every network
        fetch a small pack. Without `force`: exactly the loose objects go into one new pack
        (`git pack-objects` fed their ids: the cost follows their number, not the history's),
        `git prune-packed` removes them, and git consolidates packs when there are many (`git gc
        --auto`). Git keeps all three safe beside concurrent reads, fetches and pushes (a loose
        object goes only once a pack holds it), so they run without the network lock; the
        controller calls this when a check finds too many loose objects
        (`controller.maintenance`). `force`: a full `git gc` now, under the lock.
        """
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        nice = [] if force else ["nice", "-n", "10"]      # background work: the controller goes first

        def git(*argv: str, stdin: bytes | None = None) -> bool:
            proc = subprocess.run([*nice, "git", *argv], cwd=self.path, input=stdin, capture_output=True,
                                  timeout=600, env=env)
            return proc.returncode == 0

        if force:
            with self._net_lock:
                return git("gc", "--quiet")
        ids = "".join(oid + "\n" for oid in self._loose_ids()).encode()
        ok = True
        if ids:
            ok = git("pack-objects", "-q", "--window=0", str(self.path / "objects" / "pack" / "pack"), stdin=ids)
            ok = ok and git("prune-packed", "-q")
        return git("gc", "--auto", "--quiet") and ok

    def loose_objects(self) -> int:
        """How many loose objects the mirror holds (files under `objects/xx/`)."""
        return sum(1 for _ in self._loose_ids())

    def _loose_ids(self) -> Iterator[str]:
        """The ids of the loose objects (`objects/ab/cdef…` → `abcdef…`)."""
        for entry in os.scandir(self.path / "objects"):
            if len(entry.name) != 2 or not entry.is_dir():
                continue
            try:
                names = os.listdir(entry.path)
            except FileNotFoundError:          # `prune-packed` removed the emptied directory
                continue
            for name in names:
                if _OBJECT_NAME.fullmatch(name):      # not a temporary file being written
                    yield entry.name + name

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
            if isinstance(rev, pygit2.Oid) or _HEX.match(rev):
                obj = repo.get(rev)
                if obj is None:
                    raise KeyError(rev)
                return obj.peel(pygit2.Commit)
            ref = repo.references.get(rev if rev.startswith("refs/") else HEADS + rev)
            if ref is not None:
                return ref.peel(pygit2.Commit)
            return repo.revparse_single(rev).peel(pygit2.Commit)
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
        return obj.data if isinstance(obj, pygit2.Blob) else None

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

    def stream_blobs(self, oids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """`(oid, content)` for many blobs, in order, through one `git cat-file --batch`.

        For bulk reads (rebuilding the index from a tip tree of 100,000 files): git's delta
        base cache makes this ~4x faster than libgit2 lookups one by one (measured in
        bench/freshstart_bench.py), and the stream keeps memory to one blob at a time.
        """
        wanted = list(oids)
        if not wanted:
            return
        proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.path, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env={**os.environ, "GIT_DIR": str(self.path)})
        assert proc.stdin is not None and proc.stdout is not None

        def feed() -> None:
            try:
                for oid in wanted:
                    proc.stdin.write(oid.encode() + b"\n")    # type: ignore[union-attr]
                proc.stdin.close()                              # type: ignore[union-attr]
            except (BrokenPipeError, ValueError, OSError):
                pass

        writer = threading.Thread(target=feed, name="cat-file-feed", daemon=True)
        writer.start()
        try:
            for oid in wanted:
                header = proc.stdout.readline().split()
                if len(header) < 3 or header[1] != b"blob":
                    raise GitStoreError(f"cannot read blob {oid} from the mirror ({b' '.join(header).decode()})")
                size = int(header[2])
                data = proc.stdout.read(size)
                proc.stdout.read(1)                             # the newline after each object
                yield oid, data
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            writer.join(timeout=5)

    def changed_paths(self, old: Rev | None, new: Rev | None) -> tuple[str, ...]:
        """Paths that differ between two commits (sorted; a rename lists both names).

        `None` stands for "nothing", so `changed_paths(None, c)` lists every file of `c`.
        Unchanged subtrees are skipped by id, so the cost follows the change, not the repo.
        """
        a = self.commit(old).tree if old is not None else None
        b = self.commit(new).tree if new is not None else None
        return self._tree_changes(a, b)

    def _tree_changes(self, a: pygit2.Tree | None, b: pygit2.Tree | None) -> tuple[str, ...]:
        key = (str(a.id) if a is not None else "", str(b.id) if b is not None else "")
        with self._diffs_lock:
            hit = self._diffs.get(key)
            if hit is not None:
                self._diffs.move_to_end(key)
                return hit
        paths = tree_changes(self.repo, a, b)
        with self._diffs_lock:
            self._diffs[key] = paths
            if len(self._diffs) > 256:
                self._diffs.popitem(last=False)
        return paths

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
        return [self._info(c) for c in reversed(picked)]

    def commit_info(self, rev: Rev) -> CommitInfo:
        return self._info(self.commit(rev))

    def _info(self, c: pygit2.Commit) -> CommitInfo:
        return commit_info(c, self._tree_changes(c.parents[0].tree if c.parents else None, c.tree))

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
                    stack.append((objects.tree(repo, entry.id), target, f"{rel}{name}/"))
                elif entry.filemode == pygit2.enums.FileMode.LINK:
                    link = objects.blob_data(repo, entry.id).decode()
                    if os.path.isabs(link) or not (folder / link).resolve().is_relative_to(root):
                        raise GitStoreError(f"symlink {rel}{name} -> {link} points outside the export")
                    target.symlink_to(link)
                    written.append(rel + name)
                elif entry.filemode in (pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE):
                    target.write_bytes(objects.blob_data(repo, entry.id))
                    if entry.filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE:
                        target.chmod(0o755)
                    written.append(rel + name)
                # submodule entries (commits) have no content here: skipped
        return sorted(written)


# ---------------------------------------------------------------------- helpers on a repo

def _one_commit_ahead(source: pygit2.Repository, have: pygit2.Odb, tip: pygit2.Oid) -> bool:
    """True when `tip` is one commit on parents `have` holds: the usual push, copied directly."""
    try:
        commit = source[tip].peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError):
        return False
    return bool(commit.parents) and all(p in have for p in commit.parent_ids)


def copy_missing(source: pygit2.Repository, dest: pygit2.Repository, tip: pygit2.Oid,
                 known: list[pygit2.Oid]) -> int:
    """Copy commit `tip` and its history into `dest`, skipping what `dest` has; returns the
    number of commits copied. `known` are commits `dest` has (its branch tips), where the
    history walk stops. Cost follows the change: new commits, trees on changed paths, new
    blobs (plus one pass over each changed tree's entries)."""
    have = dest.odb
    if tip in have:
        return 0
    commit = source[tip].peel(pygit2.Commit)
    if commit.parents and all(p.id in have for p in commit.parents):
        # the usual push: one new commit on a parent the destination has. A sorted walk
        # would traverse history that grows with every write-back; this stays constant.
        _copy_changes(source, have, commit.parents[0].tree, commit.tree)
        have.write(*source.odb.read(commit.id))
        return 1
    walker = source.walk(tip, SortMode.TOPOLOGICAL)
    for oid in known:
        if oid in source.odb:
            walker.hide(oid)
    new_commits = [c for c in walker if c.id not in have]
    for commit in reversed(new_commits):      # parents before children
        parent = next((p for p in commit.parents if p.id in have), None)
        if parent is None:
            _copy_tree(source, have, commit.tree_id)
        else:
            _copy_changes(source, have, parent.tree, commit.tree)
        have.write(*source.odb.read(commit.id))
    return len(new_commits)


def _copy_changes(source: pygit2.Repository, have: pygit2.Odb, old: pygit2.Tree, new: pygit2.Tree) -> None:
    """Copy what `new` adds over `old`, whose objects `have` already holds: the changed files
    (from a tree diff done in C) and the trees on their paths. A write-back into a wide
    folder (`sequences/dev/` with a thousand services) then costs its depth, not its width."""
    trees: dict[str, None] = {"": None}
    for delta in old.diff_to_tree(new).deltas:
        if delta.status == pygit2.enums.DeltaStatus.DELETED:
            parts = delta.old_file.path.split("/")[:-1]     # no blob to copy, but its folders changed
        else:
            target = delta.new_file
            if target.mode != _GITLINK and target.id not in have:
                have.write(*source.odb.read(target.id))
            parts = target.path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            trees["/".join(parts[:depth])] = None
    for path in sorted(trees, key=lambda p: -p.count("/") if p else 1):   # deepest first, root last
        oid = new.id if not path else _tree_id(new, path)
        if oid is not None and oid not in have:
            have.write(*source.odb.read(oid))


def _tree_id(root: pygit2.Tree, path: str) -> pygit2.Oid | None:
    try:
        entry = root[path]
    except KeyError:
        return None
    return entry.id if entry.filemode == _TREE else None


def _copy_tree(source: pygit2.Repository, have: pygit2.Odb, oid: pygit2.Oid) -> None:
    """Copy tree `oid` and whatever below it `have` lacks, children first."""
    if oid in have:
        return
    for entry in objects.tree(source, oid):
        eid = entry.id
        if eid in have:          # checked first: most entries are unchanged folders
            continue
        mode = entry.filemode
        if mode == _TREE:
            _copy_tree(source, have, eid)
        elif mode != _GITLINK:
            have.write(*source.odb.read(eid))
    have.write(*source.odb.read(oid))


_TREE = pygit2.enums.FileMode.TREE
_GITLINK = pygit2.enums.FileMode.COMMIT


def iter_files(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield `(path, blob id)` for every file in `tree`, depth first."""
    stack = [(tree, prefix)]
    while stack:
        t, base = stack.pop()
        for entry in t:
            if entry.filemode == pygit2.enums.FileMode.TREE:
                stack.append((objects.tree(repo, entry.id), f"{base}{entry.name}/"))
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


def commit_info(c: pygit2.Commit, changed_paths: tuple[str, ...]) -> CommitInfo:
    message = c.message
    return CommitInfo(
        oid=str(c.id),
        parents=tuple(str(p) for p in c.parent_ids),
        author=_person(c.author),
        committer=_person(c.committer),
        message=message,
        trailers=parse_trailers(message),
        changed_paths=changed_paths,
    )
