"""Forges by kind: `spec.forge.kind` in `reconciler.yaml` → the module `reconciler.tasks.forges.<kind>`,
whose `FORGE` class is created from the settings.

Adding a forge is adding that module (and its kind to the `spec.forge.kind` enum of
`schemas/reconciler.json`, which a test checks against `kinds()`).
"""
from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from collections.abc import Mapping

from reconciler.spec.settings import ForgeSettings
from reconciler.tasks import forges as _package
from reconciler.tasks.forges.base import Forge, ForgeError

NONE = "none"
_NOT_FORGES = frozenset({"base", "registry"})


def kinds() -> tuple[str, ...]:
    """Every forge kind, sorted (without `none`)."""
    return _kinds_in(tuple(_package.__path__))


@functools.lru_cache(maxsize=4)
def _kinds_in(path: tuple[str, ...]) -> tuple[str, ...]:
    found = (m.name for m in pkgutil.iter_modules(path))
    return tuple(sorted(n for n in found if n not in _NOT_FORGES and not n.startswith("_")))


def from_settings(settings: ForgeSettings, repo_url: str, *,
                  environ: Mapping[str, str] | None = None) -> Forge | None:
    """The configured forge, or None for `kind: none`. ForgeError when it cannot be set up."""
    if settings.kind == NONE:
        return None
    if settings.kind not in kinds():
        raise ForgeError(f"forge kind {settings.kind!r} is not supported ({', '.join(kinds())})")
    module = importlib.import_module(f"{_package.__name__}.{settings.kind}")
    forge: Forge = module.FORGE.create(settings.url, settings.repository, repo_url,
                                       os.environ if environ is None else environ)
    return forge
