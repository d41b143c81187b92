"""Which actions of a job config an event starts (JES' `IsEventMatch`).

An event name is matched against the event type the way JES does it: as a Go regular
expression searched anywhere in the type (`regexp.MatchString`). So the documented wildcard
`sh.keptn.event.*.triggered` works (`.*` is "anything"), a plain type matches itself, and an
invalid expression matches nothing. The optional `jsonpath` filter then requires the value at
`property` to be a string equal to `match` (a number 1 never equals "1", as in JES).
Every matching action runs; each answers the event on its own.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from reconciler.spec.jobconfig import Action, EventMatch, JobConfig
from reconciler.tasks.jobs.jsonpath import JsonPathError, evaluate


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def type_matches(pattern: str, event_type: str) -> bool:
    compiled = _compiled(pattern)
    return bool(compiled and compiled.search(event_type))


def event_matches(match: EventMatch, event_type: str, event: dict[str, Any]) -> bool:
    if not type_matches(match.name, event_type):
        return False
    if not match.jsonpath.property:
        return True
    try:
        value = evaluate(match.jsonpath.property, event)
    except JsonPathError:
        return False
    return isinstance(value, str) and value == match.jsonpath.match


def matching_actions(config: JobConfig, event: dict[str, Any]) -> list[tuple[int, Action]]:
    """(index, action) of every action one of whose events matches, in config order."""
    event_type = str(event.get("type", ""))
    return [(i, a) for i, a in enumerate(config.actions)
            if any(event_matches(m, event_type, event) for m in a.events)]
