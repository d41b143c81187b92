"""Context ids as people type them: the full UUID or any unique prefix of at least 6
characters (what `status` prints is 8), resolved against the controller's index."""
from __future__ import annotations

import re
from typing import Any

from reconciler.cli.output import EXIT_USAGE, fail

MIN_PREFIX = 6
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CANDIDATES_SHOWN = 10


class ContextError(ValueError):
    """Too short, unknown or ambiguous; the message says which and lists candidates."""


def looks_like_uuid(text: str) -> bool:
    return bool(_UUID.match(text))


def matching_contexts(index: Any, prefix: str, limit: int = 50) -> list[dict[str, Any]]:
    """Distinct contexts starting with `prefix`: {context, stage, service, sequence, state}."""
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = index.db.execute(
        "SELECT context, stage, service, sequence, state FROM runs WHERE context LIKE ? ESCAPE '\\' "
        "GROUP BY context ORDER BY MAX(triggered_at) DESC LIMIT ?", (like, limit)).fetchall()
    return [dict(zip(("context", "stage", "service", "sequence", "state"), tuple(r), strict=True)) for r in rows]


def resolve(index: Any, given: str) -> str:
    """The full context id `given` stands for. Raises ContextError."""
    given = given.strip()
    if looks_like_uuid(given):
        return given.lower()
    if len(given) < MIN_PREFIX:
        raise ContextError(f"context {given!r} is too short: give at least {MIN_PREFIX} characters "
                           f"of the id (`reconciler status` shows 8)")
    found = matching_contexts(index, given.lower(), limit=_CANDIDATES_SHOWN + 1)
    if not found:
        raise ContextError(f"no context starts with {given!r} (see `reconciler get sequences`)")
    if len(found) > 1:
        shown = "\n".join(f"  {c['context']}  {c['stage']}/{c['service']} {c['sequence']} ({c['state']})"
                          for c in found[:_CANDIDATES_SHOWN])
        more = " (and more)" if len(found) > _CANDIDATES_SHOWN else ""
        raise ContextError(f"context prefix {given!r} is ambiguous; it matches{more}:\n{shown}\n"
                           f"give more characters")
    return str(found[0]["context"])


def resolve_or_fail(index: Any, given: str) -> str:
    try:
        return resolve(index, given)
    except ContextError as exc:
        fail(str(exc), EXIT_USAGE)
