"""Keptn's uniform rules (engine.uniform): ids, filters, open tasks, paging."""
from __future__ import annotations

import pytest

from reconciler.engine import uniform


def test_integration_id_is_keptns_sha1_of_name_namespace_host():
    # sha1("job-executor-service-keptn-node-1"), as models.IntegrationID.Hash computes it
    assert uniform.integration_id("job-executor-service", "keptn", "node-1") == \
        "a3080b737cbac8151857bc8253d179381395e4e8"
    assert uniform.integration_id("a", "b", "c") != uniform.integration_id("a", "b", "d")


@pytest.mark.parametrize("flt, scope, expected", [
    ({}, ("p", "dev", "svc"), True),
    ({"projects": None, "stages": [], "services": None}, ("p", "dev", "svc"), True),
    ({"stages": ["dev", "staging"]}, ("p", "staging", "svc"), True),
    ({"stages": ["dev"]}, ("p", "production", "svc"), False),
    ({"projects": ["p"], "stages": ["dev"], "services": ["other"]}, ("p", "dev", "svc"), False),
])
def test_filters_match_like_go_utils_eventmatcher(flt, scope, expected):
    assert uniform.filter_matches(flt, *scope) is expected


def test_subscription_rules():
    with pytest.raises(uniform.RegistrationError, match="event must be specified"):
        uniform.normalise_subscription({"filter": {}})
    with pytest.raises(uniform.RegistrationError, match="at least one stage"):
        uniform.normalise_subscription({"event": "e", "filter": {"services": ["a"]}})
    with pytest.raises(uniform.RegistrationError, match="exactly one project"):
        uniform.normalise_subscription({"event": "e", "filter": {"projects": ["a", "b"]}}, one_project=True)
    with pytest.raises(uniform.RegistrationError, match="name"):
        uniform.normalise_integration({"metadata": {}})


def test_open_triggered_keeps_started_tasks_and_drops_finished_ones():
    t = "sh.keptn.event.test.triggered"
    events = [{"id": "a", "type": t, "time": "2"}, {"id": "b", "type": t, "time": "1"},
              {"id": "s", "type": "sh.keptn.event.test.started", "triggeredid": "b"},
              {"id": "f", "type": "sh.keptn.event.test.finished", "triggeredid": "a"},
              {"id": "c", "type": "sh.keptn.event.deployment.triggered", "time": "0"}]
    assert [e["id"] for e in uniform.open_triggered(events, t)] == ["b"]


def test_paging_follows_keptns_paginate():
    items = list(range(5))
    assert uniform.paginate(items, 2, None) == ([0, 1], "2")
    assert uniform.paginate(items, 2, "2") == ([2, 3], "4")
    assert uniform.paginate(items, 2, "4") == ([4], "0")
    assert uniform.paginate(items, 20, "junk") == (items, "0")
    assert uniform.page_size(None) == 20
    with pytest.raises(ValueError):
        uniform.page_size("0")
