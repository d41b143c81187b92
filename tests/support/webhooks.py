"""An HTTP receiver on 127.0.0.1 that records what outbound webhooks send."""
from __future__ import annotations

from tests.support.httpserver import LocalHTTPServer, QuietHandler


class Receiver:
    """A chat server on 127.0.0.1 that records requests; `fail_first` answers 503 first."""

    def __init__(self, fail_first: int = 0):
        self.requests: list[tuple[dict, bytes]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.read_body()
                outer.requests.append((dict(self.headers), body))
                self.reply(503 if len(outer.requests) <= outer.fail_first else 202, content_type=None)

        self.server = LocalHTTPServer(Handler, name="webhook-receiver").start()
        self.url = f"{self.server.base_url}/hook"

    def close(self):
        self.server.stop()
