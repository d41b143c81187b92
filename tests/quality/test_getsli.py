"""The get-sli exchange (quality.getsli) and the per stage/service provider choice."""
from __future__ import annotations

import pytest

from reconciler.quality import getsli
from reconciler.quality.sli import SliContext
from reconciler.spec.settings import Settings

WINDOW = SliContext(1_700_000_000, 1_700_000_300, "hello", "dev", "svc", "direct", {"team": "a"}, {"id": "7"})


def test_the_question_has_keptns_shape():
    data = getsli.triggered_data(["a", "b", "a"], WINDOW, "dynatrace")
    assert data == {"project": "hello", "stage": "dev", "service": "svc", "labels": {"team": "a"},
                    "deployment": "direct",
                    "get-sli": {"sliProvider": "dynatrace", "start": "2023-11-14T22:13:20.000Z",
                                "end": "2023-11-14T22:18:20.000Z", "indicators": ["a", "b"],
                                "customFilters": [{"key": "id", "value": "7"}]}}


def test_answers_become_values_and_missing_or_failed_ones_fail_with_the_reason():
    data = {"result": "pass", "status": "succeeded", "get-sli": {"indicatorValues": [
        {"metric": "a", "value": 1.5, "success": True},
        {"metric": "b", "value": 0, "success": False, "message": "query timed out"},
        {"metric": "c", "value": "NaN", "success": True}]}}
    values = getsli.values_from_finished(data, ["a", "b", "c", "d"], "dynatrace-service")
    assert (values["a"].success, values["a"].value) == (True, 1.5)
    assert values["b"].reason == "query timed out"
    assert not values["c"].success and "not a number" in values["c"].reason
    assert values["d"].reason == "dynatrace-service returned no value for 'd'"


@pytest.mark.parametrize("data", [{"status": "errored", "message": "token expired"}, {"result": "fail"}])
def test_an_errored_answer_fails_closed(data):
    with pytest.raises(getsli.AnswerError, match="dynatrace-service answered get-sli"):
        getsli.values_from_finished(data, ["a"], "dynatrace-service")


def test_the_provider_is_chosen_per_stage_and_service_most_specific_first():
    sli = Settings.from_data({"spec": {"sli": {
        "provider": "get-sli", "get-sli": {"sliProvider": "dynatrace", "timeout": "5s"},
        "overrides": [{"stage": "production", "provider": "prometheus"},
                      {"service": "b", "provider": "get-sli", "sliProvider": "datadog"},
                      {"stage": "production", "service": "b", "provider": "none"}]}}}).spec.sli
    pick = lambda stage, service: sli.for_service(stage, service)  # noqa: E731
    assert (pick("dev", "a").provider, pick("dev", "a").getSli.sliProvider) == ("get-sli", "dynatrace")
    assert pick("production", "a").provider == "prometheus"
    assert (pick("dev", "b").provider, pick("dev", "b").files_of) == ("get-sli", "datadog")
    assert pick("production", "b").provider == "none" and pick("production", "b").files_of == "prometheus"
    assert sli.getSli.timeout == 5.0 and pick("dev", "b").getSli.timeout == 5.0


def test_the_provider_fails_closed_without_an_answer_or_a_controller():
    from reconciler.quality.providers import registry
    from reconciler.quality.providers.base import ProviderUnavailable, SliRequest
    sli = Settings.from_data({"spec": {"sli": {"provider": "get-sli", "get-sli": {"sliProvider": "dynatrace"}}}}).spec.sli
    provider = registry.create(sli, {})
    request = SliRequest({"a": None}, WINDOW)
    with pytest.raises(ProviderUnavailable, match="needs `reconciler serve`"):
        provider.get_values(request)
    silent = provider.bind(lambda data, timeout: ("id-1", None, ["dynatrace-service"]))
    with pytest.raises(ProviderUnavailable, match="within 120s; dynatrace-service started but did not finish"):
        silent.get_values(request)
    assert silent.describe() == {"kind": "get-sli", "sliProvider": "dynatrace", "triggeredId": "id-1",
                                 "answeredBy": None}
    with pytest.raises(ValueError, match="sliProvider"):
        registry.create(Settings.from_data({"spec": {"sli": {"provider": "get-sli"}}}).spec.sli, {})
