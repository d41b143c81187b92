"""Commit-message trailers (`Key: value` lines in the last paragraph), parsed and formatted.

Trailers are how a commit says what it belongs to (`Reconciler-Context`), what it means
(`Reconciler-Event`, `Reconciler-Result`) and what a person wants (`Reconciler-Skip`).
The rules follow `git interpret-trailers` closely enough that a trailer written by hand
with `git commit -m subject -m "Reconciler-Skip: true"` is read the same way git reads it:

* only the last paragraph can hold trailers, and never the subject paragraph;
* every line of that paragraph is a trailer or an indented continuation of one;
* keys are compared case-insensitively; a key may repeat.

Pure: no Git access, so the engine can reason about trailers in tests without a repo.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Trailers:
    """The ordered `(key, value)` pairs of one message, with case-insensitive lookup."""

    pairs: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str | None = None) -> str | None:
        """The last value of `key` (git's "last one wins" for single-valued keys)."""
        wanted = key.lower()
        for k, v in reversed(self.pairs):
            if k.lower() == wanted:
                return v
        return default

    def get_all(self, key: str) -> tuple[str, ...]:
        wanted = key.lower()
        return tuple(v for k, v in self.pairs if k.lower() == wanted)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def to_dict(self) -> dict[str, str]:
        """Key → last value (keys as first written); for logs and JSON."""
        out: dict[str, str] = {}
        for k, v in self.pairs:
            existing = next((e for e in out if e.lower() == k.lower()), k)
            out[existing] = v
        return out


def _paragraphs(message: str) -> list[list[str]]:
    paras: list[list[str]] = []
    current: list[str] = []
    for line in message.replace("\r\n", "\n").split("\n"):
        if line.startswith("#"):
            continue  # commit-template comments are not part of the message
        if line.strip():
            current.append(line)
        elif current:
            paras.append(current)
            current = []
    if current:
        paras.append(current)
    return paras


def parse(message: str) -> Trailers:
    """Trailers of `message`; empty when its last paragraph is not a trailer block."""
    paras = _paragraphs(message)
    if len(paras) < 2:
        return Trailers()
    pairs: list[tuple[str, str]] = []
    for line in paras[-1]:
        if line[:1] in (" ", "\t") and pairs:
            key, value = pairs[-1]
            pairs[-1] = (key, f"{value} {line.strip()}".strip())
            continue
        match = _LINE.match(line)
        if match is None:
            return Trailers()
        pairs.append((match.group(1), match.group(2)))
    return Trailers(tuple(pairs))


def _normalise(trailers: Mapping[str, str] | Iterable[tuple[str, str]] | Trailers | None) -> list[tuple[str, str]]:
    if trailers is None:
        return []
    if isinstance(trailers, Trailers):
        return list(trailers.pairs)
    if isinstance(trailers, Mapping):
        return [(str(k), str(v)) for k, v in trailers.items()]
    return [(str(k), str(v)) for k, v in trailers]


def validate(key: str, value: str) -> None:
    """Refuse a trailer git would not read back the same way."""
    if not _KEY.match(key):
        raise ValueError(f"trailer key {key!r} must be letters, digits and '-' (like Reconciler-Context)")
    if "\n" in value or "\r" in value:
        raise ValueError(f"trailer {key} has a line break in its value; trailers are one line")


def format_message(message: str,
                   trailers: Mapping[str, str] | Iterable[tuple[str, str]] | Trailers | None = None) -> str:
    """`message` with `trailers` appended as its last paragraph (one `Key: value` a line).

    If the message already ends in a trailer block, the new trailers join that block
    instead of starting a second one (which would hide the first from parsers).
    Raises ValueError for a key or value git could not round-trip.
    """
    pairs = _normalise(trailers)
    for key, value in pairs:
        validate(key, value)
    body = message.replace("\r\n", "\n").strip("\n").rstrip()
    if not body:
        raise ValueError("commit message is empty; give it a subject line")
    if not pairs:
        return body + "\n"
    lines = "\n".join(f"{k}: {v}" for k, v in pairs)
    separator = "\n" if parse(body) else "\n\n"
    return f"{body}{separator}{lines}\n"
