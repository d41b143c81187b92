"""Outbound webhooks: recorded CloudEvents POSTed to subscriptions in `reconciler.yaml`.

```yaml
spec:
  webhooks:
    - name: chat
      url: https://hooks.example.com/reconciler
      events: ["sh.keptn.event.*.finished", "sh.keptn.event.escalation.*"]
      secretEnv: CHAT_WEBHOOK_SECRET     # HMAC-SHA256 key, from the environment
      retries: 3
  remediation:
    escalationWebhook: chat              # also called for every escalation, whatever its patterns
```

Each delivery is a structured CloudEvent (`application/cloudevents+json`) with
`X-Reconciler-Signature: sha256=<hex HMAC of the body>` when a secret is configured (the
same scheme our own generic receiver checks), `ce-id` and `ce-type` headers for routing,
retried with exponential backoff on transport errors and 5xx. Deliveries run on one
background thread with a bounded queue, so a slow chat server never slows the controller;
when the queue is full the oldest delivery is dropped and counted.
"""
from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.engine.events import CloudEvent
from reconciler.spec.settings import Settings, WebhookSubscription

log = logging.getLogger("reconciler.notify")

USER_AGENT = "reconciler-webhooks/1"


def matches(subscription: WebhookSubscription, event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in subscription.events)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    subscription: WebhookSubscription
    event: dict[str, Any]


class WebhookNotifier:
    def __init__(self, settings: Callable[[], Settings], *, environ: Mapping[str, str] = os.environ,
                 max_queue: int = 1000, timeout: float = 5.0, base_delay: float = 0.5,
                 transport: httpx.BaseTransport | None = None):
        self._settings = settings
        self._environ = environ
        self._queue: queue.Queue[Delivery | None] = queue.Queue(maxsize=max_queue)
        self._base_delay = base_delay
        self._client = httpx.Client(timeout=timeout, transport=transport,
                                    headers={"User-Agent": USER_AGENT})
        self.dropped = 0
        self.delivered = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    # -- Notifier ---------------------------------------------------------------------------

    def send(self, event: CloudEvent) -> None:
        for sub in self._settings().spec.webhooks:
            if matches(sub, event.type):
                self._enqueue(Delivery(sub, event.to_dict()))

    def escalate(self, event: CloudEvent) -> None:
        settings = self._settings()
        name = settings.spec.remediation.escalationWebhook
        if not name:
            return
        sub = next((s for s in settings.spec.webhooks if s.name == name), None)
        if sub is None:
            log.error("escalationWebhook %r names no webhook in reconciler.yaml", name)
            return
        if not matches(sub, event.type):   # `send` already delivered it otherwise
            self._enqueue(Delivery(sub, event.to_dict()))

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._client.close()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery was attempted (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    # -- delivery ---------------------------------------------------------------------------

    def _enqueue(self, delivery: Delivery) -> None:
        while True:
            try:
                self._queue.put_nowait(delivery)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self._queue.task_done()
                    self.dropped += 1
                    log.warning("webhook queue full: dropped the oldest delivery")
                except queue.Empty:
                    pass

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            try:
                if item is not None:
                    self._deliver(item)
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: Delivery) -> None:
        sub = delivery.subscription
        body = json.dumps(delivery.event, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/cloudevents+json",
                   "ce-id": str(delivery.event.get("id")), "ce-type": str(delivery.event.get("type"))}
        if sub.secretEnv:
            secret = self._environ.get(sub.secretEnv, "")
            if not secret:
                log.error("webhook %s: environment variable %s is empty; not sending unsigned", sub.name,
                          sub.secretEnv)
                self.failed += 1
                return
            headers["X-Reconciler-Signature"] = signature(secret, body)
        for attempt in range(sub.retries + 1):
            if self._stop.is_set() and attempt:
                break
            try:
                response = self._client.post(sub.url, content=body, headers=headers)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        log.warning("webhook %s answered %s for %s; not retrying", sub.name,
                                    response.status_code, delivery.event.get("type"))
                        self.failed += 1
                    else:
                        self.delivered += 1
                    return
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            if attempt < sub.retries:
                self._stop.wait(self._base_delay * (2 ** attempt))
        log.warning("webhook %s: giving up on %s after %d attempts (%s)", sub.name,
                    delivery.event.get("type"), sub.retries + 1, reason)
        self.failed += 1
