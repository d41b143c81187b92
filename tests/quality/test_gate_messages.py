"""A gate that failed for want of data says so in its message, naming each SLI and the reason:
no samples, NaN, an answer that is not Prometheus' JSON. "Score 0 is below the target" alone
sent people looking at their service when the query was the problem."""
from __future__ import annotations

import math
import time

import pytest

from reconciler.quality.provider import evaluate_window
from reconciler.quality.providers.prometheus import PrometheusProvider
from reconciler.quality.providers.prometheus.client import PrometheusConfig
from reconciler.quality.scoring import evaluate
from reconciler.quality.sli import SliContext
from reconciler.quality.values import SliValue
from tests.support.prometheus import Reply, Series, misbehaving_server, running_prometheus, steady

SLO = ("spec_version: '1.0'\nobjectives:\n"
       "  - sli: latency\n    pass: [{criteria: ['<=500']}]\n"
       "  - sli: errors\n    pass: [{criteria: ['<=1']}]\n"
       "total_score: {pass: '90%'}\n")
INDICATORS = {"latency": 'shop_latency{service="$SERVICE"}', "errors": 'shop_errors{service="$SERVICE"}'}


def test_the_message_names_each_sli_without_usable_data():
    ev = evaluate(SLO, {"latency": SliValue.ok("latency", math.nan), "errors": SliValue.failed("errors", "no data")})
    assert ev.result == "fail"
    assert "SLIs without usable data" in ev.message
    assert "latency (the SLI value is nan" in ev.message and "errors (no data)" in ev.message


def test_a_pass_does_not_list_informational_gaps():
    ev = evaluate(SLO.replace("total_score: {pass: '90%'}", "total_score: {pass: '50%'}"),
                  {"latency": SliValue.ok("latency", 100.0), "errors": SliValue.failed("errors", "no data")})
    assert ev.result == "pass" and "without usable data" not in ev.message


@pytest.mark.prometheus
def test_no_samples_and_nan_from_a_real_prometheus_are_named(tmp_path):
    end = float(int(time.time()) // 15 * 15 - 1800)
    series = [Series("shop_latency", {"service": "carts"}, steady(end - 3600, end + 300, math.nan))]
    with running_prometheus(tmp_path, series=series) as prom:
        ev = evaluate_window(SLO, INDICATORS, SliContext(end - 600, end, "shop", "dev", "carts"),
                             PrometheusProvider(PrometheusConfig(url=prom.url, timeout=5.0)))
    assert ev.result == "fail"
    assert "latency (" in ev.message and "NaN" in ev.message.split("latency (", 1)[1]
    assert "errors (" in ev.message and "no data" in ev.message.split("errors (", 1)[1]


def test_garbage_from_the_provider_is_named():
    with misbehaving_server(Reply(body=b"<html>proxy error</html>")) as server:
        ev = evaluate_window(SLO, INDICATORS, SliContext(0.0, 600.0, "shop", "dev", "carts"),
                             PrometheusProvider(PrometheusConfig(url=server.url, timeout=2.0, retries=0)))
    assert ev.result == "fail"
    assert "SLIs without usable data" in ev.message
    assert "latency (not a Prometheus API answer" in ev.message
