"""A person's change of `<service>/values.yaml`, committed to a stage branch: what a developer's
CI pushes (`reconciler trigger delivery`) and what the demo pushes. The author is a person, not
the reconciler, so the push starts the stage's sequence."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler import contract
from reconciler.gitstore.models import WriteResult
from reconciler.gitstore.writer import TipView, Writer
from reconciler.spec.valuesfile import set_values


def commit_values(writer: Writer, stage: str, service: str, assignments: Mapping[str, Any], *,
                  sequence: str = "delivery", message: str | None = None,
                  author: tuple[str, str] = ("reconciler trigger", "trigger@reconciler.invalid")) -> WriteResult:
    """Commit `assignments` to `<service>/values.yaml` on `stage` as `author` (a person, so the
    push triggers); returns the writer's WriteResult. Raises ValuesEditError, GitStoreError."""
    path = f"{service}/values.yaml"

    def build(tip: TipView) -> dict[str, bytes]:
        return {path: set_values((tip.read(path) or b"").decode(), assignments).encode()}

    summary = ", ".join(f"{k}={v}" for k, v in assignments.items())
    trailers = [] if sequence == "delivery" else [(contract.TRAILER_SEQUENCE, sequence)]
    return writer.write(stage, build, message or f"{service}: set {summary}", trailers, author=author)
