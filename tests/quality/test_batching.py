"""Batched SLI queries: many queries in one PromQL request, split back per SLI.

Three layers of evidence:
* the batch format itself (`batch_query`, `split_answer`, `blamed_query`), pure;
* the control flow (splitting a failed batch, bounds, timeouts, concurrency) against a fake
  Prometheus that understands the batch format and answers from a table;
* the real Prometheus: every SLI gets exactly what it gets when asked alone, including the
  queries that cannot be batched, and `or` would have dropped an untagged answer.
"""
from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest

from reconciler.quality.providers.base import ProviderUnavailable
from reconciler.quality.providers.prometheus.batching import TAG, batch_query, blamed_query, split_answer
from reconciler.quality.providers.prometheus.client import PrometheusConfig, get_values
from reconciler.quality.values import SliValue
from tests.support.httpserver import LocalHTTPServer, QuietHandler
from tests.support.prometheus import Series, running_prometheus, steady

AT = 1_700_000_000.0
STOP_TIMEOUT = 10.0


def config(url: str, **kw) -> PrometheusConfig:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 1)
    kw.setdefault("backoff", 0.01)
    return PrometheusConfig(url=url, **kw)


def series(tag: int | str, value: str, **labels: str) -> dict[str, Any]:
    return {"metric": {TAG: str(tag), **labels}, "value": [AT, value]}


def answer(*items: dict[str, Any]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": list(items)}}


# --------------------------------------------------------------------------- the format

def test_batch_query_tags_each_query_and_ors_them():
    text = batch_query(["sum(a)", "b # a comment"])
    assert text == ('label_replace((sum(a)\n), "reconciler_sli", "0", "", "") or '
                    'label_replace((b # a comment\n), "reconciler_sli", "1", "", "")')


def test_split_answer_judges_each_sli_as_if_asked_alone():
    batch = [("one", "q1"), ("none", "q2"), ("two", "q3"), ("nan", "q4"), ("inf", "q5")]
    values = split_answer(batch, 200, answer(
        series(0, "1.5"), series(2, "1", i="a"), series(2, "2", i="b"), series(3, "NaN"), series(4, "-Inf")))
    assert values["one"] == SliValue.ok("one", 1.5, "q1")
    assert not values["none"].success and values["none"].message.startswith("no data")
    assert values["two"].message.startswith("the query returned 2 series")
    assert "NaN" in values["nan"].message and "-Inf" in values["inf"].message
    assert all(v.query == q for (name, q), v in zip(batch, values.values(), strict=True))


@pytest.mark.parametrize("status, body", [
    (400, {"status": "error", "errorType": "bad_data", "error": "parse error"}),
    (200, {"status": "success", "data": {"resultType": "scalar", "result": [AT, "1"]}}),
    (200, answer(series(0, "1"), {"metric": {}, "value": [AT, "2"]})),   # an untagged series
    (200, answer(series(7, "1"))),                                        # a tag beyond the batch
    (200, answer(series("x", "1"))),
    (200, answer(series("²", "1"))),
    (200, answer({"metric": None, "value": [AT, "1"]})),
    (200, answer("not a series")),
    (200, b"<html>"),
])
def test_split_answer_refuses_anything_but_a_tagged_vector(status, body):
    assert split_answer([("a", "q1"), ("b", "q2")], status, body) is None


def test_blamed_query_reads_line_and_byte_column():
    queries = ["up", "sum(\n  rate(x[5m]))", "scalar(up)", "up"]
    text = batch_query(queries).encode()
    start = text.index(b'label_replace((scalar(up)')
    line = text[:start].count(b"\n") + 1
    column = start - text[:start].rfind(b"\n")              # Prometheus: bytes since the last newline
    body = {"status": "error", "errorType": "bad_data",
            "error": f'invalid parameter "query": {line}:{column + 14}: parse error: expected type instant vector'}
    assert blamed_query(queries, body) == 2
    assert blamed_query(queries, {**body, "errorType": "execution"}) is None
    assert blamed_query(queries, {**body, "error": "parse error without a position"}) is None
    assert blamed_query(queries, {**body, "error": "99:1: parse error: past the end"}) is None


# --------------------------------------------------------------------------- a fake Prometheus

@dataclass(frozen=True)
class Fake:
    """How the fake answers one query: series values, a scalar, an error, a delay."""
    values: tuple[float, ...] = (1.0,)
    scalar: bool = False
    error: tuple[int, str, str] | None = None     # (HTTP status, errorType, text)
    delay: float = 0.0


_SEGMENT = re.compile(r'label_replace\(\((.*?)\n\), "reconciler_sli", "(\d+)", "", ""\)', re.S)


@dataclass
class FakePrometheus:
    table: dict[str, Fake]
    unavailable: int = 0                           # answer this many requests with HTTP 503
    requests: list[list[str]] = field(default_factory=list)   # the queries of each request
    url: str = ""
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def respond(self, query: str) -> tuple[int, Any, float]:
        segments = _SEGMENT.findall(query)
        if not segments:                           # asked alone
            fake = self.table[query]
            if fake.error:
                status, kind, text = fake.error
                return status, {"status": "error", "errorType": kind, "error": text}, fake.delay
            if fake.scalar:
                return 200, {"status": "success", "data": {"resultType": "scalar",
                                                           "result": [AT, str(fake.values[0])]}}, fake.delay
            return 200, answer(*({"metric": {"i": str(k)}, "value": [AT, str(v)]}
                                 for k, v in enumerate(fake.values))), fake.delay
        delay = max(self.table[q].delay for q, _ in segments)
        for q, tag in segments:
            if self.table[q].scalar:                # what Prometheus says, with a real position
                start = query.encode().index(f'label_replace(({q}\n), "{TAG}", "{tag}"'.encode()) + 14
                line = query.encode()[:start].count(b"\n") + 1
                column = start - query.encode()[:start].rfind(b"\n")
                return 400, {"status": "error", "errorType": "bad_data",
                             "error": f'invalid parameter "query": {line}:{column}: parse error: expected type '
                                      'instant vector in call to function "label_replace", got scalar'}, delay
        for q, _ in segments:
            if self.table[q].error:
                status, kind, text = self.table[q].error
                return status, {"status": "error", "errorType": kind, "error": f"in a batch: {text}"}, delay
        return 200, answer(*(series(tag, str(v), i=str(k)) for q, tag in segments
                             for k, v in enumerate(self.table[q].values))), delay


@contextlib.contextmanager
def fake_prometheus(table: dict[str, Fake], unavailable: int = 0) -> Iterator[FakePrometheus]:
    state = FakePrometheus(table, unavailable)

    class Handler(QuietHandler):
        def do_POST(self) -> None:                 # noqa: N802 (http.server naming)
            form = parse_qs(self.read_body().decode(), keep_blank_values=True)
            query = form["query"][0]
            with state.lock:
                state.requests.append([q for q, _ in _SEGMENT.findall(query)] or [query])
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                down = state.unavailable > 0
                state.unavailable -= 1
            try:
                status, body, delay = (503, {"status": "error", "errorType": "unavailable", "error": "down"}, 0.0) \
                    if down else state.respond(query)
                if delay:
                    state.released.wait(delay)     # released early when the test ends
                self.reply(status, json.dumps(body).encode())
            except OSError:
                pass                                # the client gave up (its timeout)
            finally:
                with state.lock:
                    state.in_flight -= 1

    with LocalHTTPServer(Handler, name="fake-prometheus") as server:
        state.url = server.base_url
        try:
            yield state
        finally:
            state.released.set()                    # let delayed replies go, so the threads can end


def test_queries_go_in_few_balanced_batches_in_file_order():
    table = {f"q{i}": Fake((float(i),)) for i in range(60)}
    with fake_prometheus(table) as prom:
        values = get_values(config(prom.url, batch_size=25), {f"s{i}": f"q{i}" for i in range(60)}, AT)
    assert [v.value for v in values.values()] == [float(i) for i in range(60)]
    assert sorted(prom.requests) == sorted([[f"q{i}" for i in range(k, k + 20)] for k in (0, 20, 40)])


def test_batch_size_one_sends_each_query_alone_and_untagged():
    with fake_prometheus({"a": Fake((1.0,)), "b": Fake(scalar=True, values=(2.0,))}) as prom:
        values = get_values(config(prom.url, batch_size=1), {"a": "a", "b": "b"}, AT)
    assert sorted(prom.requests) == [["a"], ["b"]]
    assert (values["a"].value, values["b"].value) == (1.0, 2.0)


def test_a_failing_query_is_narrowed_down_with_its_own_error_text():
    table = {f"q{i}": Fake((float(i),)) for i in range(25)}
    table["q17"] = Fake(error=(422, "execution", "many-to-many matching not allowed"))
    with fake_prometheus(table) as prom:
        values = get_values(config(prom.url, batch_size=25), {f"s{i}": f"q{i}" for i in range(25)}, AT)
    assert values["s17"].message == "query failed (HTTP 422): execution: many-to-many matching not allowed"
    assert [values[f"s{i}"].value for i in range(25) if i != 17] == [float(i) for i in range(25) if i != 17]
    assert ["q17"] in prom.requests                 # asked alone in the end: its own text, not the batch's
    # 25 → 6+6+6+7 → (q12..q17) 2+2+1+1 → (q16, q17) 1+1: three rounds, 11 requests.
    assert sorted(map(len, prom.requests)) == [1, 1, 1, 1, 2, 2, 6, 6, 6, 7, 25]


def test_a_parse_error_position_isolates_the_query_at_once():
    table = {f"q{i}": Fake((float(i),)) for i in range(10)}
    table["q6"] = Fake(scalar=True, values=(6.5,))
    with fake_prometheus(table) as prom:
        values = get_values(config(prom.url, batch_size=10), {f"s{i}": f"q{i}" for i in range(10)}, AT)
    assert values["s6"].value == 6.5                # a scalar is a fine value when asked alone
    assert [v.value for v in values.values()] == [0, 1, 2, 3, 4, 5, 6.5, 7, 8, 9]
    assert len(prom.requests) == 3                  # the batch, the scalar alone, the other nine
    assert sorted(map(len, prom.requests)) == [1, 9, 10]


@pytest.mark.parametrize("size", [2, 7, 16])
def test_a_batch_where_every_query_fails_costs_at_most_two_n_minus_one_requests(size):
    table = {f"q{i}": Fake(error=(400, "bad_data", f"bad {i}")) for i in range(size)}
    with fake_prometheus(table) as prom:
        values = get_values(config(prom.url, batch_size=size), {f"s{i}": f"q{i}" for i in range(size)}, AT)
    assert [v.message for v in values.values()] == [f"query failed (HTTP 400): bad_data: bad {i}"
                                                    for i in range(size)]
    alone = [r[0] for r in prom.requests if len(r) == 1]
    assert sorted(alone) == sorted(table)            # each asked alone exactly once
    assert size < len(prom.requests) <= 2 * size - 1


def test_nothing_to_ask_sends_nothing():
    with fake_prometheus({}) as prom:
        assert get_values(config(prom.url), {}, AT) == {}
        values = get_values(config(prom.url), {"a": None}, AT)
    assert values["a"].message == "no query for SLI 'a' in sli.yaml"
    assert prom.requests == []


def test_a_slow_batch_is_asked_again_one_query_at_a_time():
    table = {"fast1": Fake((1.0,)), "slow": Fake((2.0,), delay=30), "fast2": Fake((3.0,))}
    with fake_prometheus(table) as prom:
        values = get_values(config(prom.url, timeout=0.3), {"a": "fast1", "b": "slow", "c": "fast2"}, AT)
    assert (values["a"].value, values["c"].value) == (1.0, 3.0)
    assert values["b"].message == "Prometheus did not answer within 0.3s"
    assert sorted(prom.requests) == [["fast1"], ["fast1", "slow", "fast2"], ["fast2"], ["slow"]]


def test_a_prometheus_side_timeout_of_a_batch_also_splits_into_single_queries():
    table = {f"q{i}": Fake((float(i),)) for i in range(4)}
    table["q1"] = Fake(error=(503, "timeout", "query timed out in expression evaluation"))
    with fake_prometheus(table) as prom:
        values = get_values(config(prom.url, retries=2), {f"s{i}": f"q{i}" for i in range(4)}, AT)
    assert "timed out" in values["s1"].message and not values["s1"].success
    assert [values[f"s{i}"].value for i in (0, 2, 3)] == [0.0, 2.0, 3.0]
    assert len(prom.requests) == 1 + 4              # no retries of a timeout, no bisecting


def test_a_batch_is_retried_whole_after_a_5xx():
    with fake_prometheus({"a": Fake((1.0,)), "b": Fake((2.0,))}, unavailable=1) as prom:
        values = get_values(config(prom.url, retries=1), {"a": "a", "b": "b"}, AT)
    assert (values["a"].value, values["b"].value) == (1.0, 2.0)
    assert prom.requests == [["a", "b"], ["a", "b"]]


def test_a_batch_that_stays_unavailable_fails_the_evaluation_closed():
    with (fake_prometheus({"a": Fake(), "b": Fake()}, unavailable=100) as prom,
          pytest.raises(ProviderUnavailable, match="HTTP 503 after 2 attempts")):
        get_values(config(prom.url, retries=1), {"a": "a", "b": "b"}, AT)


def test_the_concurrency_bound_holds_across_batches_and_their_parts():
    table = {f"q{i}": Fake((float(i),), delay=0.2) for i in range(24)}
    table["q3"] = table["q15"] = Fake(error=(422, "execution", "boom"), delay=0.2)
    with fake_prometheus(table) as prom:
        values = get_values(config(prom.url, batch_size=4, concurrency=3), {f"s{i}": f"q{i}" for i in range(24)}, AT)
    assert prom.max_in_flight == 3                  # six batches, then eight single queries: three at a time
    assert len(prom.requests) == 6 + 8
    assert [name for name, v in values.items() if not v.success] == ["s3", "s15"]


# --------------------------------------------------------------------------- the real Prometheus

@dataclass
class RecordingProxy:
    """Forwards queries to a real Prometheus and keeps the query text of each request."""
    target: str
    queries: list[str] = field(default_factory=list)
    url: str = ""


@contextlib.contextmanager
def recording_proxy(target: str) -> Iterator[RecordingProxy]:
    state = RecordingProxy(target)

    class Handler(QuietHandler):
        def do_POST(self) -> None:                 # noqa: N802
            body = self.read_body()
            state.queries.append(parse_qs(body.decode(), keep_blank_values=True)["query"][0])
            request = urllib.request.Request(target + self.path, data=body, headers={
                "Content-Type": self.headers["Content-Type"]})
            try:
                with urllib.request.urlopen(request, timeout=10) as r:
                    status, data = r.status, r.read()
            except urllib.error.HTTPError as err:
                status, data = err.code, err.read()
            self.reply(status, data)

    with LocalHTTPServer(Handler, name="recording-proxy") as server:
        state.url = server.base_url
        yield state


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    end = float(int(time.time()) // 15 * 15 - 1800)
    start = end - 3600

    def gauge(name: str, value: float, **labels: str) -> Series:
        return Series(name, {"job": "shop", **labels}, steady(start, end + 300, value))
    data = [gauge("shop_a", 1.0), gauge("shop_b", 2.0), gauge("shop_nan", float("nan")),
            gauge("shop_tagged", 3.0, reconciler_sli="theirs"),
            gauge("shop_clash", 4.0, reconciler_sli="x"), gauge("shop_clash", 5.0, reconciler_sli="y")]
    with running_prometheus(tmp_path_factory.mktemp("batching"), series=data) as prom:
        yield prom, end


@pytest.mark.prometheus
def test_or_would_drop_an_answer_without_the_tag(prometheus):
    prom, end = prometheus
    # The hazard: both sides have the label set {} (or equal labels but the metric name).
    assert len(prom.query("sum(shop_a) or sum(shop_b)", end)["data"]["result"]) == 1
    assert len(prom.query("shop_a or shop_b", end)["data"]["result"]) == 1
    queries = {"a": "sum(shop_a)", "b": "sum(shop_b)", "raw_a": "shop_a", "raw_b": "shop_b"}
    with recording_proxy(prom.url) as proxy:
        values = get_values(config(proxy.url), queries, end)
    assert {name: v.value for name, v in values.items()} == {"a": 1.0, "b": 2.0, "raw_a": 1.0, "raw_b": 2.0}
    assert proxy.queries == [batch_query(list(queries.values()))]     # one request carried all four


# Queries that test every way a batch can go wrong; the right answer is what each gets alone.
EDGE_QUERIES = {
    "a": "sum(shop_a)",
    "scalar": "scalar(sum(shop_b))",                 # cannot be tagged: a parse error of the batch
    "range": "shop_a[5m]",                           # cannot be tagged either
    "string": '"text"',
    "syntax": "sum(shop_a",                          # breaks the whole batch's syntax
    "comment": "sum(shop_b) # a trailing comment must not swallow the rest",
    "multiline": "sum(\n  shop_a\n) * 10",
    "tagged": "shop_tagged",                         # already carries reconciler_sli: overwritten
    "clash": "shop_clash",                           # two series only the tag tells apart: collide
    "several": '{__name__=~"shop_a|shop_b"}',
    "nodata": "shop_missing",
    "nan": "shop_nan",
    "empty": "",
    "b": "sum(shop_b)",
}


@pytest.mark.prometheus
def test_every_sli_gets_what_it_gets_when_asked_alone(prometheus):
    prom, end = prometheus
    alone = get_values(config(prom.url, batch_size=1), EDGE_QUERIES, end)
    with recording_proxy(prom.url) as proxy:
        batched = get_values(config(proxy.url, batch_size=len(EDGE_QUERIES), concurrency=4), EDGE_QUERIES, end)
    assert batched == alone
    # Spot checks that the table above means what it says.
    assert (batched["a"].value, batched["b"].value, batched["tagged"].value) == (1.0, 2.0, 3.0)
    assert (batched["multiline"].value, batched["comment"].value, batched["scalar"].value) == (10.0, 2.0, 2.0)
    assert batched["clash"].message.startswith("the query returned 2 series")
    assert batched["several"].message.startswith("the query returned 2 series")
    assert "range vector" in batched["range"].message and "'string'" in batched["string"].message
    assert "parse error" in batched["syntax"].message and batched["nodata"].message.startswith("no data")
    assert proxy.queries[0] == batch_query(list(EDGE_QUERIES.values()))
    assert len(proxy.queries) <= 2 * len(EDGE_QUERIES) - 1
    unbatchable = {EDGE_QUERIES[n] for n in ("scalar", "range", "string", "syntax", "clash", "empty")}
    assert unbatchable <= set(proxy.queries)                          # each was asked alone in the end


@pytest.mark.prometheus
@pytest.mark.parametrize("culprit", ["scalar(sum(shop_b))", "shop_a[5m]", "sum(shop_a", '"text"'])
def test_blamed_query_finds_the_culprit_in_real_parse_errors(prometheus, culprit):
    prom, end = prometheus
    queries = ["sum(shop_a)", "sum(\n  shop_b\n)", "shop_a # comment", culprit, "sum(shop_b)"]
    body = _ask(prom.url, batch_query(queries), end)
    assert body["errorType"] == "bad_data"
    assert blamed_query(queries, body) == 3


def _ask(url: str, query: str, at: float) -> Any:
    data = urllib.parse.urlencode({"query": query, "time": f"{at:.3f}"}).encode()
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query", data=data, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as err:
        return json.load(err)
