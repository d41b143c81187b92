"""Read-only views of a controller's work dir for the CLI: its index and its Git mirror.

The index answers lists; the mirror (`<workdir>/mirror.git`) holds what the index only points
at (a lane file's tasks, an evaluation's objectives) and the branch tips as they are now —
including the controller's own promotion commits, which never trigger and so never reach
the index's `state/tips.json`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def mirror_path(workdir: Path) -> Path:
    from reconciler.gitstore.mirror import MIRROR_DIRNAME
    return workdir / MIRROR_DIRNAME


def _repo(workdir: Path) -> Any | None:
    from reconciler.gitstore import snapshot
    path = mirror_path(workdir)
    if not snapshot.is_repository(path):
        return None
    try:
        return snapshot.open_repository(path)
    except Exception:  # noqa: BLE001 - a missing or half-made mirror means "ask the index"
        return None


def branch_tips(workdir: Path) -> dict[str, str] | None:
    """Stage and config branch tips in the work dir's mirror (None without a mirror)."""
    from reconciler import contract
    from reconciler.gitstore import snapshot
    repo = _repo(workdir)
    if repo is None:
        return None
    tips = snapshot.list_branches(repo, remote_tracking=False)
    return {b: o for b, o in tips.items()
            if b != contract.RESULTS_BRANCH and not b.startswith(contract.APPROVAL_PREFIX)}


def read_results_json(workdir: Path, path: str) -> Any | None:
    """A JSON file of `reconciler/results` in the mirror, or None."""
    from reconciler import contract
    repo = _repo(workdir)
    if repo is None:
        return None
    try:
        import pygit2
        commit = repo.references[f"refs/heads/{contract.RESULTS_BRANCH}"].peel(pygit2.Commit)
        return json.loads(commit.tree[path].data)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    except Exception:  # noqa: BLE001 - pygit2.GitError while the controller repacks: show what the index has
        return None
