"""The HTTP face of a running controller (aiohttp).

| route | auth | what |
|---|---|---|
| `POST /webhooks/{github,gitlab,gitea,generic}` | forge signature (`RECONCILER_WEBHOOK_SECRET`) | a push: fetch now |
| `POST /webhooks/alertmanager` | token | firing alerts open (or join) remediations, resolved ones close them |
| `POST /api/v1/event` (Keptn path), `POST /api/v1/events` | token | a CloudEvent: start a sequence, or answer a task |
| `GET /api/v1/events` | token | the event log (filters: context, stage, service, type) |
| `GET /api/v1/events/triggered/{type}` | token | open `.triggered` tasks for an external executor to poll |
| `GET /api/v1/sequences[/{context}]` | token | sequence runs |
| `POST /api/v1/sequences/{context}/control` | token | `{"state": "abort"|"pause"|"resume", "stage"?}` |
| `GET /api/v1/status` | token | config findings, branches, active runs |
| `GET /healthz`, `/readyz`, `/metrics` | none | liveness, readiness, Prometheus metrics |
| `/`, `/sequences`, `/evaluations`, … | session cookie | the web UI (`server/ui/routes.py`) |
| `/api/controlPlane/…`, `/api/resource-service/…` | token (`x-token`) | Keptn's API for integrations (`keptn_api`) |

Handlers never change state: writes become controller inputs (awaited, so the answer says
whether the sequencer accepted them), reads go to the SQLite index.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reconciler.controller.api import Admission, ControllerHandle
from reconciler.controller.index import Index
from reconciler.controller.status import status_view
from reconciler.engine.events import CloudEvent, iso_time, parse_type
from reconciler.engine.problems import problems_from_alertmanager
from reconciler.server import jsonbody, keptn_api, signatures
from reconciler.server.auth import token_ok
from reconciler.server.ui.access import AccessSettings
from reconciler.server.ui.routes import add_ui_routes
from reconciler.server.ui.source import UiSource

log = logging.getLogger("reconciler.server")

MAX_API_BODY = 1024 * 1024
ANSWER_TIMEOUT = 30.0
# Sequencer rejection codes → HTTP status
_NOT_FOUND = {"unknown-triggeredid", "unknown-context", "unknown-run"}
_BAD_REQUEST = {"invalid-type", "unsupported-type", "missing-triggeredid", "invalid-context", "invalid-service",
                "stage-mismatch", "invalid-control", "invalid-commit"}

_ALERT_WORK = {"opened", "closed"}           # alert answers that start or stop work

CONTROLLER = web.AppKey("controller", ControllerHandle)
INDEX = web.AppKey("index", Index)
SETTINGS = web.AppKey("settings", dict)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, default=str))


def _problem(status: int, code: str, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status)


def _admission_response(answer: Admission, accepted_status: int = 202) -> web.Response:
    if answer.accepted:
        return _json({"accepted": True, "keptnContext": answer.context, "code": answer.code}, accepted_status)
    status = 404 if answer.code in _NOT_FOUND else 400 if answer.code in _BAD_REQUEST else 409
    return _json({"accepted": False, "code": answer.code, "message": answer.reason,
                  "keptnContext": answer.context}, status)


async def _await(future: Any) -> Any:
    return await asyncio.wait_for(asyncio.wrap_future(future), ANSWER_TIMEOUT)


def _authorised(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    async def wrapper(request: web.Request) -> web.StreamResponse:
        settings = request.app[SETTINGS]
        if not token_ok(request.headers, settings["api_token"]):
            return _problem(401, "unauthorized", "send the API token as `x-token` or `Authorization: Bearer`")
        return await handler(request)
    return wrapper


async def _read_body(request: web.Request, limit: int) -> bytes:
    signatures.check_size(request.content_length, limit)
    body = await request.content.read(limit + 1)
    signatures.check_body(body, limit)
    return body


# -- webhooks ------------------------------------------------------------------------------------

async def forge_webhook(request: web.Request) -> web.Response:
    forge = request.match_info["forge"]
    settings = request.app[SETTINGS]
    secret = settings.get("webhook_secret")
    if not secret:
        return _problem(401, "webhook-disabled",
                        "set RECONCILER_WEBHOOK_SECRET on the reconciler to accept push webhooks")
    try:
        body = await _read_body(request, signatures.DEFAULT_MAX_BODY)
        signatures.verify(forge, request.headers, body, secret)  # type: ignore[arg-type]
    except signatures.WebhookRefused as exc:
        log.warning("refused %s webhook from %s: %s", forge, request.remote, exc.reason)
        return _problem(exc.status, "refused", exc.reason)
    if not signatures.is_push_event(forge, request.headers):  # type: ignore[arg-type]
        return _json({"accepted": False, "message": "not a push event; nothing to do"}, 200)
    request.app[CONTROLLER].notify_tips_changed(f"webhook:{forge}")
    return _json({"accepted": True, "message": "fetching"}, 202)


async def alertmanager_webhook(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    if not token_ok(request.headers, settings.get("alertmanager_token"), settings["api_token"]):
        return _problem(401, "unauthorized", "configure Alertmanager's http_config.authorization with the token")
    try:
        body = await _read_body(request, MAX_API_BODY)
        problems, rejected = problems_from_alertmanager(jsonbody.loads(body))
    except signatures.WebhookRefused as exc:
        return _problem(exc.status, "refused", exc.reason)
    except ValueError as exc:
        return _problem(400, "invalid-payload", str(exc))
    answers = await _await(request.app[CONTROLLER].submit_problems(problems)) if problems else []
    # 202 only when a remediation was opened or closed; joined, ignored and nothing-open are 200
    started = any(a.code in _ALERT_WORK for a in answers)
    alerts = [dict(asdict(a), fingerprint=p.fingerprint) for p, a in zip(problems, answers, strict=True)]
    return _json({"alerts": alerts, "rejected": [asdict(r) for r in rejected]}, 202 if started else 200)


# -- API -----------------------------------------------------------------------------------------

@_authorised
async def post_event(request: web.Request) -> web.Response:
    try:
        raw = jsonbody.loads(await _read_body(request, MAX_API_BODY))
        if not isinstance(raw, dict):
            raise ValueError("the body must be a CloudEvent object")
        if not raw.get("shkeptncontext") and str(raw.get("type", "")).endswith(".triggered"):
            raw["shkeptncontext"] = str(uuid.uuid4())          # Keptn's API makes a context too
        # Keptn's API replaces the client's id and time; correlation uses context and triggeredid.
        raw["id"], raw["time"] = str(uuid.uuid4()), iso_time(time.time())
        event = CloudEvent.from_dict(raw)
    except signatures.WebhookRefused as exc:
        return _problem(exc.status, "refused", exc.reason)
    except ValueError as exc:
        return _problem(400, "invalid-event", str(exc))
    if parse_type(event.type) is None:
        return _problem(400, "invalid-type", f"{event.type!r} is not sh.keptn.event.<stage>.<sequence>.<kind> "
                        f"or sh.keptn.event.<task>.<kind>")
    backend = request.app.get(keptn_api.BACKEND)
    routed = backend.sidetasks.answer(event) if backend is not None and backend.sidetasks is not None else None
    if routed is not None:            # an answer to a question outside sequences (get-sli)
        return _admission_response(Admission(routed == "accepted", routed, "" if routed == "accepted" else
                                             f"{event.type} does not fit the open question {event.triggeredid}",
                                             event.shkeptncontext))
    answer = await _await(request.app[CONTROLLER].submit_event(event))
    return _admission_response(answer)


@_authorised
async def get_events(request: web.Request) -> web.Response:
    q = request.query
    events = request.app[INDEX].events(context=q.get("context"), stage=q.get("stage"), service=q.get("service"),
                                       type_prefix=q.get("type"), limit=_limit(q))
    return _json({"events": events})


@_authorised
async def get_open_triggered(request: web.Request) -> web.Response:
    event_type = request.match_info["type"]
    q = request.query
    index: Index = request.app[INDEX]
    active = {r["id"] for r in index.runs(stage=q.get("stage"), service=q.get("service"),
                                           states=("started", "waitingForApproval", "paused"), limit=10_000)}
    out = []
    for event in index.events(type_prefix=event_type, stage=q.get("stage"), service=q.get("service"), limit=1000):
        if event.get("type") != event_type:
            continue
        answers = index.events(context=event.get("shkeptncontext"), limit=10_000)
        finished = any(a.get("triggeredid") == event["id"] and str(a.get("type", "")).endswith(".finished")
                       for a in answers)
        run_active = any(r["id"] in active for r in index.runs(context=event.get("shkeptncontext"), limit=100))
        if not finished and run_active:
            out.append(event)
    backend = request.app.get(keptn_api.BACKEND)
    if backend is not None and backend.sidetasks is not None:     # get-sli questions
        out += [e for e in backend.sidetasks.open_events(event_type)
                if q.get("stage") in (None, e["data"].get("stage"))
                and q.get("service") in (None, e["data"].get("service"))]
    return _json({"events": out})


@_authorised
async def get_sequences(request: web.Request) -> web.Response:
    q = request.query
    states = [s for s in q.get("state", "").split(",") if s] or None
    return _json({"sequences": request.app[INDEX].runs(stage=q.get("stage"), service=q.get("service"),
                                                       states=states, limit=_limit(q))})


@_authorised
async def get_sequence(request: web.Request) -> web.Response:
    context = request.match_info["context"]
    index: Index = request.app[INDEX]
    runs = index.runs(context=context, limit=1000)
    if not runs:
        return _problem(404, "unknown-context", f"no sequence with context {context}")
    return _json({"context": context, "sequences": runs, "events": index.events(context=context, limit=10_000)})


@_authorised
async def control_sequence(request: web.Request) -> web.Response:
    context = request.match_info["context"]
    try:
        body = jsonbody.loads(await _read_body(request, MAX_API_BODY) or b"{}")
        state = body.get("state")
        if state not in ("abort", "pause", "resume"):
            raise ValueError("'state' must be abort, pause or resume")
        stage = body.get("stage") or None
    except (ValueError, AttributeError) as exc:
        return _problem(400, "invalid-control", str(exc))
    answer = await _await(request.app[CONTROLLER].submit_control(context, state, stage))
    return _admission_response(answer, 200)


@_authorised
async def get_status(request: web.Request) -> web.Response:
    return _json(status_view(request.app[INDEX], _integrations(request.app)))


def _integrations(app: web.Application) -> Any:
    backend = app.get(keptn_api.BACKEND)
    return backend.integrations if backend is not None else None


def _limit(q: Any) -> int:
    try:
        return max(1, min(10_000, int(q.get("limit", "200"))))
    except ValueError:
        return 200


# -- health, metrics, page -------------------------------------------------------------------------

async def healthz(request: web.Request) -> web.Response:
    health = request.app[CONTROLLER].health()
    return _json(health, 200 if health.get("alive") else 503)


async def readyz(request: web.Request) -> web.Response:
    ok, reason = request.app[CONTROLLER].ready()
    return _json({"ready": ok, "reason": reason}, 200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[SETTINGS]["metrics_registry"]
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def make_app(controller: ControllerHandle, index: Index, *, api_token: str, webhook_secret: str | None,
             alertmanager_token: str | None, metrics_registry: Any, mirror: Any = None,
             config: Callable[[], Any] | None = None, operator: Any = None,
             ui_access: AccessSettings | None = None,
             keptn: keptn_api.KeptnBackend | None = None) -> web.Application:
    """`mirror` (read access to the branches), `config` (the config in force) and `operator`
    (approve/decline/invalidate) feed the web UI; without them it shows what the index holds.
    `keptn` mounts Keptn's control-plane API (registered integrations also show in the status view)."""
    app = web.Application(client_max_size=signatures.DEFAULT_MAX_BODY)
    app[CONTROLLER] = controller
    app[INDEX] = index
    app[SETTINGS] = {"api_token": api_token, "webhook_secret": webhook_secret,
                     "alertmanager_token": alertmanager_token, "metrics_registry": metrics_registry}
    app.router.add_post("/webhooks/alertmanager", alertmanager_webhook)
    app.router.add_post(r"/webhooks/{forge:github|gitlab|gitea|generic}", forge_webhook)
    app.router.add_post("/api/v1/event", post_event)
    app.router.add_post("/api/v1/events", post_event)
    app.router.add_get("/api/v1/events", get_events)
    app.router.add_get("/api/v1/events/triggered/{type}", get_open_triggered)
    app.router.add_get("/api/v1/sequences", get_sequences)
    app.router.add_get("/api/v1/sequences/{context}", get_sequence)
    app.router.add_post("/api/v1/sequences/{context}/control", control_sequence)
    app.router.add_get("/api/v1/status", get_status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    integrations = keptn.integrations if keptn is not None else None
    add_ui_routes(app, source=UiSource(index, mirror, config), controller=controller, operator=operator,
                  access_settings=ui_access or AccessSettings(api_token=api_token),
                  status_view=lambda idx: status_view(idx, integrations))
    if keptn is not None:
        keptn_api.add_routes(app, index=index, backend=keptn, api_token=api_token)
    return app
