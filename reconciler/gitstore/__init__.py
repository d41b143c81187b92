"""The config repo through pygit2: a bare mirror to read from, one writer to push with, and
the trigger sources (polling, local watch) that say "branch tips may have changed".

Public API (see each module's docstring for the why):

* `Mirror` — bare mirror in the work dir: `ls_remote`, `fetch`, `tips`, `read`, `blob_id`,
  `list_tree`, `changed_paths`, `commits`, `is_ancestor`, `export`.
* `Writer` — in-memory commits with trailers, push with fetch-rebuild-retry, idempotent
  `step`, `cherry_pick`, `revert`, `create_branch`, `delete_branch`.
* `Poller`, `LocalWatch` — trigger sources converging on one no-argument callback.
* `GitCredentials` — HTTPS token / SSH key from the environment, with bounded retries.
* `trailers` — parse and format `Key: value` trailers (pure): `trailers.parse`, `format_message`.
"""
from __future__ import annotations

import importlib
from typing import Any

# name -> module; loaded on first use, so importing one submodule (say `snapshot`) does not
# pay for pygit2 remotes and watchdog.
_EXPORTS = {
    "GitCredentials": "credentials", "redact": "credentials", "redact_url": "credentials",
    "AuthenticationError": "errors", "BranchExists": "errors", "GitStoreError": "errors",
    "MergeConflict": "errors", "PushRejected": "errors", "RemoteError": "errors",
    "UnknownRevision": "errors", "WriteConflict": "errors",
    "LocalWatch": "localwatch",
    "Mirror": "mirror", "local_path": "mirror",
    "CommitInfo": "models", "Person": "models", "WriteResult": "models",
    "Poller": "poller",
    "Trailers": "trailers", "format_message": "trailers",
    "TipView": "writer", "TreeChange": "writer", "Writer": "writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reconciler.gitstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"reconciler.gitstore.{module}"), name)
    globals()[name] = value
    return value
