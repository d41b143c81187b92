"""Keptn webhook-service as a built-in executor: a task answered by HTTP requests described in
`webhook/webhook.yaml` (v1beta1, see `spec.webhook`), so Keptn users' Slack, Jira and Jenkins
hooks keep working without the service.

Where the file is read (the first that has a webhook for the event type wins, as the
webhook-service looked): `<service>/webhook/webhook.yaml` on the stage branch, the stage
branch's `webhook/webhook.yaml`, then the default branch's. Secrets (`envFrom`) come from the
controller's environment: `secretRef {name: jenkins, key: token}` is
`RECONCILER_SECRET_JENKINS_TOKEN` (as for jobs). Every secret value is replaced by `***` in
what the task reports.

Semantics of Keptn's flags:
* `sendFinished: true`: the requests run in order; the task's `.finished` carries
  `data.<task>.responses` (each decoded as JSON when it is JSON); a request that fails (no
  answer, a status >= 400) ends the task errored, naming it.
* `sendFinished: false`: the requests run and reconciler sends no `.finished`: the called
  system answers through `POST /api/v1/event` (a `.finished` alone completes the task), and
  until then the task's `.triggered` timeout applies. A request that fails still ends the
  task errored at once (Keptn sent one errored `.finished` per request not made).
* `sendStarted: false`: no `.started` is recorded for the webhook (Keptn's default is true).

Limits (Keptn's curl had its own): http(s) only; methods POST, PUT, GET, HEAD; no redirects
followed; `spec.webhooks.timeout`-free: 30 s per request; 10 requests per webhook; answers kept
up to 64 KiB each; the Kubernetes API (KUBERNETES_SERVICE_HOST/PORT) is denied as in Keptn.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler import layout
from reconciler.spec import webhook as spec
from reconciler.tasks.base import Detached, TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import config_commit, read_text

TIMEOUT = 30.0
MAX_REQUESTS = 10
MAX_ANSWER = 64 * 1024


def find_webhook(request: TaskRequest, env: TaskEnv) -> tuple[spec.Webhook, str] | None:
    """The webhook for this task's `.triggered` type and the file it came from; raises
    spec.WebhookConfigError for a file that cannot be used."""
    ref = config_commit(request, env)
    default = env.default_branch
    project_ref = env.mirror.tip(default) if default else None
    for level, path in layout.webhook_config_paths(request.service):
        rev, branch = (project_ref, default) if level == "project" else (ref, request.stage)
        if rev is None:
            continue
        text = read_text(env.mirror, rev, path)
        if text is None:
            continue
        hook = spec.find(spec.parse(text, f"{branch}:{path}"), request.event.type)
        if hook is not None:
            return hook, f"{branch}:{path}"
    return None


def _denied(url: str, environ: Mapping[str, str]) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"URL {url!r} is not http(s)"
    host, port = environ.get("KUBERNETES_SERVICE_HOST", ""), environ.get("KUBERNETES_SERVICE_PORT", "")
    denied = [host] if host else []
    if port:
        denied += [f"kubernetes:{port}", f"kubernetes.default:{port}", f"kubernetes.default.svc:{port}",
                   f"kubernetes.default.svc.cluster.local:{port}"]
    return next((f"URL {url!r} is denied ({d}: the Kubernetes API)" for d in denied if d and d in url), None)


def _redact(text: str, secrets: list[str]) -> str:
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    return text


class WebhookExecutor:
    name = "webhook"

    def __init__(self, hook: spec.Webhook | None = None, source: str = ""):
        self.hook = hook
        self.source = source
        self.started_on_dispatch = hook.send_started if hook is not None else True

    def applies(self, request: TaskRequest, env: TaskEnv) -> bool:
        try:
            return find_webhook(request, env) is not None
        except spec.WebhookConfigError as exc:
            # a broken file answers (fails) the tasks it names, so the error is seen there
            return exc.mentions(request.event.type)

    def for_request(self, request: TaskRequest, env: TaskEnv) -> WebhookExecutor:
        """An executor bound to the webhook this task uses (its sendStarted decides whether the
        controller records a `.started` at dispatch)."""
        try:
            found = find_webhook(request, env)
        except spec.WebhookConfigError:
            return self
        return WebhookExecutor(*found) if found else self

    def run(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome | Detached:
        try:
            found = (self.hook, self.source) if self.hook is not None else find_webhook(request, env)
        except spec.WebhookConfigError as exc:
            return TaskOutcome.errored(f"could not retrieve Webhook config: {exc}")
        if found is None:
            return TaskOutcome.errored("could not retrieve Webhook config: no valid webhook config found")
        hook, source = found
        secrets: dict[str, str] = {}
        from reconciler.tasks.jobs.local_runner import secret_from_environ
        from reconciler.tasks.jobs.plan import PlanError
        for ref in hook.env_from:
            try:
                value = secret_from_environ(ref.secret, env.environ).get(ref.key.upper().replace("-", "_"))
            except PlanError:
                value = None
            if value is None:
                return TaskOutcome.errored(f"could not read secret {ref.secret}.{ref.key} (set "
                                           f"RECONCILER_SECRET_{ref.secret.upper().replace('-', '_')}_"
                                           f"{ref.key.upper().replace('-', '_')}) for the webhook in {source}")
            secrets[ref.name] = value
        hidden = list(secrets.values())
        values = dict(request.event.to_dict(), env=secrets)
        if len(hook.requests) > MAX_REQUESTS:
            return TaskOutcome.errored(f"the webhook in {source} has {len(hook.requests)} requests; at most "
                                       f"{MAX_REQUESTS} are made")
        responses: list[Any] = []
        for i, req in enumerate(hook.requests):
            try:
                url = spec.render(req.url, values)
                headers = [(spec.render(k, values), spec.render(v, values)) for k, v in req.headers]
                payload = spec.render(req.payload, values)
            except spec.TemplateError as exc:
                return TaskOutcome.errored(_redact(f"could not parse request {i} of the webhook in {source}: {exc}",
                                                   hidden))
            denied = _denied(url, env.environ)
            if denied:
                return TaskOutcome.errored(_redact(f"request {i} of the webhook in {source}: {denied}", hidden))
            try:
                with httpx.Client(timeout=TIMEOUT, follow_redirects=False,
                                  verify=not any(o in spec.OPTIONS for o in req.options.split())) as client:
                    answer = client.request(req.method, url, headers=headers,
                                            content=payload.encode() if payload else None)
                body = answer.content[:MAX_ANSWER].decode("utf-8", "replace")
            except httpx.HTTPError as exc:
                return TaskOutcome.errored(_redact(f"could not execute request {i} ({req.method} {url}) of the "
                                                   f"webhook in {source}: {type(exc).__name__}: {exc}", hidden))
            if answer.status_code >= 400:
                return TaskOutcome.errored(_redact(f"request {i} ({req.method} {url}) of the webhook in {source} "
                                                   f"failed with {answer.status_code}: {body[:500]}", hidden))
            try:
                responses.append(json.loads(body) if body else body)
            except ValueError:
                responses.append(_redact(body, hidden))
        if not hook.send_finished:
            return Detached(f"{len(responses)} webhook request(s) sent; the called system sends the .finished")
        return TaskOutcome(result="pass", data={request.task: {"responses": _scrub(responses, hidden)}})


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return _redact(value, secrets)
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value
