"""Secret values never leave a runner in clear text: every string that does goes through here.

Replacement is one pass over an alternation of all values, longest first, so a secret that
contains another is replaced whole. Empty values are ignored; every other value is replaced
wherever it appears, even when it is short (failing closed costs some readability at worst).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.values = tuple(values)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None
        # the longest secret in bytes: how much of a cut-off stream to drop so no fragment survives
        self.margin = max((len(v.encode()) for v in values), default=0)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern and text else text

    __call__ = text

    def data(self, value: Any) -> Any:
        """Redact every string inside dicts and lists (keys included)."""
        if not self._pattern:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value

    def merged(self, other: Redactor) -> Redactor:
        return Redactor((*self.values, *other.values))


_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSPHRASE", "PRIVATE_KEY", "SSH_KEY")


def configured_secrets(environ: Mapping[str, str]) -> list[str]:
    """Every secret value configured for the controller (`RECONCILER_SECRET_*`, its tokens,
    passwords and keys): redacted from all job output, not only from the task that asked."""
    return [v for k, v in environ.items()
            if k.startswith("RECONCILER_") and any(w in k for w in _SECRET_WORDS) and v.strip()]
