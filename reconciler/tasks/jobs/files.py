"""The `files` of a task: paths in the service folder handed to the task under `/keptn/`.

As in JES, an entry may start with `/` or not (both mean "from the service folder") and may
name a folder (copied with everything below it). An entry that does not exist is an error,
and so is anything that leaves the service folder (`..`, or a symlink pointing outside),
because the folder is all a task is meant to receive — a Kubernetes runner ships these files
into the cluster.
"""
from __future__ import annotations

import posixpath
import shutil
from pathlib import Path


class FilesError(ValueError):
    pass


def collect_files(service_dir: Path, entries: list[str] | tuple[str, ...]) -> list[tuple[str, Path]]:
    """(relative path, source file) for every file the entries name, sorted, no duplicates."""
    root = service_dir.resolve()
    found: dict[str, Path] = {}
    for entry in entries:
        rel = posixpath.normpath(entry.lstrip("/")) if entry.strip("/") else "."
        if rel == ".." or rel.startswith("../"):
            raise FilesError(f"files entry {entry!r} leaves the service folder")
        src = (root / rel) if rel != "." else root
        if not src.exists() and not src.is_symlink():
            raise FilesError(f"files entry {entry!r} does not exist in the service folder")
        try:
            candidates = [src] if not src.is_dir() else sorted(p for p in src.rglob("*") if not p.is_dir())
        except OSError as exc:
            raise FilesError(f"files entry {entry!r} cannot be read: {exc.strerror or exc}") from None
        for path in candidates:
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError):     # a dangling link or a loop of links
                raise FilesError(f"files entry {entry!r}: {path.relative_to(root)} is a broken or looping "
                                 f"symlink") from None
            if root not in real.parents and real != root:
                raise FilesError(f"files entry {entry!r}: {path.relative_to(root)} points outside the service folder")
            if real.is_dir():
                continue
            found[path.relative_to(root).as_posix()] = real
    return sorted(found.items())


def copy_files(service_dir: Path, entries: list[str] | tuple[str, ...], dest: Path) -> list[str]:
    """Copy the named files to `dest/<relative path>`; returns the relative paths."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for rel, src in collect_files(service_dir, entries):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        shutil.copymode(src, target)
        out.append(rel)
    return out
