"""A fake GitHub / Gitea / GitLab pull-request API on 127.0.0.1 (port picked by the kernel).

It covers what `reconciler.tasks.forges` use, with each forge's own paths, auth header and
JSON shape: open a pull request (merge request on GitLab), list open ones, read one; commit
statuses (GitHub/Gitea `POST /repos/{o}/{r}/statuses/{sha}` with `state`/`context`, GitLab
`POST /projects/{id}/statuses/{sha}` with `state` in its own words and `name`); comments on a
pull request (GitHub/Gitea issue comments, edited by `PATCH /repos/{o}/{r}/issues/comments/{id}`;
GitLab merge request notes, edited by `PUT …/notes/{id}`). `down = True` makes every call a 503. A test
plays the reviewer with `close(number)` and `merge(number)`; the Git side of a merge is the
test's business (the forge only reports state). Every request is recorded.
"""
from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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
    statuses: list[dict[str, Any]] = field(default_factory=list)      # as posted, oldest first
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    down: bool = False

    def status(self, commit: str, context: str) -> dict[str, Any] | None:
        """The latest status named `context` on `commit` (what the forge shows)."""
        key = "name" if self.kind == "gitlab" else "context"
        found = [s for s in self.statuses if s["sha"] == commit and s.get(key) == context]
        return found[-1] if found else None

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

    def _statuses_and_comments(self, method: str, path: str, body: Any) -> tuple[int, Any] | None:
        if self.kind == "gitlab":
            root = f"/projects/{urllib.parse.quote(self.repository, safe='')}"
            states = {"pending", "running", "success", "failed", "canceled", "skipped"}
            status = re.fullmatch(rf"{re.escape(root)}/statuses/([0-9a-f]{{40}})", path)
            listing = re.fullmatch(rf"{re.escape(root)}/merge_requests/(\d+)/notes", path)
            edit = re.fullmatch(rf"{re.escape(root)}/merge_requests/(\d+)/notes/(\d+)", path)
            edit_method, name_key = "PUT", "name"
        else:
            root = f"/repos/{self.repository}"
            states = {"pending", "success", "error", "failure"} | ({"warning"} if self.kind == "gitea" else set())
            status = re.fullmatch(rf"{re.escape(root)}/statuses/([0-9a-f]{{40}})", path)
            listing = re.fullmatch(rf"{re.escape(root)}/issues/(\d+)/comments", path)
            edit = re.fullmatch(rf"{re.escape(root)}/issues/comments/(\d+)", path)
            edit_method, name_key = "PATCH", "context"
        with self.lock:
            if status and method == "POST":
                if body.get("state") not in states or not body.get(name_key):
                    return 422, {"message": f"state must be one of {sorted(states)} and {name_key} is required"}
                if self.kind == "github" and len(body.get("description") or "") > 140:
                    return 422, {"message": "description is too long (maximum is 140 characters)"}
                self.statuses.append({"sha": status.group(1), **body})
                return 201, {"id": len(self.statuses), **body}
            if listing:
                number = int(listing.group(1))
                if number not in self.pulls:
                    return 404, {"message": "no such pull request"}
                notes = self.comments.setdefault(number, [])
                if method == "GET":
                    return 200, list(notes)
                if method == "POST":
                    note = {"id": 1000 + sum(len(c) for c in self.comments.values()), "body": body["body"]}
                    notes.append(note)
                    return 201, note
            if edit and method == edit_method:
                note_id = int(edit.group(edit.lastindex or 1))
                for notes in self.comments.values():
                    for note in notes:
                        if note["id"] == note_id:
                            note["body"] = body["body"]
                            return 200, note
                return 404, {"message": "no such comment"}
        return None

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
        extra = self._statuses_and_comments(method, path, body)
        if extra is not None:
            return extra
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
            if forge.down:
                status, answer = 503, {"message": "down for maintenance"}
            elif not forge.authorized(self.headers):
                status, answer = 401, {"message": "bad credentials"}
            else:
                status, answer = forge.handle(self.command, parsed.path, query, body)
            self.reply(status, json.dumps(answer).encode())

        do_GET = _serve          # noqa: N815
        do_POST = _serve         # noqa: N815
        do_PATCH = _serve        # noqa: N815
        do_PUT = _serve          # noqa: N815

    with LocalHTTPServer(Handler, name=f"fake-{kind}") as server:
        forge.base_url = server.base_url
        yield forge
