"""Deployment targets by kind: `spec.stages.<stage>.target` → the module `reconciler.targets.<kind>`
and its `create(context)`.

Adding a target is adding that module (and its kind to the `target` enum of
`schemas/reconciler.json`, which a test checks against the modules). A module is imported when
a stage first uses its kind: a project on `local` never loads the Kubernetes client (~200 ms).
"""
from __future__ import annotations

import importlib

from reconciler.targets.base import DeploymentTarget, TargetContext

NONE = "none"           # without a module of that name: the deployment only records the change (None)
EXTERNAL = "external"   # never a module: an integration deploys, no built-in answers (None)
WITHOUT_MODULE = frozenset({NONE, EXTERNAL})
_NOT_TARGETS = frozenset({"base", "registry"})


def create(kind: str, context: TargetContext) -> DeploymentTarget | None:
    """A new target of `kind`; None for `none` while no module says otherwise; ValueError for
    any other kind without a module."""
    if kind == EXTERNAL:
        return None
    try:
        module = None if kind in _NOT_TARGETS else importlib.import_module(f"{__package__}.{kind}")
    except ModuleNotFoundError:
        module = None
    if module is None or not callable(getattr(module, "create", None)):
        if kind == NONE:
            return None
        raise ValueError(f"no deployment target of kind {kind!r}")
    target: DeploymentTarget = module.create(context)
    return target
