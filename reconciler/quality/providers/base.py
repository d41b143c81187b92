"""What an SLI provider is: given the SLIs an SLO names and the evaluation window, their values.

Keptn asked a provider through `get-sli.triggered` (indicators, start, end, customFilters)
and read `get-sli.finished` (`indicatorValues`). Here a provider is an object with the same
shape of question: `get_values(request)` returns one `SliValue` per SLI — a number or a
failure with its reason — and raises `ProviderUnavailable` when it cannot answer at all, which
the evaluation fails closed (Keptn: `get-sli` errored).

A provider lives in one module of `reconciler/quality/providers/` that defines
`create(settings, environ) -> SliProvider`; `registry` finds it by the name `reconciler.yaml`
gives in `spec.sli.provider` (module `get_sli` ↔ name `get-sli`). Pure: no I/O here.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.quality.sli import SliContext
from reconciler.quality.values import SliValue
from reconciler.spec.settings import SliSettings


class ProviderUnavailable(Exception):
    """The provider could not be asked at all; the evaluation must fail closed."""


@dataclass(frozen=True, slots=True)
class SliRequest:
    """One question to a provider.

    `queries`: SLI name → its rendered query from the merged `sli.yaml` files (None: no query
    for it), in the order the SLO names them. A provider that keeps its own queries (Keptn's
    integrations answering `get-sli`) reads only the names. `window`: start, end, project,
    stage, service, deployment, labels and the SLO's filters (Keptn's customFilters).
    """

    queries: Mapping[str, str | None]
    window: SliContext

    @property
    def indicators(self) -> tuple[str, ...]:
        return tuple(self.queries)


class SliProvider(Protocol):
    """Where SLI values come from. Called from executor threads; must not keep per-call state."""

    @property
    def name(self) -> str:
        """The provider's name in `spec.sli.provider` (read-only: a frozen dataclass field will do)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the evidence document records about the provider, e.g. `{"kind": "prometheus", "url": …}`."""
        ...

    def get_values(self, request: SliRequest) -> Mapping[str, SliValue]:
        """A value (or a failed value with its reason) for every SLI of `request.queries`;
        ProviderUnavailable when the provider cannot be asked."""
        ...


ProviderFactory = Callable[[SliSettings, Mapping[str, str]], SliProvider]
"""`create(settings, environ)` in a provider module: its settings are `settings.<name>` in
`reconciler.yaml` (`SliSettings.options(name)` for providers without a typed block), secrets
come from `environ`. Raises ValueError with what to set when it is not configured."""
