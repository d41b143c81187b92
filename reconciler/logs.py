"""Log lines that say which sequence they belong to: `--log-format text|json` for serve.

Every record carries `context`, `stage`, `service` and `task`: from `extra=` when the caller
knows them, else from the context variables `log_context` sets around a task (executor
threads set them, so library lines logged inside a task are attributed too). JSON output is
one object per line for log collectors (Loki, Elasticsearch, Cloud Logging); text stays the
default and adds the fields only when they are set.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

FIELDS = ("context", "stage", "service", "task")
_current: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("reconciler_log_fields", default=None)
# Libraries that log one line per HTTP request at INFO: quiet unless --log-level debug.
CHATTY = ("httpx", "httpcore", "urllib3", "kubernetes.client.rest")


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Attribute every line logged inside the block (this thread/task) to these fields."""
    merged = {**(_current.get() or {}), **{k: v for k, v in fields.items() if v}}
    token = _current.set(merged)
    try:
        yield
    finally:
        _current.reset(token)


class ContextFilter(logging.Filter):
    """Fill the four fields on every record (explicit `extra=` wins over the context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _current.get() or {}
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, current.get(name))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for name in FIELDS:
            line[name] = getattr(record, name, None)
        for name in ("result", "status", "sequence", "event"):
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


JsonFormatter.converter = __import__("time").gmtime   # timestamps in UTC, as the trailing Z says


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        where = "/".join(str(v) for v in (getattr(record, "stage", None), getattr(record, "service", None)) if v)
        task = getattr(record, "task", None)
        context = getattr(record, "context", None)
        tags = " ".join(part for part in (where, f"task={task}" if task else "",
                                          f"context={context}" if context else "") if part)
        return f"{text} [{tags}]" if tags else text


def make_handler(fmt: str = "text", stream=None) -> logging.Handler:
    """A stream handler writing `fmt` lines with the four fields filled."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be text or json (got {fmt!r})")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure(level: str = "info", fmt: str = "text", stream=None) -> logging.Handler:
    """Set up the root logger for serve (replacing its handlers); returns the handler."""
    handler = make_handler(fmt, stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    return handler
