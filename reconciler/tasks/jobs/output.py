"""Captured output, bounded in memory and in what reaches events and commits.

A task may print gigabytes; we keep only the last `limit` bytes (the end of a test log is
the part that says what failed) plus a margin as long as the longest secret, redact, then
drop the margin so no fragment of a secret cut at the boundary survives.
"""
from __future__ import annotations

from collections import deque

from reconciler.tasks.jobs.redact import Redactor


class TailBuffer:
    """The last `keep` bytes written (thread-safe enough for one writer and a final reader)."""

    def __init__(self, keep: int):
        self.keep = max(0, keep)
        self.total = 0
        self._chunks: deque[bytes] = deque()
        self._size = 0

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.total += len(chunk)
        self._chunks.append(chunk)
        self._size += len(chunk)
        while self._chunks and self._size - len(self._chunks[0]) >= self.keep:
            self._size -= len(self._chunks.popleft())

    def tail(self) -> bytes:
        data = b"".join(self._chunks)
        return data[-self.keep:] if self.keep else b""


def bounded_text(tail: bytes, total: int, limit: int, redactor: Redactor) -> tuple[str, bool]:
    """(text, truncated): the redacted end of a stream of `total` bytes, at most `limit` bytes."""
    text = redactor.text(tail.decode("utf-8", "replace"))
    cut = total > len(tail)
    if cut and redactor.margin:
        text = text[redactor.margin:]
    encoded = text.encode("utf-8")
    if len(encoded) > limit:
        cut = True
        text = encoded[len(encoded) - limit:].decode("utf-8", "ignore")
    if cut:
        text = f"[... output truncated: last {len(text.encode())} of {total} bytes ...]\n{text}"
    return text, cut


def capture(text: str, limit: int, redactor: Redactor) -> tuple[str, bool]:
    """Bound an already complete string (pod logs)."""
    raw = text.encode("utf-8", "replace")
    return bounded_text(raw[-(limit + redactor.margin):], len(raw), limit, redactor)
