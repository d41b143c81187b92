"""An HTTP receiver on 127.0.0.1 that records what outbound webhooks send."""
from __future__ import annotations

from tests.support.httpserver import LocalHTTPServer, QuietHandler


class Receiver:
    """A chat server on 127.0.0.1 that records requests; `fail_first` answers 503 first;
    `answers` is a list of (status, headers) given to the first requests, in order."""

    def __init__(self, fail_first: int = 0, answers: list[tuple[int, dict[str, str]]] | None = None):
        self.requests: list[tuple[dict, bytes]] = []
        self.fail_first = fail_first
        self.answers = list(answers or [])
        outer = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.read_body()
                outer.requests.append((dict(self.headers), body))
                status, headers = 503 if len(outer.requests) <= outer.fail_first else 202, {}
                if len(outer.requests) <= len(outer.answers):
                    status, headers = outer.answers[len(outer.requests) - 1]
                self.reply(status, content_type=None, headers=list(headers.items()))

        self.server = LocalHTTPServer(Handler, name="webhook-receiver").start()
        self.url = f"{self.server.base_url}/hook"

    def close(self):
        self.server.stop()
