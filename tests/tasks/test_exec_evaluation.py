"""The evaluation executor against a real Prometheus with backfilled data and real Git files."""
from __future__ import annotations

import base64
import json
import time

import pytest

from reconciler.quality import evidence
from reconciler.spec.settings import Settings
from reconciler.tasks.evaluation import NO_TIMEFRAME, EvaluationExecutor, evaluation_window
from tests.support.prometheus import Series, refused_url, running_prometheus, steady

pytestmark = [pytest.mark.prometheus, pytest.mark.xdist_group("exec-evaluation-prometheus")]

WINDOW = 600.0

PROJECT_SLI = """\
indicators:
  error_rate: max(shop_errors{service="$SERVICE", stage="$STAGE"})
  response_time: shop_latency{service="nobody"}
"""
SERVICE_SLI = """\
spec_version: "1.0"
indicators:
  response_time: max(avg_over_time(shop_latency{service="$SERVICE", deployment="$DEPLOYMENT", team="$LABEL.team"}[$DURATION_SECONDS]))
"""
SLO = """\
spec_version: "1.0"
comparison: {compare_with: single_result, include_result_with_score: pass, number_of_comparison_results: 1, aggregate_function: avg}
objectives:
  - sli: response_time
    displayName: Response time
    pass: [{criteria: ["<=300"]}]
    warning: [{criteria: ["<=500"]}]
  - sli: error_rate
    pass: [{criteria: ["<=0.05", "<=+10%"]}]
total_score: {pass: "90%", warning: "75%"}
"""
STRICT_SLO = SLO.replace('"<=300"', '"<=100"').replace('"<=500"', '"<=150"')


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    end = float(int(time.time()) // 15 * 15 - 1800)
    series = [
        Series("shop_latency", {"service": "carts", "deployment": "direct", "team": "blue"}, steady(end - 7200, end + 300, 200.0)),
        Series("shop_latency", {"service": "carts", "deployment": "carts-primary", "team": "blue"}, steady(end - 7200, end + 300, 900.0)),
        Series("shop_latency", {"service": "nobody"}, steady(end - 7200, end + 300, 9999.0)),
        Series("shop_errors", {"service": "carts", "stage": "dev"}, steady(end - 7200, end + 300, 0.01)),
        Series("shop_errors", {"service": "orders", "stage": "dev"}, steady(end - 7200, end + 300, 0.01)),
        Series("shop_latency", {"service": "orders", "deployment": "direct", "team": "blue"}, steady(end - 7200, end + 300, 200.0)),
    ]
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), series=series) as prom:
        yield prom, end


def branches() -> dict:
    return {"main": {"shipyard.yaml": "apiVersion: spec.keptn.sh/0.2.2\n", "sli.yaml": PROJECT_SLI},
            "dev": {"carts/slo.yaml": SLO, "carts/prometheus/sli.yaml": SERVICE_SLI, "carts/values.yaml": "image: a\n",
                    "orders/slo.yaml": STRICT_SLO, "orders/sli.yaml": SERVICE_SLI.replace("$SERVICE", "orders"),
                    "noslo/values.yaml": "image: b\n"}}


def settings_for(url: str | None, provider: str = "prometheus") -> Settings:
    return Settings.from_data({"metadata": {"name": "shop"},
                               "spec": {"sli": {"provider": provider, "prometheus": {"url": url, "retries": 0}}}})


def iso(t: float) -> str:
    return evidence.iso(t)


def window_data(end: float, **extra) -> dict:
    return {"evaluation": {"start": iso(end - WINDOW), "end": iso(end)}, "labels": {"team": "blue"}, **extra}


@pytest.fixture
def env_at(make_env, prometheus):
    prom, end = prometheus

    def make(settings: Settings | None = None, clock: float | None = None):
        env, _ = make_env(branches(), settings=settings or settings_for(prom.url),
                          clock=lambda: clock if clock is not None else end + 60)
        return env

    return make, end


def test_pass_with_keptn_payload_and_evidence(env_at):
    make, end = env_at
    env = make()
    outcome = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", window_data(end)), env)

    assert (outcome.result, outcome.status) == ("pass", "succeeded"), outcome.message
    assert outcome.message.startswith("Evaluation passed")
    ev = outcome.data["evaluation"]
    assert (ev["timeStart"], ev["timeEnd"]) == (iso(end - WINDOW), iso(end))
    assert ev["result"] == "pass" and ev["score"] == 100.0
    assert base64.b64decode(ev["sloFileContent"]).decode() == SLO
    assert ev["gitCommit"] == env.mirror.tip("dev")
    by_sli = {r["sli"]: r for r in ev["indicatorResults"]}
    # service layer ($DEPLOYMENT = direct, $LABEL.team) wins over the project layer's query
    assert by_sli["response_time"]["value"]["value"] == pytest.approx(200.0)
    assert by_sli["error_rate"]["value"]["value"] == pytest.approx(0.01)      # project layer, default branch
    assert ev["comparedEvents"] == []
    [(path, body)] = outcome.journal.items()
    assert path.startswith("evaluations/dev/carts/") and path.endswith(f"-{env.request('x', 'dev', 'carts').context}.json")
    document = json.loads(body)
    evidence.check(document)
    assert document["window"] == {"start": iso(end - WINDOW), "end": iso(end)}
    assert document["provider"] == {"kind": "prometheus", "url": env.settings.spec.sli.prometheus.url}
    assert document["commit"] == env.mirror.tip("dev") and document["labels"] == {"team": "blue"}


def test_deployment_name_feeds_the_deployment_placeholder(env_at):
    make, end = env_at
    env = make()
    data = window_data(end, deployment={"deploymentNames": ["carts-primary"]})
    outcome = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", data), env)
    by_sli = {r["sli"]: r for r in outcome.data["evaluation"]["indicatorResults"]}
    assert by_sli["response_time"]["value"]["value"] == pytest.approx(900.0)
    assert outcome.result == "fail"


def test_fail_and_comparison_with_recorded_history(env_at):
    make, end = env_at
    env = make()
    failed = EvaluationExecutor().run(env.request("evaluation", "dev", "orders", window_data(end)), env)
    assert (failed.result, failed.status) == ("fail", "succeeded")
    assert failed.data["evaluation"]["result"] == "fail" and failed.data["evaluation"]["score"] == 50.0

    first = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", window_data(end)), env)
    env.record(first)
    env.clock = lambda: end + 120
    second = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", window_data(end)), env)
    assert second.result == "pass"
    [compared] = second.data["evaluation"]["comparedEvents"]
    assert compared == next(iter(first.journal))
    assert json.loads(next(iter(second.journal.values())))["compared_count"] == 1
    assert env.history_requests[-1][:2] == ("dev", "carts")


def test_no_slo_passes_like_keptn(env_at):
    make, end = env_at
    env = make()
    outcome = EvaluationExecutor().run(env.request("evaluation", "dev", "noslo", window_data(end)), env)
    assert (outcome.result, outcome.status) == ("pass", "succeeded")
    assert outcome.message == "no evaluation performed by lighthouse because no SLO file configured for project shop"
    assert outcome.data["evaluation"]["sloFileContent"] == ""
    evidence.check(json.loads(next(iter(outcome.journal.values()))))


def test_no_window_fails_like_keptn(env_at):
    make, _ = env_at
    env = make()
    outcome = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", {}), env)
    assert (outcome.result, outcome.status, outcome.message) == ("fail", "errored", NO_TIMEFRAME)
    assert outcome.journal == {}


def test_timeframe_ends_now_and_test_window_is_the_fallback(env_at):
    make, end = env_at
    env = make(clock=end)
    by_timeframe = EvaluationExecutor().run(env.request("evaluation", "dev", "carts",
                                                        {"evaluation": {"timeframe": "10m"}, "labels": {"team": "blue"}}), env)
    assert by_timeframe.result == "pass", by_timeframe.message
    assert by_timeframe.data["evaluation"]["timeEnd"] == iso(end)
    assert by_timeframe.data["evaluation"]["timeStart"] == iso(end - 600)
    by_test = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", {
        "test": {"start": iso(end - 300), "end": iso(end)}, "labels": {"team": "blue"}}), env)
    assert by_test.result == "pass"
    assert by_test.data["evaluation"]["timeStart"] == iso(end - 300)


def test_provider_down_fails_closed(env_at):
    make, end = env_at
    with refused_url() as url:
        env = make(settings_for(url))
        outcome = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", window_data(end)), env)
    assert (outcome.result, outcome.status) == ("fail", "errored")
    assert "unreachable" in outcome.message
    document = json.loads(next(iter(outcome.journal.values())))
    assert document["error_kind"] == "sli_retrieval_failed"


def test_provider_none_passes_with_message(env_at):
    make, end = env_at
    env = make(settings_for(None, provider="none"))
    outcome = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", window_data(end)), env)
    assert outcome.result == "pass"
    assert "no SLI-provider configured for project shop" in outcome.message


def test_an_unreadable_sli_file_is_errored_naming_the_file(env_at):
    make, end = env_at
    env = make()
    env.writer.write("dev", lambda tip: {"carts/prometheus/sli.yaml": b"indicators: [unclosed\n"}, "break sli")
    outcome = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", window_data(end)), env)
    assert outcome.status == "errored" and "dev:carts/prometheus/sli.yaml" in outcome.message


@pytest.mark.parametrize("data, problem", [
    ({"evaluation": {"start": "yesterday", "end": "2024-01-01T00:00:00Z"}}, "evaluation.start 'yesterday'"),
    ({"evaluation": {"timeframe": "ten minutes"}}, "evaluation.timeframe"),
    ({"evaluation": {"start": "2024-01-01T00:10:00Z", "end": "2024-01-01T00:00:00Z"}}, "must end after it starts"),
    ({"test": {"start": "2024-01-01T00:00:00Z"}}, NO_TIMEFRAME),
])
def test_window_errors_say_what_is_wrong(data, problem):
    with pytest.raises(ValueError, match=problem):
        evaluation_window(data, 1_700_000_000.0)


def test_window_from_start_and_timeframe():
    start, end = evaluation_window({"evaluation": {"start": "2024-01-01T00:00:00Z", "timeframe": "5m"}}, 0.0)
    assert end - start == 300.0 and iso(start) == "2024-01-01T00:00:00.000Z"


def test_a_broken_stored_evaluation_is_skipped_not_fatal(env_at):
    make, end = env_at
    env = make()
    first = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", window_data(end)), env)
    env.record(first)
    env.writer.write("reconciler/results", lambda tip: {
        "evaluations/dev/carts/20990101T000000.000Z-junk.json": b'{"event_result": "maybe"}',
        "evaluations/dev/carts/20980101T000000.000Z-junk.json": b'{"event_result": "pass", "objectives": [1]}'},
        "junk")
    second = EvaluationExecutor().run(env.request("evaluation", "dev", "carts", window_data(end)), env)
    assert second.result == "pass", second.message
    assert second.data["evaluation"]["comparedEvents"] == [next(iter(first.journal))]


def test_serve_says_when_the_shipyard_evaluates_without_a_usable_sli_provider():
    from reconciler.spec.settings import Settings
    from reconciler.spec.shipyard import Shipyard
    from reconciler.tasks.evaluation import missing_sli_provider
    shipyard = Shipyard.from_data({"apiVersion": "spec.keptn.sh/0.2.3", "kind": "Shipyard", "metadata": {"name": "x"},
                                   "spec": {"stages": [{"name": "dev", "sequences": [{"name": "delivery", "tasks": [
                                       {"name": "deployment"}, {"name": "evaluation"}]}]}, {"name": "prod"}]}})
    plain = Settings()
    assert "evaluates in dev but no SLI provider is set (no Prometheus URL" in missing_sli_provider(shipyard, plain, {})
    assert missing_sli_provider(shipyard, plain, {"RECONCILER_PROMETHEUS_URL": "http://127.0.0.1:9090"}) is None
    none = Settings.from_data({"spec": {"sli": {"provider": "none"}}})
    assert "`spec.sli.provider: none`: every evaluation passes" in missing_sli_provider(shipyard, none, {})
    quiet = Shipyard.from_data({"apiVersion": "spec.keptn.sh/0.2.3", "kind": "Shipyard", "metadata": {"name": "x"},
                                "spec": {"stages": [{"name": "dev"}]}})
    assert missing_sli_provider(quiet, plain, {}) is None
