"""webhook.yaml (webhookconfig.keptn.sh/v1beta1): what is accepted, what is refused, templates."""
from __future__ import annotations

import pytest

from reconciler.spec import webhook

GOOD = """apiVersion: webhookconfig.keptn.sh/v1beta1
kind: WebhookConfig
metadata: {name: webhook-configuration}
spec:
  webhooks:
    - type: sh.keptn.event.test.triggered
      subscriptionID: abc
      sendFinished: true
      requests:
        - url: "https://chat.example/hooks/{{.env.room}}"
          method: POST
          headers: [{key: X-Context, value: "{{ .shkeptncontext }}"}]
          payload: '{"text": "{{.data.service}} in {{.data.stage}}: {{.data.labels}}"}'
"""


def test_a_v1beta1_file_parses_and_renders():
    [hook] = webhook.parse(GOOD, "dev:svc/webhook/webhook.yaml")
    assert (hook.type, hook.send_finished, hook.send_started) == ("sh.keptn.event.test.triggered", True, True)
    values = {"shkeptncontext": "ctx", "data": {"service": "svc", "stage": "dev", "labels": {"a": "b"}},
              "env": {"room": "ops"}}
    req = hook.requests[0]
    assert webhook.render(req.url, values) == "https://chat.example/hooks/ops"
    assert webhook.render(req.headers[0][1], values) == "ctx"
    assert webhook.render(req.payload, values) == '{"text": "svc in dev: {"a":"b"}"}'
    assert webhook.find([hook], "sh.keptn.event.other.triggered") is None


def test_a_missing_key_is_an_error_as_with_keptns_missingkey_error():
    with pytest.raises(webhook.TemplateError, match="no entry for key 'nope'"):
        webhook.render("{{.data.nope}}", {"data": {}})


@pytest.mark.parametrize("change, error", [
    (("v1beta1", "v1alpha1"), "not supported"),
    (("method: POST", "method: DELETE"), "unsupported webhook request method"),
    (("{{.env.room}}", "{{ .env.room | upper }}"), "template action"),
    (("method: POST", "method: POST\n          options: --output /etc/x"), "--output /etc/x not supported"),
    (("    - type: sh.keptn.event.test.triggered\n", "    - subscriptionID: x\n"), "type is missing"),
])
def test_what_the_webhook_service_refused_is_refused_with_the_field(change, error):
    with pytest.raises(webhook.WebhookConfigError, match=error) as refused:
        webhook.parse(GOOD.replace(*change, 1), "dev:svc/webhook/webhook.yaml")
    assert "dev:svc/webhook/webhook.yaml" in str(refused.value)


def test_a_broken_file_knows_which_event_types_it_names():
    with pytest.raises(webhook.WebhookConfigError) as refused:
        webhook.parse(GOOD.replace("method: POST", "method: DELETE"), "x")
    assert refused.value.mentions("sh.keptn.event.test.triggered")
    assert not refused.value.mentions("sh.keptn.event.deployment.triggered")
