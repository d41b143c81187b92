"""Keptn 1.4.5's control-plane API for unmodified integrations, under `/api`.

With `KEPTN_API_ENDPOINT=http://host/api` and `KEPTN_API_TOKEN` set to the API token, go-sdk
and the distributor (job-executor-service, webhook-service, dynatrace-service, …) connect as
they did to Keptn. Paths, query parameters, status codes and bodies follow Keptn's swagger
and go-utils (`pkg/api/utils/v2`):

Routes (all under `/api`, `{reg}` = `controlPlane/v1/uniform/registration`):

* `POST {reg}` — register → 201 `{id}` (200 when already known); `GET {reg}` — the
  registrations (filters `id`, `name`, `namespace`, `hostname`, `project`, `stage`, `service`);
* `PUT {reg}/{id}/ping` — heartbeat → the Integration with its subscriptions;
  `DELETE {reg}/{id}` — unregister; `{reg}/{id}/subscription[/{sid}]` — subscriptions;
* `GET controlPlane/v1/event/triggered/{eventType}` — open `.triggered` events (`project`,
  `stage`, `service`, `eventID`, `pageSize`, `nextPageKey`) → `models.Events`;
* `POST|GET controlPlane/v1/log` — error logs forwarded by go-sdk;
* `GET|PUT|POST|DELETE resource-service/v1/project/{p}[/stage/{s}[/service/{svc}]]/resource[/{uri}]`
  — files of the config repo (base64 `resourceContent`).

(`POST /api/v1/event` is in `server.app`.) Auth is the API token as `x-token`. Errors are
Keptn's `models.Error` `{code: <status>, message}`, which go-utils decodes.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from reconciler.controller.index import Index
from reconciler.controller.integrations import Integrations
from reconciler.controller.resources import ResourceError, Resources, Scope, clean_uri
from reconciler.controller.sidetasks import SideTasks
from reconciler.engine import uniform
from reconciler.server import jsonbody
from reconciler.server.auth import token_ok

ACTIVE_STATES = ("started", "waitingForApproval", "paused")
MAX_BODY = 8 * 1024 * 1024          # resource uploads are base64 files


@dataclass
class KeptnBackend:
    integrations: Integrations
    resources: Resources | None
    project: Callable[[], str]
    sidetasks: SideTasks | None = None      # questions outside sequences (get-sli)


BACKEND = web.AppKey("keptn_backend", KeptnBackend)
INDEX = web.AppKey("keptn_index", Index)
TOKEN = web.AppKey("keptn_token", str)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, default=str))


def keptn_error(status: int, message: str) -> web.Response:
    """Keptn's `models.Error`: an integer code (go-utils fails to decode anything else)."""
    return _json({"code": status, "message": message}, status)


def _authorised(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if not token_ok(request.headers, request.app[TOKEN]):
            return keptn_error(401, "missing or invalid x-token")
        return await handler(request)
    return wrapper


async def _body(request: web.Request) -> Any:
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ValueError(f"the body is larger than {MAX_BODY} bytes")
    return jsonbody.loads(raw) if raw.strip() else None      # BodyError is a ValueError: 400


# -- uniform registration --------------------------------------------------------------------

@_authorised
async def register(request: web.Request) -> web.Response:
    try:
        new_id, created = request.app[BACKEND].integrations.register(await _body(request))
    except ValueError as exc:
        return keptn_error(400, str(exc))
    return _json({"id": new_id}, 201 if created else 200)


@_authorised
async def list_registrations(request: web.Request) -> web.Response:
    q = request.query
    keys = ("id", "name", "namespace", "hostname", "project", "stage", "service")
    return _json(request.app[BACKEND].integrations.registrations(**{k: q.get(k, "") for k in keys}))


@_authorised
async def ping(request: web.Request) -> web.Response:
    integration_id = request.match_info["id"]
    found = request.app[BACKEND].integrations.ping(integration_id)
    if found is None:
        return keptn_error(404, f"no integration with id {integration_id}")
    return _json(found)


@_authorised
async def unregister(request: web.Request) -> web.Response:
    request.app[BACKEND].integrations.unregister(request.match_info["id"])
    return _json({})


@_authorised
async def put_subscription(request: web.Request) -> web.Response:
    integrations = request.app[BACKEND].integrations
    try:
        sub_id = integrations.put_subscription(request.match_info["id"], await _body(request),
                                               request.match_info.get("sid"))
    except ValueError as exc:
        return keptn_error(400, str(exc))
    if sub_id is None:
        return keptn_error(404, f"no integration with id {request.match_info['id']}")
    return _json({"id": sub_id}, 201)


@_authorised
async def get_subscriptions(request: web.Request) -> web.Response:
    found = request.app[BACKEND].integrations.get(request.match_info["id"])
    if found is None:
        return keptn_error(404, f"no integration with id {request.match_info['id']}")
    subs = found.get("subscriptions") or []
    sid = request.match_info.get("sid")
    if sid is None:
        return _json(subs)
    match = next((s for s in subs if s.get("id") == sid), None)
    return _json(match) if match else keptn_error(404, f"no subscription with id {sid}")


@_authorised
async def delete_subscription(request: web.Request) -> web.Response:
    request.app[BACKEND].integrations.delete_subscription(request.match_info["id"], request.match_info["sid"])
    return _json({})


# -- triggered events ----------------------------------------------------------------------

def open_triggered_events(index: Index, event_type: str, *, project: str | None, stage: str | None,
                          service: str | None, event_id: str | None, our_project: str,
                          sidetasks: SideTasks | None = None) -> list[dict[str, Any]]:
    """Open `.triggered` events of `event_type` in active runs, and open questions outside
    sequences (get-sli), filtered as Keptn filters."""
    if project and project != our_project:
        return []
    out: list[dict[str, Any]] = []
    for run in index.runs(stage=stage or None, service=service or None, states=ACTIVE_STATES, limit=10_000):
        events = index.events(run_id=run["id"], limit=10_000)
        for event in uniform.open_triggered(events, event_type):
            if event_id and event.get("id") != event_id:
                continue
            out.append(dict(event))
    for event in sidetasks.open_events(event_type) if sidetasks is not None else []:
        _, s, svc = uniform.event_scope(event)
        if (stage and s != stage) or (service and svc != service) or (event_id and event["id"] != event_id):
            continue
        out.append(event)
    out.sort(key=lambda e: (str(e.get("time") or ""), str(e.get("id"))))
    return out


@_authorised
async def get_triggered(request: web.Request) -> web.Response:
    q = request.query
    backend = request.app[BACKEND]
    try:
        size = uniform.page_size(q.get("pageSize"))
    except ValueError as exc:
        return keptn_error(400, f"Invalid request format: {exc}")
    project = q.get("project") or None
    if project and project != backend.project():
        return keptn_error(404, f"project {project} not found")
    events = open_triggered_events(request.app[INDEX], request.match_info["eventType"], project=project,
                                   stage=q.get("stage"), service=q.get("service"), event_id=q.get("eventID"),
                                   our_project=backend.project(), sidetasks=backend.sidetasks)
    page, next_key = uniform.paginate(events, size, q.get("nextPageKey"))
    return _json({"events": page, "nextPageKey": next_key, "pageSize": len(page), "totalCount": len(events)})


# -- logs ------------------------------------------------------------------------------------

@_authorised
async def post_logs(request: web.Request) -> web.Response:
    try:
        body = await _body(request)
        logs = body.get("logs") if isinstance(body, dict) else None
        if not isinstance(logs, list) or not all(isinstance(e, dict) for e in logs):
            raise ValueError("the body must be {\"logs\": [LogEntry, ...]}")
    except ValueError as exc:
        return keptn_error(400, str(exc))
    request.app[BACKEND].integrations.add_logs(logs)
    return _json({})


@_authorised
async def get_logs(request: web.Request) -> web.Response:
    logs = request.app[BACKEND].integrations.logs(request.query.get("integrationId", ""))
    return _json({"logs": logs, "totalCount": len(logs)})


# -- resource service ------------------------------------------------------------------------

def _scope(request: web.Request) -> Scope:
    m = request.match_info
    return Scope(m["project"], m.get("stage"), m.get("service"))


def _resources(request: web.Request) -> Resources:
    resources = request.app[BACKEND].resources
    if resources is None:
        raise ResourceError(503, "the resource service needs a running controller")
    return resources


def _resource_errors(handler: Callable[[web.Request], Awaitable[web.Response]]):
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ResourceError as exc:
            return keptn_error(exc.status, exc.message)
        except ValueError as exc:
            return keptn_error(400, str(exc))
    return wrapper


def _written(branch: str, commit: str, status: int = 200) -> web.Response:
    """Keptn's WriteResourceResponse (`commitID`, `metadata`), plus `version` at the top:
    go-utils decodes the answer as `models.Version` and would otherwise return ""."""
    return _json({"commitID": commit, "version": commit, "metadata": {"branch": branch, "version": commit}}, status)


def _author(request: web.Request) -> str:
    """Whose commit a write is: the integration's name (go-utils sends none, so the
    `x-keptn-integration` header or `integration` query may say; else `keptn-integration`)."""
    name = request.headers.get("x-keptn-integration") or request.query.get("integration") or "keptn-integration"
    return "".join(c for c in name if c.isalnum() or c in "-_.")[:64] or "keptn-integration"


def _decode(content: Any, uri: str) -> bytes:
    if not isinstance(content, str):
        raise ValueError(f"resourceContent of {uri!r} must be a base64 string")
    try:
        return base64.b64decode(content, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"resourceContent of {uri!r} is not base64: {exc}") from None


@_authorised
@_resource_errors
async def get_resource(request: web.Request) -> web.Response:
    uri = clean_uri(request.match_info["uri"])
    found = await asyncio.to_thread(_resources(request).read, _scope(request), uri,
                                    request.query.get("gitCommitID") or None)
    return _json({"resourceURI": found.uri, "resourceContent": base64.b64encode(found.content).decode(),
                  "metadata": {"branch": found.branch, "version": found.commit}})


@_authorised
@_resource_errors
async def list_resources(request: web.Request) -> web.Response:
    uris, branch, commit = await asyncio.to_thread(_resources(request).list, _scope(request))
    try:
        size = max(1, min(100, int(request.query.get("pageSize") or 20)))
    except ValueError:
        size = 20
    page, next_key = uniform.paginate(uris, size, request.query.get("nextPageKey"))
    return _json({"resources": [{"resourceURI": "/" + u, "metadata": {"branch": branch, "version": commit}}
                                for u in page], "nextPageKey": next_key, "pageSize": len(page),
                  "totalCount": len(uris)})


@_authorised
@_resource_errors
async def put_resource(request: web.Request) -> web.Response:
    uri = clean_uri(request.match_info["uri"])
    body = await _body(request)
    if not isinstance(body, dict):
        raise ValueError("the body must be {\"resourceContent\": <base64>}")
    files = {uri: _decode(body.get("resourceContent"), uri)}
    branch, commit = await asyncio.to_thread(_resources(request).write, _scope(request), files, _author(request))
    return _written(branch, commit)


@_authorised
@_resource_errors
async def put_resources(request: web.Request) -> web.Response:
    body = await _body(request)
    items = body.get("resources") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ValueError("the body must be {\"resources\": [{\"resourceURI\", \"resourceContent\"}, ...]}")
    files = {}
    for item in items:
        uri = clean_uri(str(item.get("resourceURI") or ""))
        files[uri] = _decode(item.get("resourceContent"), uri)
    branch, commit = await asyncio.to_thread(_resources(request).write, _scope(request), files, _author(request))
    return _written(branch, commit, 201 if request.method == "POST" else 200)


@_authorised
@_resource_errors
async def delete_resource(request: web.Request) -> web.Response:
    uri = clean_uri(request.match_info["uri"])
    resources = _resources(request)
    await asyncio.to_thread(resources.read, _scope(request), uri)        # 404 when missing
    branch, commit = await asyncio.to_thread(resources.write, _scope(request), {uri: None}, _author(request))
    return _written(branch, commit)


def add_routes(app: web.Application, *, index: Index, backend: KeptnBackend, api_token: str) -> None:
    app[BACKEND] = backend
    app[INDEX] = index
    app[TOKEN] = api_token
    r = app.router
    reg = "/api/controlPlane/v1/uniform/registration"
    r.add_post(reg, register)
    r.add_get(reg, list_registrations)
    r.add_put(reg + "/{id}/ping", ping)
    r.add_delete(reg + "/{id}", unregister)
    r.add_post(reg + "/{id}/subscription", put_subscription)
    r.add_get(reg + "/{id}/subscription", get_subscriptions)
    r.add_get(reg + "/{id}/subscription/{sid}", get_subscriptions)
    r.add_put(reg + "/{id}/subscription/{sid}", put_subscription)
    r.add_delete(reg + "/{id}/subscription/{sid}", delete_subscription)
    r.add_get("/api/controlPlane/v1/event/triggered/{eventType}", get_triggered)
    r.add_post("/api/controlPlane/v1/log", post_logs)
    r.add_get("/api/controlPlane/v1/log", get_logs)
    base = "/api/resource-service/v1/project/{project}"
    for scope in ("", "/stage/{stage}", "/stage/{stage}/service/{service}"):
        r.add_get(base + scope + "/resource", list_resources)
        r.add_put(base + scope + "/resource", put_resources)
        r.add_post(base + scope + "/resource", put_resources)
        r.add_get(base + scope + "/resource/{uri:.+}", get_resource)
        r.add_put(base + scope + "/resource/{uri:.+}", put_resource)
        r.add_delete(base + scope + "/resource/{uri:.+}", delete_resource)
