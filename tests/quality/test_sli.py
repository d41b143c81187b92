"""sli.yaml: parsing, project → stage → service layering, Keptn's placeholders."""
from __future__ import annotations

import pytest

from reconciler.quality.sli import SliContext, SliFileError, merge_indicators, parse_sli, queries_for, render


def test_parse():
    assert parse_sli('spec_version: "1.0"\nindicators:\n  rt: up\n  n: 5\n  empty:\n') == {"rt": "up", "n": "5", "empty": ""}
    assert parse_sli("") == {} and parse_sli("spec_version: '1.0'\n") == {}


@pytest.mark.parametrize("text, message", [
    ("indicators: [a]\n", "svc/sli.yaml:1: `indicators` must map SLI names to queries"),
    ("indicators:\n  rt:\n    q: up\n", "svc/sli.yaml:3: indicator 'rt' must be a query string"),
    ("- a\n", "svc/sli.yaml:1: expected a mapping"),
    ("indicators: {a: [}\n", "svc/sli.yaml:1: not valid YAML"),
])
def test_parse_errors_name_file_and_line(text, message):
    with pytest.raises(SliFileError) as info:
        parse_sli(text, "svc/sli.yaml")
    assert str(info.value).startswith(message)


def test_layers_merge_key_by_key_and_the_service_wins():
    project = {"a": "project-a", "b": "project-b", "c": "project-c"}
    stage = {"b": "stage-b", "c": "stage-c"}
    service = {"c": "service-c", "d": "service-d"}
    assert merge_indicators(project, stage, service) == {
        "a": "project-a", "b": "stage-b", "c": "service-c", "d": "service-d"}
    assert merge_indicators(None, {}, service) == service


def test_placeholders():
    ctx = SliContext(1000.0, 1600.9, "shop", "dev", "cart", "canary",
                     labels={"team": "blue", "team_name": "Blue Team"},
                     filters={"handler": "'addToCart'", "id": '"7"'})
    query = ('rate(x{job="$SERVICE-$PROJECT-$STAGE-$DEPLOYMENT",handler="$handler",h2="$HANDLER",'
             'id="$id",team="$LABEL.team",name="$LABEL.team_name"}[$DURATION_SECONDS])')
    assert render(query, ctx) == ('rate(x{job="cart-shop-dev-canary",handler="addToCart",h2="addToCart",'
                                  'id="7",team="blue",name="Blue Team"}[600s])')


def test_window_must_be_positive():
    with pytest.raises(ValueError, match="end after it starts"):
        SliContext(10.0, 10.0)


def test_queries_for_the_slos_slis_only_once_each():
    ctx = SliContext(0.0, 60.0, service="cart")
    queries = queries_for(["rt", "rt", "err", "none", "blank"], {"rt": "up{s='$SERVICE'}", "err": "e", "x": "y", "blank": ""}, ctx)
    assert queries == {"rt": "up{s='cart'}", "err": "e", "none": None, "blank": None}
