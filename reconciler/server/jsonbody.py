"""JSON request bodies, bounded in nesting as the HTTP layer bounds them in size.

`json.loads` of 100,000 nested `[` raises RecursionError, which aiohttp turns into a 500, and
a document nested a few hundred levels deep breaks later recursive code. Bodies here are
CloudEvents, Alertmanager notifications and control requests: none is legitimately deeper
than MAX_DEPTH, so anything deeper is a 400 with a message.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 64


class BodyError(ValueError):
    """The body is not acceptable JSON; the message says why (for a 400)."""


def loads(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    try:
        data = json.loads(body)
    except RecursionError:
        raise BodyError(f"the JSON body is nested more than {max_depth} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(f"the body is not JSON: {exc}") from None
    if depth_exceeds(data, max_depth):
        raise BodyError(f"the JSON body is nested more than {max_depth} levels deep")
    return data


def depth_exceeds(data: Any, limit: int) -> bool:
    """True when `data` nests lists/objects deeper than `limit` (iterative, stops early)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
