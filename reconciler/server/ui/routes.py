"""The web UI's aiohttp handlers: gather data (in a worker thread, so a big board never stalls
the API), check access, render, and run operator actions.

| route | who | what |
|---|---|---|
| `GET /` | viewer | environment board |
| `GET /sequences`, `/sequences/{context}` | viewer | filterable list, timeline of a context |
| `GET /evaluations[?stage&service]`, `/evaluation?path=` | viewer | list, heat map + trends, SLI table |
| `GET /approvals`, `/problems`, `/config`, `/status` | viewer | approvals, remediation, config, the plain status page |
| `GET /ui/events` | viewer | Server-Sent Events: `change` whenever the results branch or a branch tip moves |
| `GET /static/live.js` | anyone | the live-update script |
| `GET,POST /login`, `POST /logout` | anyone | token → HttpOnly session cookie |
| `POST /ui/actions/{approve,decline,control,invalidate}` | operator + CSRF | operator actions |

A page asked with the header `X-Fragment: main` answers only its <main> (live.js swaps it in).
Every page says in `Server-Timing: render;dur=<ms>, cpu;dur=<ms>` how long gathering and rendering
took, and how much of it was this server's CPU.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from reconciler.server.ui import access
from reconciler.server.ui.access import COOKIE, AccessSettings
from reconciler.server.ui.approvals import render_approvals
from reconciler.server.ui.board import board_model, render_board
from reconciler.server.ui.configview import render_config
from reconciler.server.ui.evaluations import HISTORY, render_detail, render_index, render_lane
from reconciler.server.ui.html import e, frame
from reconciler.server.ui.problems import render_problems
from reconciler.server.ui.sequences import FILTERS, STATES, filter_form, render_list, render_timeline
from reconciler.server.ui.source import UiSource

log = logging.getLogger("reconciler.ui")

SOURCE = web.AppKey("ui_source", object)
ACCESS = web.AppKey("ui_access", object)
OPERATOR = web.AppKey("ui_operator", object)
CONTROL = web.AppKey("ui_controller", object)
STOP = web.AppKey("ui_stop", object)
STATUS_VIEW = web.AppKey("ui_status_view", object)
CACHE = web.AppKey("ui_cache", object)

SSE_POLL = 0.5           # seconds between checks for a change
SSE_HEARTBEAT = 15.0     # a comment line keeps proxies from closing an idle stream
SSE_MAX_SECONDS = 3600   # a stream ends after an hour; EventSource reconnects by itself

Page = Callable[[web.Request, "Viewer"], str | tuple[str, str] | tuple[str, str, str]]


class Viewer:
    """The request's role and, for operators, the CSRF value their forms carry."""

    def __init__(self, role: str, csrf: str | None):
        self.role = role
        self.csrf = csrf

    @property
    def operator(self) -> bool:
        return self.role == "operator"


# -- access ----------------------------------------------------------------------------------

def _settings(request: web.Request) -> AccessSettings:
    return request.app[ACCESS]  # type: ignore[return-value]


def _viewer(request: web.Request) -> Viewer | None:
    settings = _settings(request)
    cookie = request.cookies.get(COOKIE)
    role = access.role_of_request(settings, cookie, request.remote)
    if role is None:
        return None
    csrf = access.csrf_token(settings, cookie) if role == "operator" and cookie else None
    return Viewer(role, csrf)


def _safe_next(target: str | None) -> str:
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 0x20 or c == "\x7f" for c in target)):   # browsers drop tabs: "/\t/x" is "//x"
        return "/"
    return target


def _set_session(response: web.StreamResponse, request: web.Request, role: str) -> None:
    response.set_cookie(COOKIE, access.session_value(_settings(request), role), httponly=True,  # type: ignore[arg-type]
                        samesite="Strict", path="/", secure=request.secure)


def page(render: Page, active: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        token = request.query.get("token")
        if token is not None:            # ?token= once: becomes a cookie, leaves the URL
            role = access.role_of_token(_settings(request), token)
            if role is None:
                raise web.HTTPFound("/login?" + urlencode({"next": request.path, "error": "wrong token"}))
            rest = {k: v for k, v in request.query.items() if k != "token"}
            redirect = web.HTTPSeeOther(request.path + ("?" + urlencode(rest) if rest else ""))
            _set_session(redirect, request, role)
            raise redirect
        viewer = _viewer(request)
        if viewer is None:
            if request.headers.get("X-Fragment"):
                raise web.HTTPUnauthorized(text="log in again")
            raise web.HTTPFound("/login?" + urlencode({"next": request.path_qs}))
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        title, body, filters, cpu = await loop.run_in_executor(None, _timed, render, request, viewer)
        timing = {"Server-Timing": f"render;dur={(time.perf_counter() - started) * 1000:.1f}, cpu;dur={cpu:.1f}",
                  "Cache-Control": "no-store"}
        notice = request.query.get("notice")
        if notice:
            body = f'<p class="b {"fail" if request.query.get("bad") else "pass"}" id=notice>{e(notice)}</p>' + body
        if request.headers.get("X-Fragment") == "main":
            response = web.Response(text=body, content_type="text/html", headers=timing)
        else:
            source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
            html = frame(title, active, body, project=source.project(), filters=filters, user=viewer.role)
            response = web.Response(text=html, content_type="text/html", headers=timing)
        response.enable_compression()     # only when the browser accepts it (all do)
        return response
    return handler


class PageCache:
    """Rendered pages by (URL, role) for the state they were rendered from: the results branch
    tip in the index and every branch tip. Live updates make every open browser ask again on
    each change; with the cache a change costs one render, however many browsers watch.
    Operator pages are rendered with a placeholder CSRF value, replaced per session."""

    PLACEHOLDER = "csrfplaceholder0c5f3a"

    def __init__(self, size: int = 32):
        self.size = size
        self._items: dict[tuple, tuple[str, str, str]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get(self, key: tuple) -> tuple[str, str, str] | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple, value: tuple[str, str, str]) -> None:
        with self._lock:
            stale = [k for k in self._items if k[2] != key[2]]     # rendered from an older state
            for k in stale:
                del self._items[k]
            while len(self._items) >= self.size:
                del self._items[next(iter(self._items))]
            self._items[key] = value


def _timed(render: Page, request: web.Request, viewer: Viewer) -> tuple[str, str, str, float]:
    """`_rendered` plus the CPU milliseconds this thread spent on it (for Server-Timing)."""
    started = time.thread_time()
    title, body, filters = _rendered(render, request, viewer)
    return title, body, filters, (time.thread_time() - started) * 1000


def _rendered(render: Page, request: web.Request, viewer: Viewer) -> tuple[str, str, str]:
    """(title, body, filters) of a page, from the cache when nothing changed since."""
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    cache: PageCache = request.app[CACHE]  # type: ignore[assignment]
    shown = {k: v for k, v in request.query.items() if k not in ("notice", "bad")}
    key = (request.path, tuple(sorted(shown.items())), _state_key(source), viewer.role)
    hit = cache.get(key)
    if hit is None:
        result = render(request, Viewer(viewer.role, PageCache.PLACEHOLDER if viewer.csrf else None))
        title, body, filters = (result + ("",))[:3] if isinstance(result, tuple) else ("reconciler", result, "")
        hit = (title, body, filters)
        cache.put(key, hit)
    title, body, filters = hit
    if viewer.csrf:
        body, filters = body.replace(PageCache.PLACEHOLDER, viewer.csrf), filters.replace(PageCache.PLACEHOLDER,
                                                                                          viewer.csrf)
    return title, body, filters


# -- pages -----------------------------------------------------------------------------------

def board_page(request: web.Request, viewer: Viewer) -> tuple[str, str, str]:
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    wanted = request.query.get("service", "")
    stage_names = source.stage_names()
    stages, services, cells = board_model(stage_names, source.index.lanes(),
                                          source.stage_versions(stage_names), wanted)
    filters = (f'<form method=get action="/"><label>service contains <input name=service value="{e(wanted)}">'
               f'</label> <button>Filter</button></form>')
    return "Environment", render_board(stages, services, cells, viewer.csrf), filters


def sequences_page(request: web.Request, viewer: Viewer) -> tuple[str, str, str]:
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    values = {k: request.query.get(k, "") for k in FILTERS}
    states = [values["state"]] if values["state"] else None
    runs = source.index.runs(stage=values["stage"] or None, service=values["service"] or None, states=states,
                             sequence=values["sequence"] or None, limit=500)
    lanes = source.index.lanes()
    options = {"project": [source.project()], "stage": source.stage_names() or {ln["stage"] for ln in lanes},
               "service": {ln["service"] for ln in lanes}, "sequence": {r["sequence"] for r in runs}
               | {name for stage in source.stages_in_force() for name in stage["sequences"]},
               "state": STATES}
    return "Sequences", render_list(runs, source.project(), values), filter_form(values, options)


def timeline_page(request: web.Request, viewer: Viewer) -> tuple[str, str]:
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    context = request.match_info["context"]
    runs = source.context_runs(context)
    stages = source.stage_names() or sorted({r["stage"] for r in runs if r.get("stage")})
    commits = source.commits_of(context, stages)
    evaluations = source.index.evaluation_rows(context=context, limit=50)
    return "Sequence", render_timeline(context, runs, stages, commits, evaluations,
                                       viewer.csrf, source.commit_url())


def evaluations_page(request: web.Request, viewer: Viewer) -> tuple[str, str]:
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    stage, service = request.query.get("stage"), request.query.get("service")
    if stage and service:
        return "Evaluations", render_lane(stage, service, source.evaluation_docs(stage, service, HISTORY))
    return "Evaluations", render_index(source.index.evaluation_rows(stage=stage, service=service, limit=200))


def evaluation_page(request: web.Request, viewer: Viewer) -> tuple[str, str]:
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    path = request.query.get("path", "")
    doc = source.read_results(path) if path.startswith("evaluations/") else None
    if doc is None:
        raise web.HTTPNotFound(text=f"no evaluation {path}")
    return "Evaluation", render_detail(path, doc, viewer.csrf)


def approvals_page(request: web.Request, viewer: Viewer) -> tuple[str, str]:
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    return "Approvals", render_approvals(source.pending_approvals(), viewer.csrf)


def problems_page(request: web.Request, viewer: Viewer) -> tuple[str, str]:
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    remediations = []
    for row in source.index.runs(sequence="remediation", limit=100):
        full = next((r for r in source.context_runs(row["context"]) if r.get("id") == row["id"]), None)
        remediations.append(full or {**row, "triggeredAt": row.get("triggered_at")})
    escalations = list(source.index.documents("escalations/").values())
    return "Problems", render_problems(remediations, escalations)


def config_page(request: web.Request, viewer: Viewer) -> tuple[str, str]:
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    view = dict(request.app[STATUS_VIEW](source.index))  # type: ignore[operator]
    state = source.config_state()
    if state is not None:           # the commit of the shipyard in force (status_view leaves it out)
        view["config"] = {**view.get("config", {}), "projectCommit": getattr(state, "project_commit", None)}
    view["stages"] = source.stages_in_force()
    view["ignoredBranches"] = source.ignored_branches()
    view.setdefault("integrations", [])       # registered Keptn integrations, when the status view has them
    return "Config", render_config(view)


def status_page(request: web.Request, viewer: Viewer) -> tuple[str, str]:
    from reconciler.server.page import render_body
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    return "Status", render_body(request.app[STATUS_VIEW](source.index))  # type: ignore[operator]


# -- login -----------------------------------------------------------------------------------

def _login_form(next_url: str, error: str = "") -> str:
    body = (f"<h1>Log in</h1>{f'<p class=fail>{e(error)}</p>' if error else ''}"
            f'<form method=post action="/login"><input type=hidden name=next value="{e(next_url)}">'
            f'<label>API token (operators) or read-only token <input type=password name=token autocomplete=off '
            f'autofocus></label> <button>Log in</button></form>'
            f'<p class="small muted">The token is in <code>&lt;workdir&gt;/api-token</code> or '
            f'<code>RECONCILER_API_TOKEN</code>; the browser keeps only a session cookie derived from it.</p>')
    return frame("Log in", "", body, live=False)


async def login_get(request: web.Request) -> web.Response:
    return web.Response(text=_login_form(_safe_next(request.query.get("next")), request.query.get("error", "")),
                        content_type="text/html")


async def _form(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form; a body that is not a readable form is the client's error (400), not ours."""
    try:
        return await request.post()
    except (UnicodeDecodeError, ValueError, AssertionError) as exc:
        raise web.HTTPBadRequest(text=f"the form could not be read: {type(exc).__name__}") from None


async def login_post(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    next_url = _safe_next(str(form.get("next") or "/"))
    role = access.role_of_token(_settings(request), str(form.get("token") or ""))
    if role is None:
        return web.Response(text=_login_form(next_url, "wrong token"), content_type="text/html", status=401)
    response = web.HTTPSeeOther(next_url)
    _set_session(response, request, role)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


async def live_js(request: web.Request) -> web.Response:
    text = resources.files("reconciler.server.ui").joinpath("static", "live.js").read_text("utf-8")
    return web.Response(text=text, content_type="application/javascript",
                        headers={"Cache-Control": "max-age=300"})


# -- live ------------------------------------------------------------------------------------

def _state_key(source: UiSource) -> tuple:
    return (source.index.results_tip, tuple(sorted(source.branches().items())))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: `change` with an id whenever the results tip or a branch tip moves."""
    if _viewer(request) is None:
        raise web.HTTPUnauthorized(text="log in first")
    source: UiSource = request.app[SOURCE]  # type: ignore[assignment]
    stop: asyncio.Event = request.app[STOP]  # type: ignore[assignment]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    last = await loop.run_in_executor(None, _state_key, source)
    await response.write(b"retry: 2000\n: connected\n\n")
    started = quiet = loop.time()
    seq = 0
    try:
        while not stop.is_set() and loop.time() - started < SSE_MAX_SECONDS:
            try:
                await asyncio.wait_for(stop.wait(), SSE_POLL)
                break
            except TimeoutError:
                pass
            key = await loop.run_in_executor(None, _state_key, source)
            if key != last:
                last, seq = key, seq + 1
                await response.write(f"id: {seq}\nevent: change\ndata: {key[0] or ''}\n\n".encode())
                quiet = loop.time()
            elif loop.time() - quiet > SSE_HEARTBEAT:
                await response.write(b": heartbeat\n\n")
                quiet = loop.time()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


# -- actions ---------------------------------------------------------------------------------

async def act(request: web.Request) -> web.StreamResponse:
    name = request.match_info["action"]
    settings = _settings(request)
    cookie = request.cookies.get(COOKIE)
    if access.role_of_cookie(settings, cookie) != "operator":
        raise web.HTTPForbidden(text="operator actions need a session from the API token; log in with it")
    form = await _form(request)
    if not access.csrf_ok(settings, cookie, str(form.get("csrf") or "")):
        raise web.HTTPForbidden(text="missing or wrong CSRF value; reload the page and try again")
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="cross-origin form refused")
    fields = {k: str(v) for k, v in form.items() if k != "csrf" and isinstance(v, str)}
    back = _safe_next(_referer_path(request))
    try:
        notice = await _perform(request, name, fields)
        bad = False
    except Exception as exc:  # noqa: BLE001 - shown to the operator, who can act on it
        from reconciler.controller.operator import OperatorError
        if not isinstance(exc, (OperatorError, ValueError)):
            log.exception("UI action %s failed", name)
        notice, bad = f"{name} failed: {exc}", True
    sep = "&" if "?" in back else "?"
    query = {"notice": notice, **({"bad": "1"} if bad else {})}
    raise web.HTTPSeeOther(back.split("#")[0] + sep + urlencode(query))


def _referer_path(request: web.Request) -> str:
    referer = request.headers.get("Referer", "")
    if "://" in referer:
        rest = referer.split("://", 1)[1]
        host, _, path = rest.partition("/")
        if host != request.host:
            return "/"
        referer = "/" + path
    # drop an old notice from the query
    base, _, qs = referer.partition("?")
    kept = "&".join(p for p in qs.split("&") if p and not p.startswith(("notice=", "bad=")))
    return base + ("?" + kept if kept else "")


async def _perform(request: web.Request, name: str, fields: dict[str, str]) -> str:
    loop = asyncio.get_running_loop()
    operator = request.app[OPERATOR]
    context = fields.get("context", "")
    if name in ("approve", "decline"):
        if operator is None:
            raise ValueError("this server has no Git access for approvals")
        method = operator.approve if name == "approve" else operator.decline  # type: ignore[attr-defined]
        d = await loop.run_in_executor(None, partial(method, context, fields.get("stage") or None,
                                                     fields.get("service") or None))
        return f"{d.decision} {d.stage}/{d.service}: {d.branch}"
    if name == "control":
        state = fields.get("state")
        if state not in ("abort", "pause", "resume"):
            raise ValueError("state must be abort, pause or resume")
        future = request.app[CONTROL].submit_control(context, state, fields.get("stage") or None)  # type: ignore[attr-defined]
        answer = await asyncio.wait_for(asyncio.wrap_future(future), 30)
        if not answer.accepted:
            raise ValueError(answer.reason or answer.code)
        return f"{state}: accepted for {context[:8]}"
    if name == "invalidate":
        if operator is None:
            raise ValueError("this server has no Git access for invalidations")
        reason = fields.get("reason") or "invalidated from the web UI"
        oid = await loop.run_in_executor(None, partial(operator.invalidate, fields.get("path", ""), reason))  # type: ignore[attr-defined]
        return f"evaluation invalidated (results commit {oid[:12]})"
    raise web.HTTPNotFound(text=f"no action {name}")


# -- wiring ----------------------------------------------------------------------------------

def add_ui_routes(app: web.Application, *, source: UiSource, access_settings: AccessSettings, controller: Any,
                  operator: Any, status_view: Callable[[Any], dict[str, Any]]) -> None:
    app[SOURCE] = source
    app[ACCESS] = access_settings
    app[OPERATOR] = operator
    app[CONTROL] = controller
    app[STATUS_VIEW] = status_view
    app[CACHE] = PageCache()

    async def on_startup(app: web.Application) -> None:
        app[STOP] = asyncio.Event()

    async def on_shutdown(app: web.Application) -> None:
        app[STOP].set()  # type: ignore[attr-defined]

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    r = app.router
    r.add_get("/", page(board_page, "/"))
    r.add_get("/sequences", page(sequences_page, "/sequences"))
    r.add_get("/sequences/{context}", page(timeline_page, "/sequences"))
    r.add_get("/evaluations", page(evaluations_page, "/evaluations"))
    r.add_get("/evaluation", page(evaluation_page, "/evaluations"))
    r.add_get("/approvals", page(approvals_page, "/approvals"))
    r.add_get("/problems", page(problems_page, "/problems"))
    r.add_get("/config", page(config_page, "/config"))
    r.add_get("/status", page(status_page, ""))
    r.add_get("/login", login_get)
    r.add_post("/login", login_post)
    r.add_post("/logout", logout)
    r.add_get("/static/live.js", live_js)
    r.add_get("/ui/events", events)
    r.add_post(r"/ui/actions/{action:approve|decline|control|invalidate}", act)
