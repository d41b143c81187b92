"""The Prometheus provider against scripted HTTP peers: retries, errors, auth, TLS, bounds.

Real Prometheus behaviour (no data, NaN, several series) is in test_prometheus_live.py;
here a tiny local server plays the failure modes a real one rarely shows on demand. Its
scripted answers are for one query at a time, so these tests send every query alone
(`batch_size=1`); batching has its own tests in test_batching.py.
"""
from __future__ import annotations

import base64
from urllib.parse import parse_qs

import pytest

from reconciler.quality.providers.base import ProviderUnavailable
from reconciler.quality.providers.prometheus.client import PrometheusConfig, get_values
from reconciler.spec.settings import PrometheusSettings
from tests.support.prometheus import Reply, misbehaving_server, refused_url, self_signed_certificate, vector

AT = 1_700_000_000.0


def config(url: str, **kw) -> PrometheusConfig:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("batch_size", 1)
    return PrometheusConfig(url=url, **kw)


def test_one_value_per_query_sent_at_the_window_end():
    with misbehaving_server(Reply(body=vector("0.25"))) as server:
        values = get_values(config(server.url), {"err": 'sum(rate(x{job="a"}[5m]))'}, AT)
    assert values["err"].success and values["err"].value == 0.25
    assert values["err"].query == 'sum(rate(x{job="a"}[5m]))'
    (request,) = server.requests
    assert (request["method"], request["path"]) == ("POST", "/api/v1/query")
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request["body"]) == {"query": ['sum(rate(x{job="a"}[5m]))'],
                                         "time": ["1700000000.000"], "timeout": ["2s"]}


def test_5xx_is_retried_then_answered():
    with misbehaving_server(Reply(status=500, body={"status": "error", "errorType": "internal", "error": "boom"}),
                            Reply(status=503, body=b"overloaded"),
                            Reply(body=vector(7))) as server:
        values = get_values(config(server.url, retries=2), {"a": "up"}, AT)
    assert values["a"].value == 7
    assert len(server.requests) == 3


def test_a_rejected_query_is_a_failed_value_with_prometheus_text_and_no_retry():
    body = {"status": "error", "errorType": "bad_data",
            "error": 'invalid parameter "query": 1:5: parse error: unexpected right parenthesis'}
    with misbehaving_server(Reply(status=400, body=body)) as server:
        values = get_values(config(server.url), {"a": "sum())"}, AT)
    assert not values["a"].success
    assert "bad_data" in values["a"].message and "unexpected right parenthesis" in values["a"].message
    assert len(server.requests) == 1


def test_a_prometheus_side_timeout_is_a_failed_value_not_retried():
    body = {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}
    with misbehaving_server(Reply(status=503, body=body)) as server:
        values = get_values(config(server.url), {"a": "up"}, AT)
    assert not values["a"].success and "timed out" in values["a"].message
    assert len(server.requests) == 1


def test_gateway_errors_on_every_retry_mean_the_provider_is_unavailable():
    with (misbehaving_server(Reply(status=502, body=b"bad gateway")) as server,
          pytest.raises(ProviderUnavailable, match="HTTP 502 after 3 attempts")):
        get_values(config(server.url, retries=2), {"a": "up", "b": "up"}, AT)
    assert 3 <= len(server.requests) <= 6


def test_a_500_after_retries_fails_only_that_sli():
    with misbehaving_server(Reply(status=500, body={"status": "error", "errorType": "internal", "error": "x"})) as server:
        values = get_values(config(server.url, retries=1), {"a": "up"}, AT)
    assert not values["a"].success and "internal: x" in values["a"].message
    assert len(server.requests) == 2


def test_refused_credentials_make_the_provider_unavailable_at_once():
    with misbehaving_server(Reply(status=401, body=b"unauthorized")) as server, pytest.raises(ProviderUnavailable, match="HTTP 401"):
        get_values(config(server.url), {"a": "up"}, AT)
    assert len(server.requests) == 1


def test_connection_refused_is_retried_then_unavailable():
    with refused_url() as url, pytest.raises(ProviderUnavailable, match="unreachable after 3 attempts"):
        get_values(config(url, retries=2), {"a": "up"}, AT)


def test_a_dropped_connection_is_retried():
    with misbehaving_server(Reply(drop=True), Reply(body=vector(1))) as server:
        values = get_values(config(server.url, retries=1), {"a": "up"}, AT)
    assert values["a"].value == 1
    assert len(server.requests) == 2


def test_a_slow_answer_fails_that_sli_after_the_timeout_without_retry():
    with misbehaving_server(Reply(delay=30, body=vector(1))) as server:
        values = get_values(config(server.url, timeout=0.3, retries=2), {"a": "up"}, AT)
    assert not values["a"].success
    assert values["a"].message == "Prometheus did not answer within 0.3s"
    assert len(server.requests) == 1


@pytest.mark.parametrize("body, reason", [
    ({"status": "success", "data": {"resultType": "vector", "result": []}}, "no data"),
    (vector("NaN"), "NaN"),
    (vector("+Inf"), "+Inf"),
    ({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"i": "a"}, "value": [AT, "1"]}, {"metric": {"i": "b"}, "value": [AT, "2"]}]}},
     "returned 2 series"),
    ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "range vector"),
    (b"<html>not prometheus</html>", "not a Prometheus API answer"),
])
def test_answers_without_one_number_are_failed_values_with_the_reason(body, reason):
    with misbehaving_server(Reply(body=body)) as server:
        values = get_values(config(server.url), {"a": "q"}, AT)
    assert not values["a"].success
    assert reason in values["a"].message


def test_a_scalar_answer_is_a_value():
    body = {"status": "success", "data": {"resultType": "scalar", "result": [AT, "3.5"]}}
    with misbehaving_server(Reply(body=body)) as server:
        assert get_values(config(server.url), {"a": "scalar(x)"}, AT)["a"].value == 3.5


def test_an_sli_without_query_fails_without_asking():
    with misbehaving_server(Reply(body=vector(1))) as server:
        values = get_values(config(server.url), {"a": None}, AT)
    assert values["a"].message == "no query for SLI 'a' in sli.yaml"
    assert server.requests == []


def test_queries_run_concurrently_up_to_the_bound():
    queries = {f"s{i}": "up" for i in range(6)}
    with misbehaving_server(Reply(delay=0.3, body=vector(1))) as server:
        get_values(config(server.url, concurrency=2), queries, AT)
    assert server.max_in_flight == 2
    with misbehaving_server(Reply(delay=0.3, body=vector(1))) as server:
        values = get_values(config(server.url, concurrency=6), queries, AT)
    assert server.max_in_flight == 6
    assert all(v.value == 1 for v in values.values())


def test_bearer_token_is_sent():
    with misbehaving_server(Reply(body=vector(1))) as server:
        get_values(config(server.url, token="s3cret"), {"a": "up"}, AT)
    assert server.requests[0]["headers"]["Authorization"] == "Bearer s3cret"


def test_basic_auth_is_sent():
    with misbehaving_server(Reply(body=vector(1))) as server:
        get_values(config(server.url, username="ada", password="pw"), {"a": "up"}, AT)
    assert server.requests[0]["headers"]["Authorization"] == "Basic " + base64.b64encode(b"ada:pw").decode()


def test_tls_with_a_private_ca_and_without(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    with misbehaving_server(Reply(body=vector(4)), tls=(cert, key)) as server:
        assert get_values(config(server.url, ca_file=str(cert)), {"a": "up"}, AT)["a"].value == 4
        assert get_values(config(server.url, insecure=True), {"a": "up"}, AT)["a"].value == 4
        with pytest.raises(ProviderUnavailable, match="unreachable"):
            get_values(config(server.url, retries=0), {"a": "up"}, AT)


def test_config_comes_from_settings_then_environment_then_argument():
    settings = PrometheusSettings(url="http://settings:9090", timeout="3s", concurrency=4, retries=1)
    env = {"RECONCILER_PROMETHEUS_URL": "http://env:9090", "RECONCILER_PROMETHEUS_TOKEN": "t",
           "RECONCILER_PROMETHEUS_CA_FILE": "/ca.pem", "RECONCILER_PROMETHEUS_INSECURE": "true"}
    c = PrometheusConfig.from_settings(settings, env=env)
    assert (c.url, c.timeout, c.concurrency, c.retries, c.batch_size) == ("http://env:9090", 3.0, 4, 1, 25)
    assert PrometheusConfig.from_settings(PrometheusSettings(batchSize=1), env=env).batch_size == 1
    assert (c.token, c.ca_file, c.insecure) == ("t", "/ca.pem", True)
    assert PrometheusConfig.from_settings(settings, env={}).url == "http://settings:9090"
    assert PrometheusConfig.from_settings(settings, env=env, url="http://arg").url == "http://arg"
    basic = PrometheusConfig.from_settings(settings, env={"RECONCILER_PROMETHEUS_USERNAME": "u",
                                                          "RECONCILER_PROMETHEUS_PASSWORD": "p"})
    assert (basic.username, basic.password, basic.token, basic.insecure) == ("u", "p", None, False)
    with pytest.raises(ValueError, match="RECONCILER_PROMETHEUS_URL"):
        PrometheusConfig.from_settings(PrometheusSettings(), env={})
