"""The quality gate against a real Prometheus (Debian package) with backfilled, exact data.

One Prometheus per worker serves every test here (xdist_group keeps them together). The
window ends 30 minutes ago, inside the backfilled samples, because backfilled blocks must
lie in the past.
"""
from __future__ import annotations

import json
import math
import time
import urllib.parse
import urllib.request

import pytest
from click.testing import CliRunner

from reconciler.cli.evaluate import command as evaluate_command
from reconciler.quality import evidence
from reconciler.quality.provider import evaluate_window
from reconciler.quality.providers.prometheus import PrometheusProvider
from reconciler.quality.providers.prometheus.client import PrometheusConfig
from reconciler.quality.sli import SliContext, merge_indicators, parse_sli
from tests.support.prometheus import Reply, Series, misbehaving_server, refused_url, running_prometheus, steady, vector

pytestmark = [pytest.mark.prometheus, pytest.mark.xdist_group("quality-prometheus")]

WINDOW = 600.0
LES = ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")

PROJECT_SLI = """\
spec_version: "1.0"
indicators:
  latency: shop_latency_ms{service="nobody"}
  throughput: sum(rate(shop_requests_total{service="$SERVICE"}[$DURATION_SECONDS]))
  error_rate: sum(rate(shop_requests_total{service="$SERVICE",code="500"}[$DURATION_SECONDS])) / sum(rate(shop_requests_total{service="$SERVICE"}[$DURATION_SECONDS]))
  response_time_p95: histogram_quantile(0.95, sum by (le) (rate(shop_duration_seconds_bucket{service="$SERVICE"}[$DURATION_SECONDS])))
"""  # noqa: E501 - PromQL, one query per line
SERVICE_SLI = """\
indicators:
  latency: shop_latency_ms{service="$SERVICE", stage="$STAGE", team="$LABEL.team"}
  nodata: shop_missing{service="$SERVICE"}
  nan: shop_nan{service="$SERVICE"}
  multi: shop_multi{service="$SERVICE"}
"""


def _series(start: float, end: float) -> list[Series]:
    def counter(per_step: float):
        return lambda t: per_step * ((t - start) // 15)
    base = {"service": "checkout"}
    out = [
        Series("shop_latency_ms", {**base, "stage": "dev", "team": "blue"}, steady(start, end, 150.0)),
        Series("shop_latency_ms", {"service": "nobody"}, steady(start, end, 9999.0)),
        Series("shop_requests_total", {**base, "code": "200"}, steady(start, end, counter(30)), "counter"),
        Series("shop_requests_total", {**base, "code": "500"}, steady(start, end, counter(0.3)), "counter"),
        Series("shop_nan", base, steady(start, end, math.nan)),
        Series("shop_multi", {**base, "instance": "a"}, steady(start, end, 1.0)),
        Series("shop_multi", {**base, "instance": "b"}, steady(start, end, 2.0)),
    ]
    # 100 requests per 15 s: 60 under 0.1 s, 35 more under 0.25 s, 5 under 0.5 s.
    cumulative = {"0.05": 20, "0.1": 60, "0.25": 95, "0.5": 100, "1": 100, "+Inf": 100}
    for le in LES:
        out.append(Series("shop_duration_seconds_bucket", {**base, "le": le},
                          steady(start, end, counter(cumulative[le])), "histogram"))
    return out


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    end = float(int(time.time()) // 15 * 15 - 1800)
    with running_prometheus(tmp_path_factory.mktemp("prometheus"),
                            series=_series(end - 3 * 3600, end + 300)) as prom:
        yield prom, end


def window(end: float, **kw) -> SliContext:
    kw.setdefault("labels", {"team": "blue"})
    return SliContext(end - WINDOW, end, "shop", "dev", "checkout", **kw)


INDICATORS = merge_indicators(parse_sli(PROJECT_SLI, "sli.yaml"), parse_sli(SERVICE_SLI, "checkout/sli.yaml"))


def slo(objectives: str, total: str = 'total_score: {pass: "90%", warning: "75%"}') -> str:
    return f"spec_version: '1.0'\nobjectives:\n{objectives}\n{total}\n"


def run(prom, end, text, **kw):
    config = PrometheusConfig(url=prom.url, timeout=5.0)
    return evaluate_window(text, INDICATORS, window(end), PrometheusProvider(config), **kw)


def test_pass_with_exact_values_and_rendered_queries(prometheus):
    prom, end = prometheus
    ev = run(prom, end, slo("""\
  - sli: latency
    pass: [{criteria: ["<=200"]}]
  - sli: throughput
    pass: [{criteria: [">=2"]}]
  - sli: error_rate
    pass: [{criteria: ["<0.02"]}]
  - sli: response_time_p95
    pass: [{criteria: ["<=0.5"]}]"""))
    assert (ev.result, ev.score, ev.event_status) == ("pass", 100.0, "succeeded")
    by_sli = {o.sli: o for o in ev.objectives}
    assert by_sli["latency"].value.value == 150.0
    assert by_sli["throughput"].value.value == pytest.approx(2.02)
    assert by_sli["error_rate"].value.value == pytest.approx(0.02 / 2.02)
    assert by_sli["response_time_p95"].value.value == pytest.approx(0.25)   # 95 of 100 ≤ 0.25 s
    # The service layer won over the project layer, with every placeholder filled in.
    assert by_sli["latency"].value.query == 'shop_latency_ms{service="checkout", stage="dev", team="blue"}'
    assert "[600s]" in by_sli["throughput"].value.query

    doc = evidence.build(ev, context="c-1", project="shop", stage="dev", service="checkout",
                         evaluated_at=evidence._dt.datetime.now(evidence._dt.timezone.utc),
                         window=(end - WINDOW, end), provider={"kind": "prometheus", "url": prom.url})
    evidence.check(json.loads(json.dumps(doc)))
    assert doc["objectives"][0]["query"].startswith("shop_latency_ms")


def test_warning(prometheus):
    prom, end = prometheus
    ev = run(prom, end, slo("""\
  - sli: latency
    pass: [{criteria: ["<=100"]}]
    warning: [{criteria: ["<=200"]}]
  - sli: throughput
    pass: [{criteria: [">=2"]}]"""))
    assert [o.status for o in ev.objectives] == ["warning", "pass"]
    assert (ev.result, ev.score) == ("warning", 75.0)
    assert ev.passed


def test_fail(prometheus):
    prom, end = prometheus
    ev = run(prom, end, slo("""\
  - sli: latency
    pass: [{criteria: ["<=100"]}]"""))
    assert (ev.result, ev.score, ev.objectives[0].status) == ("fail", 0.0, "fail")
    assert not ev.passed


@pytest.mark.parametrize("sli, reason", [
    ("nodata", "no data"),
    ("nan", "NaN"),
    ("multi", "returned 2 series"),
])
def test_missing_data_fails_its_objective_with_the_reason(prometheus, sli, reason):
    prom, end = prometheus
    ev = run(prom, end, slo(f"""\
  - sli: latency
    pass: [{{criteria: ["<=200"]}}]
  - sli: {sli}
    pass: [{{criteria: ["<=+100%"]}}]"""))
    bad = ev.objectives[1]
    assert bad.status == "fail" and bad.score == 0
    assert reason in bad.error
    assert (ev.result, ev.score) == ("fail", 50.0)     # a relative criterion without history never rescues it


def test_provider_down_fails_closed(prometheus):
    _, end = prometheus
    with refused_url() as url:
        ev = evaluate_window(slo("  - sli: latency\n    pass: [{criteria: ['<=200']}]"), INDICATORS,
                             window(end), PrometheusProvider(PrometheusConfig(url=url, retries=1, backoff=0.01)))
    assert (ev.result, ev.event_result, ev.event_status) == ("fail", "fail", "errored")
    assert ev.error_kind == "sli_retrieval_failed"
    assert "unreachable" in ev.message and url in ev.message


def test_provider_slower_than_the_timeout_fails_each_objective(prometheus):
    _, end = prometheus
    with misbehaving_server(Reply(delay=30, body={})) as slow:
        ev = evaluate_window(slo("""\
  - sli: latency
    pass: [{criteria: ["<=200"]}]
  - sli: throughput
    pass: [{criteria: [">=2"]}]"""), INDICATORS, window(end), PrometheusProvider(PrometheusConfig(url=slow.url, timeout=0.3)))
    assert ev.result == "fail" and ev.score == 0
    assert all(o.error == "Prometheus did not answer within 0.3s" for o in ev.objectives)
    # One batch of both, then each alone (concurrently) to learn which was slow; no retries.
    assert len(slow.requests) == 3


def test_cli_live_mode(prometheus, tmp_path):
    prom, end = prometheus
    (tmp_path / "slo.yaml").write_text(slo("""\
  - sli: latency
    pass: [{criteria: ["<=200"]}]
  - sli: nodata
    pass: [{criteria: ["<=1"]}]""", 'total_score: {pass: "50%"}'))
    (tmp_path / "project-sli.yaml").write_text(PROJECT_SLI)
    (tmp_path / "service-sli.yaml").write_text(SERVICE_SLI)
    runner = CliRunner()
    result = runner.invoke(evaluate_command, [
        "--slo", str(tmp_path / "slo.yaml"), "--prometheus", prom.url,
        "--sli", str(tmp_path / "project-sli.yaml"), "--sli", str(tmp_path / "service-sli.yaml"),
        "--start", str(end - WINDOW), "--end", evidence.iso(end),
        "--project", "shop", "--stage", "dev", "--service", "checkout", "--label", "team=blue",
        "--output", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["result"], out["score"]) == ("pass", 50.0)
    assert [(o["sli"], o["status"], o["value"]) for o in out["objectives"]] == [
        ("latency", "pass", 150.0), ("nodata", "fail", None)]
    assert "no data" in out["objectives"][1]["error"]


def test_support_starts_prometheus_with_a_scrape_config(tmp_path):
    """The scrape mode the end-to-end demo test uses: the given configuration is loaded."""
    config = ("global: {scrape_interval: 1s}\n"
              "scrape_configs:\n"
              "  - job_name: helloservice\n"
              "    static_configs: [{targets: ['127.0.0.1:9']}]\n")
    with running_prometheus(tmp_path / "scraping", config=config) as prom:
        with urllib.request.urlopen(f"{prom.url}/api/v1/status/config", timeout=10) as r:
            loaded = json.load(r)["data"]["yaml"]
        process = prom.process
        assert "job_name: helloservice" in loaded
    assert process.poll() is not None                 # stopped on leaving the block


def test_cli_live_mode_names_the_project_after_the_config_repo_like_serve(tmp_path):
    import subprocess
    clone = tmp_path / "work"
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "remote", "add", "origin", "https://git.example.com/org/sockshop.git"],
                   check=True)
    (clone / "carts").mkdir()
    (clone / "carts" / "sli.yaml").write_text('indicators:\n  up: up{job="$SERVICE-$PROJECT-$STAGE"}\n')
    (tmp_path / "slo.yaml").write_text(slo('  - sli: up\n    pass: [{criteria: [">=1"]}]', 'total_score: {pass: "90%"}'))
    with misbehaving_server(Reply(body={"status": "success", "data": {
            "resultType": "vector", "result": [vector("1")]}})) as server:
        result = CliRunner().invoke(evaluate_command, [
            "--slo", str(tmp_path / "slo.yaml"), "--prometheus", server.url, "--sli", str(clone / "carts" / "sli.yaml"),
            "--stage", "dev", "--service", "carts", "--timeframe", "5m", "--output", "json"])
        sent = " ".join(urllib.parse.unquote_plus(r["path"] + " " + r["body"]) for r in server.requests)
    assert result.exit_code in (0, 1), result.output     # the verdict does not matter here
    assert 'job="carts-sockshop-dev"' in sent
