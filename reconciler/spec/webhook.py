"""Keptn webhook-service's `webhook/webhook.yaml` (`webhookconfig.keptn.sh/v1beta1`): the file
model and its templates. Pure; the requests are made by `tasks.webhook`.

```yaml
apiVersion: webhookconfig.keptn.sh/v1beta1
kind: WebhookConfig
metadata: {name: webhook-configuration}
spec:
  webhooks:
    - type: sh.keptn.event.test.triggered
      subscriptionID: 0c0f…            # Keptn's; reconciler matches by `type`
      sendFinished: true               # false: the called system sends the .finished
      sendStarted: true                # default true
      envFrom:
        - name: token
          secretRef: {name: jenkins, key: token}     # RECONCILER_SECRET_JENKINS_TOKEN
      requests:
        - url: https://jenkins.example/job/{{.data.service}}/build
          method: POST                 # POST, PUT, GET, HEAD
          headers: [{key: Authorization, value: "Bearer {{.env.token}}"}]
          payload: '{"stage": "{{.data.stage}}", "context": "{{.shkeptncontext}}"}'
```

Templates are Go `text/template` actions of the form `{{.path.to.value}}` over the event
(`.data.…`, `.id`, `.shkeptncontext`, `.type`, …) and `.env` (the secrets), with Keptn's
`missingkey=error`: a path that leads nowhere is an error naming it, not an empty string.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.spec import yamltext

BETA = "webhookconfig.keptn.sh/v1beta1"
ALPHA = "webhookconfig.keptn.sh/v1alpha1"
METHODS = ("POST", "PUT", "GET", "HEAD")
OPTIONS = ("--insecure", "-k")          # the curl options that mean something without curl
_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_PATH = re.compile(r"^(\.[A-Za-z_][A-Za-z0-9_-]*)+$")


class WebhookConfigError(ValueError):
    """The file cannot be used; the message names the file and the field. `text` is the
    file's content, so a task whose event type it names can fail with this error."""

    def __init__(self, message: str, text: str = ""):
        super().__init__(message)
        self.text = text

    def mentions(self, event_type: str) -> bool:
        return event_type in self.text


class TemplateError(ValueError):
    """A template that cannot be filled in from this event."""


@dataclass(frozen=True)
class Request:
    url: str
    method: str
    headers: tuple[tuple[str, str], ...] = ()
    payload: str = ""
    options: str = ""


@dataclass(frozen=True)
class SecretRef:
    name: str            # the template name: {{.env.<name>}}
    secret: str
    key: str


@dataclass(frozen=True)
class Webhook:
    type: str
    subscription_id: str
    send_finished: bool
    send_started: bool
    env_from: tuple[SecretRef, ...]
    requests: tuple[Request, ...]


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise WebhookConfigError(f"{where} must be a string")
    return str(value)


def parse(text: str | bytes, where: str) -> list[Webhook]:
    """The webhooks of a webhook.yaml; WebhookConfigError with Keptn's checks (version, type,
    requests, url, method, headers) plus ours (templates that parse, options we can honour)."""
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    try:
        return _parse(raw, where)
    except WebhookConfigError as exc:
        raise WebhookConfigError(str(exc), raw) from None


def _parse(text: str, where: str) -> list[Webhook]:
    try:
        doc = yamltext.load(text)
    except Exception as exc:  # noqa: BLE001 - any YAML error is the file's fault
        raise WebhookConfigError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise WebhookConfigError(f"{where}: must be a WebhookConfig mapping")
    version = doc.get("apiVersion")
    if version == ALPHA:
        raise WebhookConfigError(f"{where}: apiVersion {ALPHA} (curl command strings) is not supported; "
                                 f"write the requests as {BETA} (url, method, headers, payload)")
    if version != BETA:
        raise WebhookConfigError(f"{where}: unsupported webhook configuration version {version!r} (use {BETA})")
    spec = doc.get("spec")
    hooks = spec.get("webhooks") if isinstance(spec, dict) else None
    if not isinstance(hooks, list) or not hooks:
        raise WebhookConfigError(f"{where}: missing 'spec.webhooks[]'")
    out = []
    for i, hook in enumerate(hooks):
        at = f"{where}: spec.webhooks[{i}]"
        if not isinstance(hook, dict):
            raise WebhookConfigError(f"{at} must be a mapping")
        event_type = _str(hook.get("type"), f"{at}.type")
        if not event_type:
            raise WebhookConfigError(f"{at}.type is missing")
        requests = hook.get("requests")
        if not isinstance(requests, list) or not requests:
            raise WebhookConfigError(f"{at}.requests[] is missing")
        started = hook.get("sendStarted")
        env_from = []
        for j, ref in enumerate(hook.get("envFrom") or []):
            secret = ref.get("secretRef") if isinstance(ref, dict) else None
            if not isinstance(secret, dict) or not ref.get("name") or not secret.get("name") or not secret.get("key"):
                raise WebhookConfigError(f"{at}.envFrom[{j}] needs name and secretRef.name/key")
            env_from.append(SecretRef(str(ref["name"]), str(secret["name"]), str(secret["key"])))
        out.append(Webhook(event_type, _str(hook.get("subscriptionID"), f"{at}.subscriptionID"),
                           hook.get("sendFinished") is True, started is not False, tuple(env_from),
                           tuple(_request(r, f"{at}.requests[{j}]") for j, r in enumerate(requests))))
    return out


def _request(raw: Any, at: str) -> Request:
    if isinstance(raw, str):
        raise WebhookConfigError(f"{at} is a curl command string ({ALPHA}); write url/method/headers/payload")
    if not isinstance(raw, dict):
        raise WebhookConfigError(f"{at} must be a mapping")
    url, method = _str(raw.get("url"), f"{at}.url"), _str(raw.get("method"), f"{at}.method")
    if not url:
        raise WebhookConfigError(f"{at}: webhook request URL empty")
    if method not in METHODS:
        raise WebhookConfigError(f"{at}: unsupported webhook request method {method!r} ({', '.join(METHODS)})")
    headers = []
    for k, header in enumerate(raw.get("headers") or []):
        key = _str(header.get("key") if isinstance(header, dict) else None, f"{at}.headers[{k}].key")
        value = _str(header.get("value") if isinstance(header, dict) else None, f"{at}.headers[{k}].value")
        if not key or not value:
            raise WebhookConfigError(f"{at}.headers[{k}]: webhook request header or value empty")
        headers.append((key, value))
    options = _str(raw.get("options"), f"{at}.options")
    unknown = [o for o in options.split() if o not in OPTIONS]
    if unknown:
        raise WebhookConfigError(f"{at}.options: {' '.join(unknown)} not supported (only {', '.join(OPTIONS)}); "
                                 "reconciler makes the request itself, without curl")
    request = Request(url, method, tuple(headers), _str(raw.get("payload"), f"{at}.payload"), options)
    for text in (request.url, request.payload, *(v for pair in request.headers for v in pair)):
        for action in _ACTION.findall(text):
            if not _PATH.match(action):
                raise WebhookConfigError(f"{at}: template action {{{{{action}}}}} is not supported (only "
                                         "{{.path.to.value}})")
    return request


def find(webhooks: list[Webhook], event_type: str) -> Webhook | None:
    return next((w for w in webhooks if w.type == event_type), None)


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill every `{{.a.b}}` from `values`; TemplateError naming the first path that is missing."""
    def fill(match: re.Match[str]) -> str:
        path = match.group(1)
        node: Any = values
        for part in path.split(".")[1:]:
            if not isinstance(node, Mapping) or part not in node:
                raise TemplateError(f"map has no entry for key {part!r} (in {{{{{path}}}}})")
            node = node[part]
        if isinstance(node, str):
            return node
        if isinstance(node, bool):
            return "true" if node else "false"
        if node is None:
            return "<no value>"
        return json.dumps(node, separators=(",", ":")) if isinstance(node, (dict, list)) else str(node)
    return _ACTION.sub(fill, template)
