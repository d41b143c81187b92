"""Issue 11: SLIs from Keptn integrations. The evaluation asks through get-sli (Keptn's shape)
and takes the get-sli.finished of whichever integration answers; no answer fails the gate
closed with the reason."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from reconciler.controller.executors import NoExecutors
from reconciler.tasks.evaluation import EvaluationExecutor
from tests.support.controller import EXAMPLE, wait_until
from tests.support.keptn_go_client import GoSdkIntegration, GoUtilsClient

DYNATRACE_SLI = """spec_version: '1.0'
indicators:
  error_rate: "builtin:service.errors.total.rate:merge(\\"dt.entity.service\\"):avg"
  response_time_p95: "builtin:service.response.time:merge(\\"dt.entity.service\\"):percentile(95)"
  throughput: "builtin:service.requestCount.total:merge(\\"dt.entity.service\\"):sum"
"""
TASKS = ["sh.keptn.event.deployment.triggered", "sh.keptn.event.test.triggered", "sh.keptn.event.release.triggered"]


class LighthouseOnly(NoExecutors):
    """The evaluation is built in (Keptn's lighthouse); every other task is an integration's."""

    def executors_for(self, request, env):
        return [EvaluationExecutor()] if request.task == "evaluation" else []

    def promote(self, command, env):
        from reconciler.tasks.promotion import promote
        return promote(command, env)


@pytest.fixture
def remote_kind():
    return "file"


@pytest.fixture
def service(origin, service_factory):
    return service_factory(origin.url, poll=0, watch=True, executors=LighthouseOnly())


def use_get_sli(service, origin, human_factory, timeout: str) -> None:
    settings = (EXAMPLE / "main" / "reconciler.yaml").read_text().replace(
        "    provider: prometheus\n",
        f"    provider: get-sli\n    get-sli: {{sliProvider: dynatrace, timeout: {timeout}}}\n", 1)
    human_factory(origin.url, "main").change("reconciler.yaml", settings, "SLIs from Dynatrace")
    wait_until(lambda: service.config.settings.spec.sli.provider == "get-sli", what="the new settings")


def executor(client: GoUtilsClient) -> GoSdkIntegration:
    def answer(event):
        data = event["data"]
        out = {"project": data["project"], "stage": data["stage"], "service": data["service"]}
        if event["type"] == "sh.keptn.event.test.triggered":
            end = dt.datetime.now(dt.UTC)
            out["test"] = {"start": (end - dt.timedelta(minutes=5)).isoformat(), "end": end.isoformat()}
        return out
    return GoSdkIntegration(client, "keptn-executor", {t: answer for t in TASKS})


def drive(service, integrations, context_of, timeout=60):
    def step():
        for integration in integrations:
            integration.poll_once()
        runs = [r for r in service.index.runs(context=context_of()) if r["stage"] == "dev"]
        return runs[0] if runs and runs[0]["state"] == "finished" else None
    return wait_until(step, timeout=timeout, interval=0.1, what="the dev delivery to finish")


def evidence(service, context):
    [row] = [e for e in service.index.evaluations() if e["context"] == context]
    return json.loads(service.mirror.read("reconciler/results", row["path"]))


def test_dynatrace_style_slis_are_answered_through_get_sli(service, origin, human_factory):
    use_get_sli(service, origin, human_factory, "30s")
    client = GoUtilsClient(service.url + "/api", "test-token")
    client.http.headers["x-keptn-integration"] = "dynatrace-service"
    client.update_resource("hello", "dev", "helloservice", "dynatrace/sli.yaml", DYNATRACE_SLI)
    asked = []

    def get_sli(event):
        # what dynatrace-service does: answer only for its own name, read its queries
        data = event["data"]
        request = data["get-sli"]
        assert request["sliProvider"] == "dynatrace"
        queries = client.get_resource(data["project"], data["stage"], data["service"], "dynatrace/sli.yaml")
        asked.append((request, queries["resourceContent"]))
        values = {"error_rate": 0.001, "response_time_p95": 420.0, "throughput": 12.0}
        return {"project": data["project"], "stage": data["stage"], "service": data["service"],
                "get-sli": {"start": request["start"], "end": request["end"],
                            "indicatorValues": [{"metric": m, "value": values[m], "success": True}
                                                for m in request["indicators"]]}}

    dynatrace = GoSdkIntegration(client, "dynatrace-service", {"sh.keptn.event.get-sli.triggered": get_sli})
    dynatrace.start()
    tasks = executor(client)
    tasks.start()
    human_factory(origin.url, "dev").change("helloservice/values.yaml", "image: helloservice:9.0.0\nreplicaCount: 1\n")
    context = lambda: next((r["context"] for r in service.index.runs() if r["stage"] == "dev"), None)  # noqa: E731
    run = drive(service, [tasks, dynatrace], context)
    assert (run["result"], run["status"]) == ("pass", "succeeded"), run

    [(request, queries)] = asked
    assert request["indicators"] == ["error_rate", "response_time_p95", "throughput"]
    assert request["start"] < request["end"] and request["customFilters"] == []
    assert "builtin:service.errors.total.rate" in queries
    doc = evidence(service, run["context"])
    assert doc["provider"]["kind"] == "get-sli" and doc["provider"]["answeredBy"] == "dynatrace-service"
    assert doc["result"] == "pass"
    dumped = json.dumps(doc)
    assert "420" in dumped and "0.001" in dumped
    client.close()


def test_a_silent_integration_fails_the_gate_closed_with_the_reason(service, origin, human_factory):
    use_get_sli(service, origin, human_factory, "1s")
    client = GoUtilsClient(service.url + "/api", "test-token")
    tasks = executor(client)
    tasks.start()
    human_factory(origin.url, "dev").change("helloservice/values.yaml", "image: helloservice:9.0.1\nreplicaCount: 1\n")
    context = lambda: next((r["context"] for r in service.index.runs() if r["stage"] == "dev"), None)  # noqa: E731
    run = drive(service, [tasks], context)
    assert run["result"] == "fail" and run["task"] == "evaluation", run
    reason = "no integration answered get-sli for sliProvider 'dynatrace' within 1s"
    assert reason in run["message"]
    doc = evidence(service, run["context"])
    assert doc["result"] == "fail" and reason in json.dumps(doc)
    assert doc["provider"] == {"kind": "get-sli", "sliProvider": "dynatrace", "triggeredId": doc["provider"]["triggeredId"],
                               "answeredBy": None}
    client.close()
