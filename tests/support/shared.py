"""Where the shared test material lives (`../shared` beside the project: the Keptn corpus and
the evaluation conformance cases) and what to say when it is not there.

Outside CI the tests that need it skip with that message; in CI (`CI=true`) they fail, so a
pipeline without it cannot pass by skipping. `make test` checks the same paths first
(Makefile, `shared-check`). RECONCILER_SHARED_DIR points elsewhere."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEEDED = ("corpus/keptn/MANIFEST.tsv", "conformance/evaluation")


def shared_path() -> Path:
    return Path(os.environ.get("RECONCILER_SHARED_DIR") or ROOT.parent / "shared")


def missing() -> list[str]:
    """The needed paths that are not there (empty when all are)."""
    base = shared_path()
    return [str(base / rel) for rel in NEEDED if not (base / rel).exists()]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def reason() -> str:
    return (f"the shared test material is missing: {', '.join(missing())} (expected ../shared beside the "
            f"project, i.e. {shared_path()}; set RECONCILER_SHARED_DIR to use another place)")
