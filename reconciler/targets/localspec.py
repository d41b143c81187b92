"""Read `<service>/local.yaml` for the `local` target.

The format, the model and its checks live in `reconciler.spec.localspec` (pure) and
`reconciler.spec.validate` (kind `local`); this module only reads the exported file and turns
the validator's errors into `DeploymentFailed`, so a deployment refuses exactly the files
`reconciler validate` calls invalid, with the same file, line, field and advice.
"""
from __future__ import annotations

from pathlib import Path

from reconciler.spec.localspec import SPEC_FILE, LocalSpec
from reconciler.spec.schemas import dotted
from reconciler.spec.validate import check_document
from reconciler.targets.base import DeploymentFailed

__all__ = ["SPEC_FILE", "LocalSpec", "load_local_spec"]


def load_local_spec(service_dir: Path, *, display: str | None = None) -> LocalSpec:
    """Parse `local.yaml` of an exported service folder; DeploymentFailed names file, line, field."""
    path = service_dir / SPEC_FILE
    shown = display or f"{service_dir.name}/{SPEC_FILE}"
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        charts = sorted(p.parent.name for p in (service_dir / "helm").glob("*/Chart.yaml"))
        charts += sorted(p.name for p in (service_dir / "helm").glob("*.tgz"))
        hint = (f"; it has a Helm chart (helm/{charts[0]}), which the local target does not run: add "
                f"local.yaml with the command that starts the service, or deploy this stage with "
                f"`target: kubernetes` from plain manifests in k8s/" if charts else "")
        raise DeploymentFailed("manifest-invalid",
                               f"{shown} is missing: the local target needs it to know how to start the "
                               f"service (see docs/targets.md){hint}") from None
    except OSError as exc:
        raise DeploymentFailed("manifest-invalid", f"{shown}: cannot read it: {exc.strerror or exc}") from None
    result = check_document(text, "local", SPEC_FILE)
    if result.has_errors or not isinstance(result.model, LocalSpec):
        problems = []
        for issue in result.issues:
            if issue.severity != "error":
                continue
            where = f"{shown}:{issue.line}" if issue.line else shown
            field = f"field '{dotted(issue.path)}'" if issue.path else "(document)"
            problems.append(f"{where}: {field}: {issue.message}")
        raise DeploymentFailed("manifest-invalid", "; ".join(problems) or f"{shown}: not a valid local.yaml")
    return result.model
