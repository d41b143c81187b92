"""Issue 15 over HTTP against a real controller: access (login cookie, ?token= once, CSRF,
loopback-only viewers), the board's versions after pushes, the sequence timeline, control
buttons, live events, and escaping of values that come from Git."""
from __future__ import annotations

import re
import threading

import httpx
import pytest

from tests.support.waiting import wait_until

TOKEN = "test-token"


@pytest.fixture
def service(origin, service_factory):
    return service_factory(origin.url, poll=0.05, watch=False)


def login(url: str, token: str = TOKEN) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=True, timeout=20)
    r = client.post("/login", data={"token": token, "next": "/"})
    assert r.status_code == 200, r.text
    return client


def push_image(human_factory, origin, stage: str, image: str) -> str:
    return human_factory(origin.url, stage).change("helloservice/values.yaml",
                                                   f"image: helloservice:{image}\nreplicaCount: 1\n", image)


def test_pages_need_a_login_and_the_session_cookie_is_httponly(service):
    anonymous = httpx.get(service.url + "/", follow_redirects=False)
    assert anonymous.status_code == 302 and anonymous.headers["location"].startswith("/login")
    wrong = httpx.post(service.url + "/login", data={"token": "guess", "next": "/"})
    assert wrong.status_code == 401 and "wrong token" in wrong.text
    r = httpx.post(service.url + "/login", data={"token": TOKEN, "next": "/sequences"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sequences"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    # a redirect target off this site is ignored
    r = httpx.post(service.url + "/login", data={"token": TOKEN, "next": "//evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_token_in_the_url_once_becomes_a_cookie_and_leaves_the_url(service):
    client = httpx.Client(base_url=service.url, follow_redirects=False)
    r = client.get("/sequences", params={"token": TOKEN, "stage": "dev"})
    assert r.status_code == 303 and r.headers["location"] == "/sequences?stage=dev"
    assert client.get("/sequences?stage=dev").status_code == 200


def test_board_shows_each_stages_version_and_a_running_sequence(service, origin, human_factory):
    client = login(service.url)
    board = client.get("/").text
    for stage in ("dev", "staging", "production"):
        assert f">{stage}</a></th>" in board
    assert "<b>1.0.0</b>" in board or "helloservice" in board
    commit = push_image(human_factory, origin, "dev", "2.5.0")
    run = wait_until(lambda: service.index.runs(stage="dev"), what="the dev run")[0]
    board = wait_until(lambda: (t := client.get("/").text) and "<b>2.5.0</b>" in t and t, what="the new version")
    row = re.search(r"<tr><th><a[^>]*>helloservice</a></th>(.*?)</tr>", board, re.S).group(1)
    dev_cell = row.split("</td>")[0]
    assert "<b>2.5.0</b>" in dev_cell and commit[:7] in dev_cell
    assert "running" in dev_cell and "delivery: deployment" in dev_cell and 'class=run' in dev_cell
    assert f"/sequences/{run['context']}" in dev_cell


def test_timeline_lists_tasks_and_operators_can_abort(service, origin, human_factory):
    client = login(service.url)
    push_image(human_factory, origin, "dev", "3.0.0")
    run = wait_until(lambda: service.index.runs(stage="dev"), what="the dev run")[0]
    page = client.get(f"/sequences/{run['context']}").text
    assert "dev · helloservice · delivery" in page and ">deployment</td>" in page
    csrf = re.search(r'name=csrf value="([0-9a-f]+)"', page).group(1)
    # without the CSRF value the action is refused
    r = client.post("/ui/actions/control", data={"context": run["context"], "state": "abort"})
    assert r.status_code == 403
    r = client.post("/ui/actions/control", data={"context": run["context"], "state": "abort", "csrf": csrf},
                    headers={"Referer": f"{service.url}/sequences/{run['context']}"})
    assert r.status_code == 200 and "abort: accepted" in r.text
    wait_until(lambda: service.index.runs(context=run["context"])[0]["state"] == "aborted", what="the abort")
    page = client.get(f"/sequences/{run['context']}").text
    assert "aborted, result fail, status aborted" in page


def test_a_read_only_session_sees_no_buttons_and_cannot_act(origin, service_factory, human_factory):
    service = service_factory(origin.url, poll=0.05, watch=False, environ={"RECONCILER_UI_READ_TOKEN": "look"})
    push_image(human_factory, origin, "dev", "3.1.0")
    run = wait_until(lambda: service.index.runs(stage="dev"), what="the dev run")[0]
    viewer = login(service.url, "look")
    page = viewer.get(f"/sequences/{run['context']}").text
    assert "dev · helloservice" in page and "name=csrf" not in page
    r = viewer.post("/ui/actions/control", data={"context": run["context"], "state": "abort", "csrf": "x"})
    assert r.status_code == 403


def test_loopback_viewers_need_no_token_only_when_configured(origin, service_factory):
    closed = service_factory(origin.url, name="closed", poll=0, watch=False)
    assert httpx.get(closed.url + "/", follow_redirects=False).status_code == 302
    opened = service_factory(origin.url, name="open", poll=0, watch=False,
                             environ={"RECONCILER_UI_OPEN_ON_LOOPBACK": "1"})
    page = httpx.get(opened.url + "/")
    assert page.status_code == 200 and "Environment" in page.text and "name=csrf" not in page.text


def test_values_from_git_are_escaped(service, origin, human_factory):
    client = login(service.url)
    human_factory(origin.url, "dev").change("helloservice/values.yaml",
                                            'image: "<script>alert(1)</script>"\nreplicaCount: 1\n', "xss")
    board = wait_until(lambda: (t := client.get("/").text) and "alert(1)" in t and t, what="the new value")
    assert "<script>alert(1)</script>" not in board and "&lt;script&gt;alert(1)&lt;/script&gt;" in board


def test_live_events_announce_a_change(service, origin, human_factory):
    client = login(service.url)
    got: list[str] = []

    def listen() -> None:
        with client.stream("GET", "/ui/events", timeout=30) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: change"):
                    got.append(line)
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    wait_until(lambda: True, timeout=1)
    push_image(human_factory, origin, "dev", "4.0.0")
    thread.join(30)
    assert got == ["event: change"]
    fragment = client.get("/", headers={"X-Fragment": "main"}).text
    assert fragment.startswith("<h1>Environment</h1>") and "<html" not in fragment


def test_status_page_and_live_script_are_served(service):
    client = login(service.url)
    assert "Active sequences" in client.get("/status").text
    js = httpx.get(service.url + "/static/live.js")
    assert js.status_code == 200 and "EventSource" in js.text


def test_invalidating_an_evaluation_marks_its_file_on_the_results_branch(service):
    import json

    from reconciler import contract
    from reconciler.controller import journal as J
    path = "evaluations/dev/helloservice/20260101T000000Z-ctx-eval.json"
    doc = {"context": "ctx-eval", "stage": "dev", "service": "helloservice", "result": "pass", "score": 100.0,
           "event_result": "pass", "time": "2026-01-01T00:00:00Z", "objectives": [], "invalidated": False}
    batch = J.Batch()
    batch.put(path, J.dumps(doc))
    batch.note("test evaluation", context="ctx-eval")
    written = service.journal.commit(batch)
    service.index.apply(written.oid, batch.files)
    client = login(service.url)
    page = client.get("/evaluation", params={"path": path}).text
    csrf = re.search(r'name=csrf value="([0-9a-f]+)"', page).group(1)
    r = client.post("/ui/actions/invalidate", data={"path": path, "csrf": csrf, "reason": "load test noise"},
                    headers={"Referer": f"{service.url}/evaluation?path={path}"})
    assert r.status_code == 200 and "evaluation invalidated" in r.text
    assert "Invalidated" in r.text and "load test noise" in r.text and "/ui/actions/invalidate" not in r.text
    tip = service.mirror.tip(contract.RESULTS_BRANCH)
    stored = json.loads(service.mirror.read(tip, path))
    assert stored["invalidated"] is True and stored["invalidated_reason"] == "load test noise"
    message = service.mirror.commit(tip).message
    assert "Reconciler-Event: sh.keptn.event.evaluation.invalidated" in message and "ctx-eval" in message
    assert service.index.evaluation_rows(context="ctx-eval")[0]["invalidated"] == 1
    # a second time is refused with a reason, and a path outside evaluations/ is not a target
    again = client.post("/ui/actions/invalidate", data={"path": path, "csrf": csrf})
    assert "already invalidated" in again.text
    other = client.post("/ui/actions/invalidate", data={"path": "state/tips.json", "csrf": csrf})
    assert "is not an evaluation file" in other.text


def test_cross_origin_posts_are_refused_even_with_a_session(service):
    client = login(service.url)
    page = client.get("/approvals").text
    assert "no approval is pending" in page
    board = client.get("/").text
    csrf = re.search(r'name=csrf value="([0-9a-f]+)"', client.get("/sequences/none").text)
    assert csrf is None and "Environment" in board       # no runs: no control buttons, no form
    from reconciler.server.ui import access
    cookie = client.cookies.get(access.COOKIE)
    token = access.csrf_token(access.AccessSettings(api_token=TOKEN), cookie)
    r = client.post("/ui/actions/control", data={"context": "x", "state": "pause", "csrf": token},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.text


def operator_csrf(client: httpx.Client, service) -> str:
    from reconciler.server.ui import access
    return access.csrf_token(access.AccessSettings(api_token=TOKEN), client.cookies.get(access.COOKIE))


def test_decline_button_deletes_the_approval_branch(service, origin, human_factory):
    from tests.support.remotes import git, git_out
    context = "d3c11e00-0000-4000-8000-000000000000"
    reviewer = human_factory(origin.url, "production")
    git("-c", "user.name=bot", "-c", "user.email=b@x", "commit", "-q", "--allow-empty", "-m",
        f"approval\n\nReconciler-Context: {context}", cwd=reviewer.path)
    branch = f"approve/production/helloservice/{context[:8]}"
    reviewer.push(branch)
    client = login(service.url)
    r = client.post("/ui/actions/decline", data={"context": context, "csrf": operator_csrf(client, service)},
                    headers={"Referer": f"{service.url}/approvals"})
    assert r.status_code == 200 and f"declined production/helloservice: {branch}" in r.text
    assert branch not in git_out("branch", "--list", cwd=origin.path)
    again = client.post("/ui/actions/decline", data={"context": context, "csrf": operator_csrf(client, service)})
    assert "decline failed: no approval is waiting" in again.text


def test_pause_and_resume_buttons_reach_the_sequencer(service, origin, human_factory):
    client = login(service.url)
    push_image(human_factory, origin, "dev", "3.2.0")
    run = wait_until(lambda: service.index.runs(stage="dev"), what="the dev run")[0]
    csrf = operator_csrf(client, service)
    r = client.post("/ui/actions/control", data={"context": run["context"], "state": "pause", "csrf": csrf})
    assert "pause: accepted" in r.text
    wait_until(lambda: service.index.runs(context=run["context"])[0]["state"] == "paused", what="the pause")
    assert "paused</span> delivery" in client.get("/").text
    r = client.post("/ui/actions/control", data={"context": run["context"], "state": "resume", "csrf": csrf})
    assert "resume: accepted" in r.text
    wait_until(lambda: service.index.runs(context=run["context"])[0]["state"] != "paused", what="the resume")


def test_each_session_has_its_own_csrf_value_on_a_shared_cached_page(service, origin, human_factory):
    from reconciler.server.ui import routes
    push_image(human_factory, origin, "dev", "3.3.0")
    run = wait_until(lambda: service.index.runs(stage="dev"), what="the dev run")[0]
    first, second = login(service.url), login(service.url)
    page_a = first.get(f"/sequences/{run['context']}").text
    page_b = second.get(f"/sequences/{run['context']}").text
    csrf_a = re.search(r'name=csrf value="([^"]+)"', page_a).group(1)
    csrf_b = re.search(r'name=csrf value="([^"]+)"', page_b).group(1)
    assert csrf_a != csrf_b and routes.PageCache.PLACEHOLDER not in page_a + page_b
    r = second.post("/ui/actions/control", data={"context": run["context"], "state": "pause", "csrf": csrf_a})
    assert r.status_code == 403          # one session's value is worthless in another


class _Index:
    results_tip = "r1"


class _Source:
    index = _Index()
    tips = {"dev": "d1"}

    def branches(self):
        return dict(self.tips)


class _Request:
    def __init__(self, app, path="/", query=None):
        self.app, self.path, self.query = app, path, query or {}


def test_a_page_is_rendered_once_per_state_and_role():
    from reconciler.server.ui import routes
    source = _Source()
    app = {routes.SOURCE: source, routes.CACHE: routes.PageCache()}
    calls = []

    def render(request, viewer):
        calls.append(viewer.role)
        return "Board", f"<form><input name=csrf value={viewer.csrf}></form>", ""
    op_a, op_b = routes.Viewer("operator", "aaa"), routes.Viewer("operator", "bbb")
    assert routes._rendered(render, _Request(app), op_a)[1] == "<form><input name=csrf value=aaa></form>"
    assert routes._rendered(render, _Request(app), op_b)[1] == "<form><input name=csrf value=bbb></form>"
    routes._rendered(render, _Request(app, query={"notice": "done"}), op_a)     # a notice is not a new page
    assert calls == ["operator"]
    routes._rendered(render, _Request(app), routes.Viewer("viewer", None))
    assert calls == ["operator", "viewer"]
    source.tips = {"dev": "d2"}                                               # a branch moved
    routes._rendered(render, _Request(app), op_a)
    assert calls == ["operator", "viewer", "operator"]


def test_logging_out_ends_the_session_and_redirects_stay_on_this_site(service):
    client = login(service.url)
    assert "log out" in client.get("/").text
    client.post("/logout")
    assert client.get("/", follow_redirects=False).status_code == 302
    for target in ("//evil.example/", "/\t/evil.example/", "https://evil.example/", "/\\evil.example"):
        r = httpx.post(service.url + "/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
        assert r.headers["location"] == "/", target


def test_the_sequence_list_filters_by_stage_service_sequence_and_state(service, origin, human_factory):
    client = login(service.url)
    push_image(human_factory, origin, "dev", "3.4.0")
    run = wait_until(lambda: service.index.runs(stage="dev"), what="the dev run")[0]
    short = run["context"][:8]
    assert short in client.get("/sequences", params={"stage": "dev", "sequence": "delivery"}).text
    for params in ({"stage": "staging"}, {"sequence": "rollback"}, {"state": "finished"}, {"service": "other"},
                   {"project": "not-this-one"}):
        page = client.get("/sequences", params=params).text
        assert short not in page and "no sequence matches" in page, params
    form = client.get("/sequences", params={"sequence": "delivery"}).text
    assert '<option value="rollback">' in form and '<option value="delivery" selected>' in form


def test_pages_and_live_fragments_are_compressed_and_say_their_render_time(service):
    client = login(service.url)
    for headers in ({}, {"X-Fragment": "main"}):
        with client.stream("GET", "/", headers={"Accept-Encoding": "gzip", **headers}) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            assert re.fullmatch(r"render;dur=[0-9.]+, cpu;dur=[0-9.]+", r.headers["Server-Timing"])
