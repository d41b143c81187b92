"""The Prometheus SLI provider (Keptn's prometheus-service): `batching` decides what to ask and
reads the answers (pure), `client` asks over HTTP (httpx)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.quality.providers.base import SliRequest
from reconciler.quality.providers.prometheus.client import PrometheusConfig, get_values
from reconciler.quality.values import SliValue
from reconciler.spec.settings import SliSettings

NAME = "prometheus"


@dataclass(frozen=True)
class PrometheusProvider:
    """Each SLI is one instant query at the end of the window, batched (see `client`)."""

    config: PrometheusConfig
    name: str = NAME

    def describe(self) -> dict[str, Any]:
        return {"kind": NAME, "url": self.config.url}

    def get_values(self, request: SliRequest) -> dict[str, SliValue]:
        return get_values(self.config, request.queries, request.window.end)


def create(settings: SliSettings, environ: Mapping[str, str]) -> PrometheusProvider:
    """From `spec.sli.prometheus` and RECONCILER_PROMETHEUS_*; ValueError without a URL."""
    return PrometheusProvider(PrometheusConfig.from_settings(settings.prometheus, env=environ))
