"""SLI providers by name: `spec.sli.provider` in `reconciler.yaml` → a provider module.

Every public module (or package) of `reconciler.quality.providers` other than `base` and
`registry` is a provider, named like the module with `-` for `_`; it defines
`create(settings, environ)`. Adding a provider is adding that module (and its name to the
`spec.sli.provider` enum of `schemas/reconciler.json`, which `tests/quality/test_providers.py`
checks against `names()`). Modules are imported when first asked for, so a project on
Prometheus never loads another provider's client.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping

from reconciler.quality import providers as _package
from reconciler.quality.providers.base import ProviderFactory, SliProvider
from reconciler.spec.settings import SliSettings

NONE = "none"           # no provider: evaluations pass with a message (Keptn's lighthouse)
_NOT_PROVIDERS = frozenset({"base", "registry"})


def names() -> tuple[str, ...]:
    """Every provider name, sorted (without `none`)."""
    return _names_in(tuple(_package.__path__))


@functools.lru_cache(maxsize=4)
def _names_in(path: tuple[str, ...]) -> tuple[str, ...]:
    found = (m.name for m in pkgutil.iter_modules(path))
    return tuple(sorted(n.replace("_", "-") for n in found if n not in _NOT_PROVIDERS and not n.startswith("_")))


def factory(name: str) -> ProviderFactory:
    """The `create` of provider `name`; ValueError naming the known ones for anything else."""
    if name not in names():
        raise ValueError(f"unknown SLI provider {name!r}; spec.sli.provider is one of "
                         f"{', '.join((*names(), NONE))}")
    module = importlib.import_module(f"{_package.__name__}.{name.replace('-', '_')}")
    create: ProviderFactory = module.create
    return create


def create(settings: SliSettings, environ: Mapping[str, str]) -> SliProvider | None:
    """The provider `settings.provider` names, configured; None for `none`. ValueError when it
    is unknown or not configured (the message says what to set)."""
    if settings.provider == NONE:
        return None
    return factory(settings.provider)(settings, environ)
