"""Chat notifications: Slack, Microsoft Teams and generic JSON webhooks from `reconciler.yaml`.

```yaml
spec:
  notifications:
    - name: team
      kind: slack                      # or teams, generic (with `template`)
      urlEnv: SLACK_WEBHOOK_URL        # the webhook URL is a secret: from the environment
      events: [sequence.failed, approval.waiting, escalation]
      stages: [staging, production]
      rateLimit: {count: 10, per: 1m}
      retries: 3
```

Each recorded event is turned into a `Notice` (chatmessages.py); each target whose filters
match gets one message. A token bucket per target limits a storm (a flapping alert, a burst
of failing deliveries): what exceeds it is dropped at once, counted, and the next message that
goes out says how many were dropped. Delivery runs on one background thread with a bounded
queue and retries connection errors, 429 (honouring Retry-After) and 5xx with exponential
backoff, so neither a slow chat service nor a storm ever delays the controller.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.controller.chatmessages import Notice, generic_payload, notice_for, slack_payload, teams_payload
from reconciler.engine.events import CloudEvent
from reconciler.spec.settings import NotificationTarget, Settings

log = logging.getLogger("reconciler.chat")

USER_AGENT = "reconciler-notifications/1"
MAX_RETRY_AFTER = 30.0


class TokenBucket:
    """`count` messages at once, refilled at `count` per `per` seconds."""

    def __init__(self, count: int, per: float, clock: Callable[[], float]):
        self.capacity, self.rate, self.clock = float(count), count / max(per, 1e-9), clock
        self.tokens, self.updated = float(count), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def wanted(target: NotificationTarget, notice: Notice) -> bool:
    return (notice.event in target.events and (not target.stages or notice.stage in target.stages)
            and (not target.services or notice.service in target.services))


def payload_for(target: NotificationTarget, notice: Notice, suppressed: int) -> Any:
    if target.kind == "slack":
        return slack_payload(notice, suppressed)
    if target.kind == "teams":
        return teams_payload(notice, suppressed)
    return generic_payload(target.template, notice, suppressed)


@dataclass(frozen=True)
class Message:
    target: NotificationTarget
    notice: Notice
    suppressed: int


class ChatNotifier:
    def __init__(self, settings: Callable[[], Settings], *, environ: Mapping[str, str] = os.environ,
                 timeout: float = 5.0, base_delay: float = 0.5, max_queue: int = 1000,
                 clock: Callable[[], float] = time.monotonic, transport: httpx.BaseTransport | None = None,
                 metrics: Any = None):
        self._settings = settings
        self._metrics = metrics
        self._environ = environ
        self._base_delay = base_delay
        self._clock = clock
        self._client = httpx.Client(timeout=timeout, transport=transport, headers={"User-Agent": USER_AGENT})
        self._queue: queue.Queue[Message | None] = queue.Queue(maxsize=max_queue)
        self._buckets: dict[tuple[str, int, float], TokenBucket] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()
        self.delivered = self.failed = self.rate_limited = self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chat-notifications", daemon=True)
        self._thread.start()

    # -- Notifier ---------------------------------------------------------------------------

    def send(self, event: CloudEvent) -> None:
        targets = self._settings().spec.notifications
        if not targets:
            return
        notice = notice_for(event)
        if notice is None:
            return
        for target in targets:
            if wanted(target, notice):
                self._admit(target, notice)

    def escalate(self, event: CloudEvent) -> None:
        """Nothing more: the escalation event is recorded, so `send` has seen it."""

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._client.close()

    def drain(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _count(self, target: NotificationTarget, outcome: str) -> None:
        """`delivered`, `failed`, `rate_limited` or `dropped`, here and on /metrics."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        if self._metrics is not None:
            self._metrics.notifications.labels(target.name, outcome).inc()

    # -- rate limit ---------------------------------------------------------------------------

    def _admit(self, target: NotificationTarget, notice: Notice) -> None:
        key = (target.name, target.rateLimit.count, target.rateLimit.per)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(target.rateLimit.count, target.rateLimit.per, self._clock)
            if not bucket.take():
                self._suppressed[target.name] = self._suppressed.get(target.name, 0) + 1
                self._count(target, "rate_limited")
                if self._suppressed[target.name] == 1:
                    log.warning("notification %s: rate limit of %d per %gs reached; dropping messages",
                                target.name, target.rateLimit.count, target.rateLimit.per)
                return
            suppressed = self._suppressed.pop(target.name, 0)
        try:
            self._queue.put_nowait(Message(target, notice, suppressed))
        except queue.Full:
            self._count(target, "dropped")
            log.warning("notification queue full: dropped a message for %s", target.name)

    # -- delivery -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            try:
                if item is not None:
                    self._deliver(item)
            except Exception:  # noqa: BLE001 - one bad message must not end the thread
                log.exception("notification delivery failed")
                if item is not None:
                    self._count(item.target, "failed")
            finally:
                self._queue.task_done()

    def _url(self, target: NotificationTarget) -> str | None:
        if target.url:
            return target.url
        url = self._environ.get(target.urlEnv or "", "")
        if not url:
            log.error("notification %s: environment variable %s is empty; not sending", target.name, target.urlEnv)
        return url or None

    def _deliver(self, message: Message) -> None:
        target = message.target
        url = self._url(target)
        if url is None:
            self._count(target, "failed")
            return
        body = payload_for(target, message.notice, message.suppressed)
        reason = ""
        for attempt in range(target.retries + 1):
            if self._stop.is_set() and attempt:
                break
            delay = self._base_delay * (2 ** attempt)
            try:
                response = self._client.post(url, json=body)
                if response.status_code < 300:
                    self._count(target, "delivered")
                    return
                reason = f"HTTP {response.status_code}"
                if response.status_code == 429:
                    delay = max(delay, min(_retry_after(response), MAX_RETRY_AFTER))
                elif response.status_code < 500:
                    log.warning("notification %s answered %s for %s; not retrying", target.name,
                                response.status_code, message.notice.event)
                    self._count(target, "failed")
                    return
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            if attempt < target.retries:
                self._stop.wait(delay)
        log.warning("notification %s: giving up on %s after %d attempts (%s)", target.name,
                    message.notice.event, target.retries + 1, reason)
        self._count(target, "failed")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0


class Notifiers:
    """Several notifiers as one (the controller has one `notifier`)."""

    def __init__(self, *notifiers: Any):
        self.notifiers = notifiers

    def send(self, event: CloudEvent) -> None:
        for notifier in self.notifiers:
            notifier.send(event)

    def escalate(self, event: CloudEvent) -> None:
        for notifier in self.notifiers:
            notifier.escalate(event)

    def close(self) -> None:
        for notifier in self.notifiers:
            notifier.close()
