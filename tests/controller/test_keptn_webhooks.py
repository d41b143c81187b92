"""Issue 11: webhook-service's webhook.yaml (v1beta1) as tasks: templated URL, headers and
payload from the event, a secret from the environment, sendFinished/sendStarted."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from reconciler.controller.executors import NoExecutors
from reconciler.tasks import registry
from tests.support.controller import wait_until
from tests.support.keptn_go_client import GoSdkIntegration, GoUtilsClient

SECRET = "s3cr3t-jenkins-9f2"
OTHER_TASKS = ["sh.keptn.event.deployment.triggered", "sh.keptn.event.evaluation.triggered",
               "sh.keptn.event.release.triggered"]


class WebhooksOnly(NoExecutors):
    """Only the webhook executor is built in; the other tasks are a Keptn integration's."""

    def __init__(self):
        self.registry = registry.Registry(jobs=False)

    def executors_for(self, request, env):
        return [e for e in self.registry.executors_for(request, env) if e.name == "webhook"]

    def promote(self, command, env):
        from reconciler.tasks.promotion import promote
        return promote(command, env)


@pytest.fixture
def remote_kind():
    return "file"


@pytest.fixture
def target():
    """A stand-in for Jenkins on 127.0.0.1: records each request, answers JSON."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append({"path": self.path, "headers": dict(self.headers), "body": body.decode()})
            answer = json.dumps({"queued": True, "build": len(seen)}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def service(origin, service_factory):
    return service_factory(origin.url, poll=0, watch=True, executors=WebhooksOnly(),
                           environ={"RECONCILER_SECRET_JENKINS_TOKEN": SECRET})


def webhook_yaml(url: str, send_finished: bool, send_started: bool = True) -> str:
    return f"""apiVersion: webhookconfig.keptn.sh/v1beta1
kind: WebhookConfig
metadata:
  name: webhook-configuration
spec:
  webhooks:
    - type: sh.keptn.event.test.triggered
      subscriptionID: 3c3d6a9e-0000-4000-8000-000000000001
      sendFinished: {str(send_finished).lower()}
      sendStarted: {str(send_started).lower()}
      envFrom:
        - name: token
          secretRef: {{name: jenkins, key: token}}
      requests:
        - url: {url}/job/{{{{.data.service}}}}/build?stage={{{{.data.stage}}}}
          method: POST
          headers:
            - {{key: Authorization, value: "Bearer {{{{.env.token}}}}"}}
            - {{key: Content-Type, value: application/json}}
          payload: '{{"context": "{{{{.shkeptncontext}}}}", "triggeredid": "{{{{.id}}}}", "strategy": "{{{{.data.test.teststrategy}}}}"}}'
"""


def others(client):
    def answer(event):
        d = event["data"]
        out = {"project": d["project"], "stage": d["stage"], "service": d["service"]}
        if event["type"] == "sh.keptn.event.evaluation.triggered":
            out["evaluation"] = {"result": "pass", "score": 100}
        return out
    sdk = GoSdkIntegration(client, "keptn-executor", {t: answer for t in OTHER_TASKS})
    sdk.start()
    return sdk


def dev_run(service, context=None):
    runs = [r for r in service.index.runs(context=context) if r["stage"] == "dev"]
    return runs[0] if runs else None


def test_a_webhook_task_calls_the_target_with_templated_data_and_a_secret(service, origin, human_factory, target):
    url, seen = target
    client = GoUtilsClient(service.url + "/api", "test-token")
    human_factory(origin.url, "dev").change("helloservice/webhook/webhook.yaml", webhook_yaml(url, True), "webhook")
    sdk = others(client)
    human_factory(origin.url, "dev").change("helloservice/values.yaml", "image: helloservice:5.0.0\nreplicaCount: 1\n")
    run = wait_until(lambda: dev_run(service), what="the dev run")

    def finished():
        sdk.poll_once()
        current = dev_run(service, run["context"])
        return current if current["state"] == "finished" else None
    done = wait_until(finished, timeout=60, interval=0.1, what="the delivery to finish")
    assert (done["result"], done["status"]) == ("pass", "succeeded"), done

    [call] = seen
    assert call["path"] == "/job/helloservice/build?stage=dev"
    assert call["headers"]["Authorization"] == f"Bearer {SECRET}"
    body = json.loads(call["body"])
    assert body["context"] == run["context"] and body["strategy"] == "functional"
    events = service.index.events(context=run["context"], limit=1000)
    [test_finished] = [e for e in events if e["type"] == "sh.keptn.event.test.finished"]
    assert test_finished["source"] == "reconciler/webhook"
    assert test_finished["data"]["test"]["responses"] == [{"queued": True, "build": 1}]
    assert body["triggeredid"] == test_finished["triggeredid"]
    assert any(e["type"] == "sh.keptn.event.test.started" for e in events)
    assert SECRET not in json.dumps(events)
    client.close()


def test_send_finished_false_leaves_the_finished_to_the_called_system(service, origin, human_factory, target):
    url, seen = target
    client = GoUtilsClient(service.url + "/api", "test-token")
    human_factory(origin.url, "dev").change("helloservice/webhook/webhook.yaml",
                                            webhook_yaml(url, False, send_started=False), "webhook")
    sdk = others(client)
    human_factory(origin.url, "dev").change("helloservice/values.yaml", "image: helloservice:5.0.1\nreplicaCount: 1\n")
    run = wait_until(lambda: dev_run(service), what="the dev run")

    def called():
        sdk.poll_once()
        return seen[:]
    [call] = wait_until(called, timeout=60, interval=0.1, what="the webhook call")
    body = json.loads(call["body"])
    current = dev_run(service, run["context"])
    assert current["task"] == "test" and current["state"] == "started"
    events = service.index.events(context=run["context"], limit=1000)
    assert not [e for e in events if e["type"].startswith("sh.keptn.event.test.") and e["source"] == "reconciler/webhook"]
    # Jenkins answers through Keptn's API with the triggeredid it was given
    r = httpx.post(service.url + "/api/v1/event", headers={"x-token": "test-token"}, json={
        "type": "sh.keptn.event.test.finished", "source": "jenkins", "shkeptncontext": body["context"],
        "triggeredid": body["triggeredid"],
        "data": {"project": "hello", "stage": "dev", "service": "helloservice", "result": "pass", "status": "succeeded"}})
    assert r.status_code == 202, r.text

    def finished():
        sdk.poll_once()
        current = dev_run(service, run["context"])
        return current if current["state"] == "finished" else None
    done = wait_until(finished, timeout=60, interval=0.1, what="the delivery to finish")
    assert done["result"] == "pass"
    client.close()
