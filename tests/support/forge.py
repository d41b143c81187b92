"""A fake GitHub / Gitea / GitLab pull-request API on 127.0.0.1 (port picked by the kernel).

It covers what `reconciler.tasks.forges` use, with each forge's own paths, auth header and
JSON shape: open a pull request (merge request on GitLab), list open ones, read one. A test
plays the reviewer with `close(number)` and `merge(number)`; the Git side of a merge is the
test's business (the forge only reports state). Every request is recorded.
"""
from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterator

from tests.support.httpserver import LocalHTTPServer, QuietHandler

TOKEN = "forge-token-123"
API_PREFIX = {"github": "", "gitea": "/api/v1", "gitlab": "/api/v4"}


@dataclass
class FakePull:
    number: int
    head: str
    base: str
    title: str
    body: str
    state: str = "open"            # open | closed | merged


@dataclass
class FakeForge:
    kind: str
    repository: str
    token: str = TOKEN
    base_url: str = ""
    pulls: dict[int, FakePull] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api(self) -> str:
        return self.base_url + API_PREFIX[self.kind]

    def close(self, number: int) -> None:
        self.pulls[number].state = "closed"

    def merge(self, number: int) -> None:
        self.pulls[number].state = "merged"

    # -- rendering in each forge's shape

    def render(self, pr: FakePull) -> dict[str, Any]:
        if self.kind == "gitlab":
            state = {"open": "opened"}.get(pr.state, pr.state)
            return {"iid": pr.number, "web_url": f"{self.base_url}/{self.repository}/-/merge_requests/{pr.number}",
                    "state": state, "source_branch": pr.head, "target_branch": pr.base, "title": pr.title,
                    "description": pr.body}
        return {"number": pr.number, "html_url": f"{self.base_url}/{self.repository}/pull/{pr.number}",
                "state": "open" if pr.state == "open" else "closed", "merged": pr.state == "merged",
                "merged_at": "2026-01-01T00:00:00Z" if pr.state == "merged" else None,
                "head": {"ref": pr.head}, "base": {"ref": pr.base}, "title": pr.title, "body": pr.body}

    def authorized(self, headers: Any) -> bool:
        if self.kind == "github":
            return headers.get("Authorization") == f"Bearer {self.token}"
        if self.kind == "gitea":
            return headers.get("Authorization") == f"token {self.token}"
        return headers.get("PRIVATE-TOKEN") == self.token

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        prefix = API_PREFIX[self.kind]
        if not path.startswith(prefix):
            return 404, {"message": "not found"}
        path = path[len(prefix):]
        if self.kind == "gitlab":
            project = urllib.parse.quote(self.repository, safe="")
            match = re.fullmatch(rf"/projects/{re.escape(project)}/merge_requests(?:/(\d+))?", path)
            create = ("source_branch", "target_branch", "title", "description")
        else:
            match = re.fullmatch(rf"/repos/{re.escape(self.repository)}/pulls(?:/(\d+))?", path)
            create = ("head", "base", "title", "body")
        if match is None:
            return 404, {"message": f"no route {path}"}
        with self.lock:
            if match.group(1):
                pr = self.pulls.get(int(match.group(1)))
                return (200, self.render(pr)) if pr else (404, {"message": "no such pull request"})
            if method == "POST":
                head, base, title, text = (body.get(k, "") for k in create)
                if any(p.head == head and p.base == base and p.state == "open" for p in self.pulls.values()):
                    return 422, {"message": "a pull request for this branch already exists"}
                pr = FakePull(len(self.pulls) + 1, head, base, title, text)
                self.pulls[pr.number] = pr
                return 201, self.render(pr)
            wanted = query.get("state", "open")
            items = [self.render(p) for p in self.pulls.values()
                     if wanted in ("all",) or (p.state == "open") == (wanted in ("open", "opened"))]
            return 200, items


@contextlib.contextmanager
def fake_forge(kind: str, repository: str = "shop/config", token: str = TOKEN) -> Iterator[FakeForge]:
    forge = FakeForge(kind, repository, token)

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            raw = self.read_body()
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            body = json.loads(raw) if raw else {}
            forge.requests.append({"method": self.command, "path": parsed.path, "query": query, "body": body,
                                   "headers": dict(self.headers)})
            if not forge.authorized(self.headers):
                status, answer = 401, {"message": "bad credentials"}
            else:
                status, answer = forge.handle(self.command, parsed.path, query, body)
            self.reply(status, json.dumps(answer).encode())

        do_GET = _serve          # noqa: N815
        do_POST = _serve         # noqa: N815

    with LocalHTTPServer(Handler, name=f"fake-{kind}") as server:
        forge.base_url = server.base_url
        yield forge
