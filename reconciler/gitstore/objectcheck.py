"""Loose objects of a local origin are checked before libgit2 reads them.

libgit2 1.9.7 (the one in pygit2's wheels) spins for ever inside `inflate` on a truncated loose
object (libgit2 #7342, fixed upstream by #7346), holding the GIL: the whole controller stops and
no probe answers. git itself reports such an object cleanly. Before the mirror copies from a
repository on this machine, `LooseObjectGuard.check` verifies every loose object it has not
seen yet with Python's zlib, which fails instead of spinning, and names the file. Directories
whose mtime did not change are skipped, so a check costs 256 `stat` calls plus the new
objects, which for a push are a handful.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

_TYPES = (b"commit", b"tree", b"blob", b"tag")
MAX_LOOSE_BYTES = 512 * 1024 * 1024          # a larger loose object is refused, not inflated


class CorruptObject(Exception):
    """A loose object that does not inflate to a well-formed object; names its file."""

    def __init__(self, path: Path, reason: str):
        self.path = path
        self.oid = path.parent.name + path.name
        super().__init__(f"corrupt object {self.oid} in {path}: {reason} (repair the repository; "
                         "`git fsck` lists the damage)")


def verify_loose(path: Path) -> None:
    """Raise CorruptObject unless `path` inflates completely to `<type> <size>\\0<size bytes>`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorruptObject(path, f"cannot be read ({exc.strerror or exc})") from None
    inflater = zlib.decompressobj()
    try:
        head = inflater.decompress(data, 64)
        nul = head.find(b"\0")
        if nul < 0:
            ended = inflater.eof or len(head) >= 64
            raise CorruptObject(path, "no object header" if ended
                                else "is truncated (the compressed stream ends early)")
        kind, _, size_text = head[:nul].partition(b" ")
        if kind not in _TYPES or not size_text.isdigit():
            raise CorruptObject(path, "malformed object header")
        size = int(size_text)
        if size > MAX_LOOSE_BYTES:
            raise CorruptObject(path, f"declares {size} bytes, more than a loose object may hold here")
        body = len(head) - nul - 1
        rest = inflater.unconsumed_tail
        while rest and body <= size:
            chunk = inflater.decompress(rest, 1 << 20)
            body += len(chunk)
            rest = inflater.unconsumed_tail
        body += len(inflater.flush())
    except zlib.error as exc:
        raise CorruptObject(path, f"does not inflate ({exc})") from None
    if not inflater.eof:
        raise CorruptObject(path, "is truncated (the compressed stream ends early)")
    if body != size:
        raise CorruptObject(path, f"holds {body} bytes, its header says {size}")


class LooseObjectGuard:
    """Remembers what it verified in one `objects/` folder; `check()` verifies only what is new."""

    def __init__(self, objects_dir: Path):
        self.objects_dir = Path(objects_dir)
        self._dir_mtimes: dict[str, int] = {}
        self._verified: dict[str, set[str]] = {}

    def check(self) -> int:
        """Verify loose objects not seen before; how many were verified. Raises CorruptObject.

        A corrupt object is not remembered as verified, so a later check after the repair
        (the file rewritten) passes, and one still corrupt fails again."""
        count = 0
        try:
            folders = os.scandir(self.objects_dir)
        except FileNotFoundError:
            return 0
        with folders:
            for folder in folders:
                name = folder.name
                if len(name) != 2 or not folder.is_dir(follow_symlinks=False):
                    continue
                mtime = folder.stat(follow_symlinks=False).st_mtime_ns
                if self._dir_mtimes.get(name) == mtime:
                    continue
                seen = self._verified.setdefault(name, set())
                current = set(os.listdir(folder.path))
                seen &= current                       # forget what was removed (gc, prune)
                for entry in sorted(current - seen):
                    if len(entry) < 38 or entry.endswith(".lock") or entry.startswith("tmp"):
                        continue
                    verify_loose(Path(folder.path) / entry)
                    seen.add(entry)
                    count += 1
                self._dir_mtimes[name] = mtime
        return count
