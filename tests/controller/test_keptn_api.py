"""Issue 11: an unmodified Keptn integration (go-utils / go-sdk protocol) connects, polls,
answers, reads and writes resources, and drives a sequence to the end."""
from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import main as cli
from reconciler.controller.executors import NoExecutors
from reconciler.controller.index import Index
from reconciler.gitstore import Mirror
from reconciler.gitstore.trailers import parse as parse_trailers
from tests.support.controller import wait_until
from tests.support.keptn_go_client import GoSdkIntegration, GoUtilsClient, KeptnError, integration_model

TASKS = ["sh.keptn.event.deployment.triggered", "sh.keptn.event.test.triggered",
         "sh.keptn.event.evaluation.triggered", "sh.keptn.event.release.triggered"]


@pytest.fixture
def remote_kind():
    return "file"


class ExternalExecutors(NoExecutors):
    """Every task is left to external integrations; promotions land as in production."""

    def promote(self, command, env):
        from reconciler.tasks.promotion import promote
        return promote(command, env)


@pytest.fixture
def service(origin, service_factory):
    return service_factory(origin.url, poll=0, watch=True, executors=ExternalExecutors())


@pytest.fixture
def client(service):
    c = GoUtilsClient(service.url + "/api", "test-token")
    yield c
    c.close()


def push_change(human_factory, origin, image: str) -> str:
    return human_factory(origin.url, "dev").change("helloservice/values.yaml",
                                                   f"image: helloservice:{image}\nreplicaCount: 1\n", image)


def test_registration_ping_list_and_delete(client, service):
    integration = integration_model("job-executor-service", TASKS[:1])
    new_id = client.register_integration(integration)
    assert len(new_id) == 40                                   # Keptn: sha1(name-namespace-hostname)
    assert client.requests[-1].url.path == "/api/controlPlane/v1/uniform/registration"
    assert client.register_integration(integration) == new_id  # known by name+namespace: same id, 200

    pinged = client.ping(new_id)
    assert client.requests[-1].method == "PUT" and client.requests[-1].content == b""
    assert [s["event"] for s in pinged["subscriptions"]] == TASKS[:1]
    assert pinged["subscriptions"][0]["id"]                    # the control plane gives subscription ids
    assert pinged["metadata"]["lastseen"].startswith("20")

    sub_id = client.create_subscription(new_id, {"event": "sh.keptn.event.test.triggered",
                                                 "filter": {"projects": ["hello"], "stages": ["dev"]}})
    assert {s["id"] for s in client.ping(new_id)["subscriptions"]} >= {sub_id}
    with pytest.raises(KeptnError) as refused:                 # Keptn: services need stages
        client.create_subscription(new_id, {"event": "x", "filter": {"services": ["a"]}})
    assert refused.value.status == 400

    assert [i["id"] for i in client.get_registrations()] == [new_id]
    client.unregister_integration(new_id)
    assert client.get_registrations() == []
    with pytest.raises(KeptnError) as gone:
        client.ping(new_id)
    assert gone.value.status == 404                            # go-sdk retries, then stops


def test_the_token_is_required_and_errors_are_keptn_models(service):
    bad = GoUtilsClient(service.url + "/api", "wrong")
    with pytest.raises(KeptnError) as refused:                 # would raise TypeError for a string code
        bad.register_integration(integration_model("x", []))
    assert refused.value.status == 401
    bad.close()


def test_a_go_sdk_integration_drives_the_dev_delivery_to_the_end(service, client, origin, human_factory, tmp_path):
    read: list[str] = []

    def deploy(event):
        data = event["data"]
        config = client.get_resource(data["project"], data["stage"], data["service"], "values.yaml")
        read.append(config["resourceContent"])
        return {"project": data["project"], "stage": data["stage"], "service": data["service"],
                "deployment": {"deploymentURIsLocal": ["http://helloservice:8080"], "deploymentstrategy": "direct"},
                "temporaryData": {"deployer": {"jobId": "42"}}}

    def answer(event):
        data = event["data"]
        return {"project": data["project"], "stage": data["stage"], "service": data["service"]}

    sdk = GoSdkIntegration(client, "keptn-fake-executor", {t: (deploy if "deployment" in t else answer) for t in TASKS})
    sdk.start()
    # like Bridge's subscription editor: this integration handles dev only
    for sub in list(sdk.subscriptions):
        client._write("PUT", f"{client.control_plane}/v1/uniform/registration/{sdk.id}/subscription/{sub['id']}",
                      json.dumps({"event": sub["event"], "filter": {"projects": ["hello"], "stages": ["dev"]}}).encode())

    push_change(human_factory, origin, "7.1.0")
    run = wait_until(lambda: [r for r in service.index.runs() if r["stage"] == "dev"], what="the dev run")[0]

    def step():
        sdk.poll_once()
        dev = [r for r in service.index.runs(context=run["context"]) if r["stage"] == "dev"][0]
        return dev if dev["state"] == "finished" else None

    finished = wait_until(step, timeout=60, interval=0.1, what="the dev delivery to finish")
    assert (finished["result"], finished["status"]) == ("pass", "succeeded")
    assert [e["type"] for e in sdk.handled] == TASKS
    assert "helloservice:7.1.0" in read[0]
    first = sdk.handled[0]
    assert first["data"]["temporaryData"]["distributor"]["subscriptionID"]
    # what the deployment reported travels on to the next task, temporaryData included
    test_data = sdk.handled[1]["data"]
    assert test_data["deployment"]["deploymentURIsLocal"] == ["http://helloservice:8080"]
    assert test_data["temporaryData"]["deployer"] == {"jobId": "42"}
    assert test_data["test"]["teststrategy"] == "functional"
    # the staging delivery that followed is not this integration's (stage filter): it stays open
    staging = wait_until(lambda: [r for r in service.index.runs(context=run["context"]) if r["stage"] == "staging"],
                         what="the staging run")[0]
    assert staging["state"] != "finished", staging
    wait_until(lambda: client.get_open_triggered_events("sh.keptn.event.deployment.triggered", project="hello",
                                                        stage="staging"), what="staging's open deployment")
    assert sdk.poll_once() == 0
    # the events the integration sent are in the event log, answering the triggered ones
    events = service.index.events(context=run["context"], limit=1000)
    sources = {e["source"] for e in events if e["type"].startswith("sh.keptn.event.deployment.")}
    assert "keptn-fake-executor" in sources
    # the event log orders by the engine's order number: every answer before the reaction to it
    story = [e["type"].removeprefix("sh.keptn.event.") for e in reversed(events) if e["data"].get("stage") == "dev"]
    for done, then in (("deployment.finished", "test.triggered"), ("test.finished", "evaluation.triggered"),
                       ("evaluation.finished", "release.triggered"), ("release.finished", "dev.delivery.finished")):
        assert story.index(done) < story.index(then), story
    # the order is part of the record: an index rebuilt from Git lists the same events in the same order
    rebuilt = Index(tmp_path / "rebuilt.sqlite")
    rebuilt.sync(service.journal)
    assert [e["id"] for e in rebuilt.events(context=run["context"], limit=1000)] == [e["id"] for e in events]
    rebuilt.close()


def test_polling_filters_and_pages_like_keptn(service, client, origin, human_factory):
    push_change(human_factory, origin, "7.2.0")
    wait_until(lambda: service.index.runs(), what="the run")
    event_type = "sh.keptn.event.deployment.triggered"
    found = client.get_open_triggered_events(event_type, project="hello", stage="dev", service="helloservice")
    assert len(found) == 1 and found[0]["data"]["stage"] == "dev"
    assert found[0]["data"]["deployment"]["deploymentstrategy"] == "direct"
    assert client.get_open_triggered_events(event_type, stage="staging") == []
    with pytest.raises(KeptnError) as unknown:
        client.get_open_triggered_events(event_type, project="other")
    assert unknown.value.status == 404

    base = f"{service.url}/api/controlPlane/v1/event/triggered/{event_type}"
    h = {"x-token": "test-token"}
    page = httpx.get(base, params={"pageSize": "1"}, headers=h).json()
    assert (page["totalCount"], page["nextPageKey"], len(page["events"])) == (1, "0", 1)
    by_id = httpx.get(base, params={"eventID": found[0]["id"]}, headers=h).json()
    assert [e["id"] for e in by_id["events"]] == [found[0]["id"]]
    assert httpx.get(base, params={"eventID": "nope"}, headers=h).json()["events"] == []
    assert httpx.get(base, params={"pageSize": "51"}, headers=h).status_code == 400


def test_resources_are_read_from_stage_branches_and_written_as_commits(service, client, origin):
    values = client.get_resource("hello", "dev", "helloservice", "values.yaml")
    assert "image:" in values["resourceContent"] and values["metadata"]["branch"] == "dev"
    assert client.requests[-1].url.raw_path.endswith(b"/service/helloservice/resource/values.yaml")
    shipyard = client.get_resource("hello", resource="shipyard.yaml")
    assert "kind: Shipyard" in shipyard["resourceContent"]
    job = client.get_resource("hello", "dev", "helloservice", "job/config.yaml")
    assert b"job%2Fconfig.yaml" in client.requests[-1].url.raw_path and "actions:" in job["resourceContent"]
    assert client.get_resource("hello", "dev", "helloservice", "missing.yaml") is None      # 404
    assert client.get_resource("hello", "nostage", "helloservice", "values.yaml") is None
    with pytest.raises(KeptnError):
        client.get_resource("hello", "dev", "helloservice", "../secrets")

    runs_before = len(service.index.runs())
    client.http.headers["x-keptn-integration"] = "job-executor-service"
    version = client.update_resource("hello", "dev", "helloservice", "dynatrace/sli.yaml", "spec_version: '1.0'\n")
    origin_repo = Mirror(origin.url, service.workdir / "check")
    origin_repo.fetch()
    commit = origin_repo.commit(version)
    assert origin_repo.read(version, "helloservice/dynatrace/sli.yaml") == b"spec_version: '1.0'\n"
    assert commit.author.name == "job-executor-service"
    assert parse_trailers(commit.message).get("Reconciler-Skip") == "true"
    wait_until(lambda: client.get_resource("hello", "dev", "helloservice", "dynatrace/sli.yaml"), what="the new file")
    old = client.get_resource("hello", "dev", "helloservice", "values.yaml", git_commit_id=values["metadata"]["version"])
    assert old["resourceContent"] == values["resourceContent"]
    assert len(service.index.runs()) == runs_before             # a resource write starts no sequence


def test_logs_and_status_show_the_integration_and_survive_a_restart(origin, service_factory, tmp_path):
    first = service_factory(origin.url, name="w", poll=0, watch=False)
    c = GoUtilsClient(first.url + "/api", "test-token")
    sdk = GoSdkIntegration(c, "dynatrace-service", {"sh.keptn.event.get-sli.triggered": lambda e: {}})
    sdk.start()
    c.log([{"integrationid": sdk.id, "message": "could not reach Dynatrace", "time": "0001-01-01T00:00:00Z",
            "shkeptncontext": "", "task": "get-sli", "triggeredid": "", "gitcommitid": ""}])
    logs = httpx.get(first.url + "/api/controlPlane/v1/log", headers={"x-token": "test-token"}).json()["logs"]
    assert logs[0]["message"] == "could not reach Dynatrace"
    c.close()
    first.stop()

    second = service_factory(origin.url, name="w", poll=0, watch=False)
    c = GoUtilsClient(second.url + "/api", "test-token")
    assert c.ping(sdk.id)["name"] == "dynatrace-service"       # registrations outlive a restart
    status = httpx.get(second.url + "/api/v1/status", headers={"x-token": "test-token"}).json()
    [entry] = status["integrations"]
    assert entry["name"] == "dynatrace-service" and entry["lastseen"]
    assert entry["subscriptions"][0]["event"] == "sh.keptn.event.get-sli.triggered"
    with httpx.Client(follow_redirects=True) as browser:      # the web UI's config page (Bridge's integrations view)
        page = browser.get(second.url + "/config", params={"token": "test-token"})
    assert page.status_code == 200 and "dynatrace-service" in page.text
    c.close()
    second.stop()

    text = CliRunner().invoke(cli, ["status", "--workdir", str(tmp_path / "w")])
    assert text.exit_code == 0, text.output
    assert "integrations:" in text.output and "dynatrace-service" in text.output
    as_json = CliRunner().invoke(cli, ["status", "--workdir", str(tmp_path / "w"), "-o", "json"])
    assert json.loads(as_json.output)["integrations"][0]["id"] == sdk.id
