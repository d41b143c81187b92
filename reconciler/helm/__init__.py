"""Helm charts rendered by the real Helm template engine (Helm's Go SDK, through the
`helm-python-sdk` wheel): one adapter shared by the chart install tests and chart deliveries.
See docs/helm.md for why this engine and what it costs."""
from reconciler.helm.engine import ChartError, render, render_with_sources

__all__ = ["ChartError", "render", "render_with_sources"]
