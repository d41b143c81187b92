"""Placeholder values cannot rewrite an SLI query: escaped for their position, checked against
hostile values (hypothesis) and against a real Prometheus, where an injected alert label would
otherwise turn a failing gate into a pass."""
from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.quality.provider import evaluate_window
from reconciler.quality.providers.prometheus import PrometheusProvider
from reconciler.quality.providers.prometheus.client import PrometheusConfig
from reconciler.quality.sli import SliContext, escape_for, render, string_contexts
from tests.support.prometheus import Series, running_prometheus, steady

HOSTILE = st.lists(st.sampled_from(list('ab"\'`\\}{)(# \n=~,.:-_') + ["$LABEL.x", "$SERVICE"]),
                   max_size=30).map("".join) | st.text(max_size=40)


def unquote(body: str, quote: str) -> str:
    """PromQL's reading of a string literal's body (the escapes `escape_for` writes)."""
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            out.append({"n": "\n", "r": "\r"}.get(nxt, nxt))
            i += 2
            continue
        assert ch != quote, f"an unescaped {quote} ends the string early in {body!r}"
        out.append(ch)
        i += 1
    return "".join(out)


def ctx(**labels: str) -> SliContext:
    return SliContext(0.0, 600.0, "shop", "dev", "carts", labels=labels)


@settings(max_examples=300, deadline=None)
@given(value=HOSTILE, quote=st.sampled_from(['"', "'"]))
def test_a_value_inside_a_string_stays_exactly_that_string(value, quote):
    query = f"up{{instance={quote}$LABEL.x{quote}}}"
    rendered = render(query, ctx(x=value))
    prefix, suffix = f"up{{instance={quote}", f"{quote}}}"
    assert rendered.startswith(prefix) and rendered.endswith(suffix)
    body = rendered[len(prefix):-len(suffix)]
    assert unquote(body, quote) == value
    # and the closing quote really is where the template put it
    assert string_contexts(rendered)[len(rendered) - 1] == ""


@settings(max_examples=300, deadline=None)
@given(value=HOSTILE)
def test_a_value_outside_any_string_cannot_add_structure(value):
    rendered = render("sum(rate(x[$LABEL.x]))", ctx(x=value))
    inserted = rendered[len("sum(rate(x["):-len("]))")]
    assert re.fullmatch(r"[A-Za-z0-9_.:-]*", inserted)


@settings(max_examples=200, deadline=None)
@given(value=HOSTILE)
def test_a_raw_string_keeps_the_value_without_its_backticks(value):
    assert escape_for(value, "`") == value.replace("`", "")


def test_ordinary_values_render_as_keptn_rendered_them():
    context = SliContext(1000.0, 1600.0, "shop", "dev", "cart", labels={"region": "eu-west-1"},
                         filters={"handler": "'addToCart'", "svc": "$SERVICE"})
    query = 'rate(x{job="$SERVICE-$PROJECT",r="$LABEL.region",h=\'$handler\',s="$svc"}[$DURATION_SECONDS])'
    assert render(query, context) == "rate(x{job=\"cart-shop\",r=\"eu-west-1\",h='addToCart',s=\"cart\"}[600s])"


def keptn_render(query: str, context: SliContext) -> str:
    """Keptn's plain text replacement, for the control case: what the attack does without escaping."""
    for key, value in context.labels.items():
        query = query.replace("$LABEL." + key, value)
    return query.replace("$SERVICE", context.service)


SLO = "spec_version: '1.0'\nobjectives:\n  - sli: latency\n    pass: [{criteria: ['<=500']}]\n" \
      "total_score: {pass: '90%'}\n"
INDICATORS = {"latency": 'min(shop_latency_ms{service="$SERVICE", instance="$LABEL.instance"})'}
ATTACK = 'web-1"}) * 0 + vector(1) #'


@pytest.mark.prometheus
def test_a_hostile_label_leaves_the_verdict_unchanged_against_a_real_prometheus(tmp_path):
    end = float(int(time.time()) // 15 * 15 - 1800)
    series = [Series("shop_latency_ms", {"service": "carts", "instance": "web-1"}, steady(end - 3600, end + 300, 900.0))]
    with running_prometheus(tmp_path, series=series) as prom:
        config = PrometheusProvider(PrometheusConfig(url=prom.url, timeout=5.0))

        def gate(instance: str, indicators=INDICATORS):
            window = SliContext(end - 600, end, "shop", "production", "carts", labels={"instance": instance})
            return evaluate_window(SLO, indicators, window, config)

        honest = gate("web-1")
        assert (honest.result, honest.objectives[0].value.value) == ("fail", 900.0)
        # Control: with Keptn's plain replacement the same label turns the failing gate into a pass.
        injected = keptn_render(INDICATORS["latency"], SliContext(0, 1, service="carts", labels={"instance": ATTACK}))
        forged = gate("web-1", {"latency": injected})
        assert (forged.result, forged.score) == ("pass", 100.0)
        # Escaped, the label is just a value that names no series: the gate still fails.
        attacked = gate(ATTACK)
        assert attacked.result == "fail" and not attacked.objectives[0].value.usable
        assert ATTACK.replace('"', '\\"') in (attacked.objectives[0].value.query or "")
