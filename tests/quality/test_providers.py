"""The SLI provider interface: the registry by name, the schema's names, and a provider added as
one module, used by the evaluation task without touching anything else."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.quality import providers
from reconciler.quality.provider import evaluate_window
from reconciler.quality.providers import registry
from reconciler.quality.providers.base import ProviderUnavailable, SliRequest
from reconciler.quality.providers.prometheus import PrometheusProvider
from reconciler.quality.sli import SliContext
from reconciler.quality.values import SliValue
from reconciler.spec.settings import Settings, SliSettings
from reconciler.tasks.evaluation import EvaluationExecutor

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "reconciler.json"
SLO = "objectives:\n  - sli: latency\n    pass: [{criteria: ['<=100']}]\ntotal_score: {pass: '90%', warning: '75%'}\n"
WINDOW = SliContext(1_700_000_000.0, 1_700_000_600.0, "shop", "dev", "carts")


class Fixed:
    """A provider with fixed answers (a real implementation of the protocol, not a mock)."""

    name = "fixed"

    def __init__(self, values: dict[str, float] | None = None, down: str | None = None) -> None:
        self.values, self.down, self.asked = values or {}, down, []

    def describe(self) -> dict:
        return {"kind": self.name}

    def get_values(self, request: SliRequest) -> dict[str, SliValue]:
        self.asked.append(request)
        if self.down:
            raise ProviderUnavailable(self.down)
        return {n: SliValue.ok(n, self.values[n], q) if n in self.values else SliValue.failed(n, "no data", q)
                for n, q in request.queries.items()}


def test_the_schema_names_exactly_the_registered_providers():
    schema = json.loads(SCHEMA.read_text())
    assert schema["$defs"]["SliSettings"]["properties"]["provider"]["enum"] == [*registry.names(), registry.NONE]
    assert "prometheus" in registry.names()


def test_the_registry_creates_by_name_and_says_what_is_wrong():
    assert registry.create(SliSettings(provider="none"), {}) is None
    made = registry.create(SliSettings(), {"RECONCILER_PROMETHEUS_URL": "http://127.0.0.1:9"})
    assert isinstance(made, PrometheusProvider)
    assert made.describe() == {"kind": "prometheus", "url": "http://127.0.0.1:9"}
    with pytest.raises(ValueError, match="no Prometheus URL"):
        registry.create(SliSettings(), {})
    with pytest.raises(ValueError, match=r"unknown SLI provider 'nagios'; spec.sli.provider is one of .*none"):
        registry.create(SliSettings(provider="nagios"), {})


def test_evaluate_window_asks_the_provider_it_is_given_for_the_rendered_queries():
    provider = Fixed({"latency": 80.0})
    ev = evaluate_window(SLO, {"latency": "q{service='$SERVICE'}"}, WINDOW, provider)
    assert ev.result == "pass"
    [request] = provider.asked
    assert request.queries == {"latency": "q{service='carts'}"} and request.indicators == ("latency",)
    assert request.window.end == WINDOW.end


def test_an_unavailable_provider_fails_the_gate_closed_with_its_reason():
    ev = evaluate_window(SLO, {"latency": "q"}, WINDOW, Fixed(down="backend is down"))
    assert (ev.result, ev.event_status) == ("fail", "errored") and "backend is down" in ev.message


def test_settings_of_a_provider_without_a_typed_block_pass_through():
    sli = Settings.from_data({"spec": {"sli": {"provider": "echo", "echo": {"value": 7}}}}).spec.sli
    assert sli.options("echo") == {"value": 7} and sli.options("other") == {}


ECHO = textwrap.dedent('''\
    """A test provider: every SLI's value is `spec.sli.echo.value`."""
    from reconciler.quality.values import SliValue


    class Echo:
        name = "echo"

        def __init__(self, value):
            self.value = value

        def describe(self):
            return {"kind": "echo", "value": self.value}

        def get_values(self, request):
            return {n: SliValue.ok(n, self.value, q) for n, q in request.queries.items()}


    def create(settings, environ):
        return Echo(float(settings.options("echo")["value"]))
''')


@pytest.fixture
def echo_module(tmp_path, monkeypatch):
    """`echo.py` as if it were a file of reconciler/quality/providers/ (the package's search path
    gets a temporary folder; nothing is written into the source tree)."""
    (tmp_path / "echo.py").write_text(ECHO)
    monkeypatch.setattr(providers, "__path__", [*providers.__path__, str(tmp_path)])
    yield
    sys.modules.pop("reconciler.quality.providers.echo", None)


def test_a_provider_is_one_module_and_the_evaluation_task_uses_it(echo_module, make_env):
    assert "echo" in registry.names()
    settings = Settings.from_data({"metadata": {"name": "shop"},
                                   "spec": {"sli": {"provider": "echo", "echo": {"value": 80}}}})
    branches = {"main": {"shipyard.yaml": "apiVersion: spec.keptn.sh/0.2.2\n"},
                "dev": {"carts/slo.yaml": SLO, "carts/values.yaml": "image: a\n",
                        "carts/echo/sli.yaml": "indicators:\n  latency: latency{service='$SERVICE'}\n"}}
    env, _ = make_env(branches, settings=settings, clock=lambda: WINDOW.end + 60)
    data = {"evaluation": {"start": "2023-11-14T22:13:20Z", "end": "2023-11-14T22:23:20Z"}}
    outcome = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", data), env)
    assert (outcome.result, outcome.status) == ("pass", "succeeded"), outcome.message
    [result] = outcome.data["evaluation"]["indicatorResults"]
    assert result["value"]["value"] == 80.0
    body = next(iter(outcome.journal.values()))
    assert "latency{service='carts'}" in body.decode()          # the query from carts/echo/sli.yaml
    assert json.loads(body)["provider"] == {"kind": "echo", "value": 80.0}
