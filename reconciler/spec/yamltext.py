"""YAML loading that stays fast on the happy path and still reports line and column.

Documents are loaded with libyaml (CSafeLoader, 8x the pure-Python loader). Positions are
only needed when something is wrong, so the node tree (`compose`) is built lazily by
`locate()` for the paths that have findings.

Two PyYAML resolvers are switched off because Keptn's YAML decoder does not have them and
they turn ordinary config into values JSON schemas cannot check: timestamps (`2021-01-01`
would become a `date`) and the `=` value tag (a bare `=` would not load at all).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import yaml

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_Base):  # type: ignore[misc, valid-type]
    """Safe loader without the timestamp and value resolvers."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")]
    for first, resolvers in _Base.yaml_implicit_resolvers.copy().items()
}


@dataclass(frozen=True, slots=True)
class YamlError(Exception):
    """A document that is not YAML; line and column are 1-based."""

    message: str
    line: int | None
    column: int | None

    def __str__(self) -> str:
        return self.message


def load(text: str | bytes) -> Any:
    """Load one YAML document; raises YamlError with a position instead of PyYAML errors."""
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        return _raise(msg, mark)
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0] if str(exc) else "invalid YAML", None, None) from None
    except (ValueError, TypeError, RecursionError) as exc:  # libyaml can raise these on odd input
        raise YamlError(f"invalid YAML: {exc}", None, None) from None


def load_all(text: str | bytes) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        return _raise(msg, mark)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise YamlError(f"invalid YAML: {exc}", None, None) from None


def _raise(msg: str, mark) -> Any:
    if mark is None:
        raise YamlError(msg, None, None) from None
    raise YamlError(msg, mark.line + 1, mark.column + 1) from None


class Positions:
    """Line/column lookup for JSON-pointer-like paths into one YAML document.

    Built once per document that has findings; `of(path)` walks the node tree and returns
    the position of the deepest node that exists on the path (so a missing key points at
    its parent mapping, which is where a person has to add it).
    """

    def __init__(self, text: str | bytes):
        try:
            self._root = yaml.compose(text, Loader=Loader)
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            self._root = None

    def of(self, path: Iterable[Any], *, key: bool = False) -> tuple[int | None, int | None]:
        """Position of the node at `path`; with key=True the position of the last mapping key."""
        node = self._root
        if node is None:
            return (None, None)
        best = node
        best_key = None
        for step in path:
            found = None
            found_key = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(step):
                        found, found_key = v, k
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if 0 <= step < len(node.value):
                    found = node.value[step]
            if found is None:
                break
            node, best, best_key = found, found, found_key
        target = best_key if (key and best_key is not None) else best
        return (target.start_mark.line + 1, target.start_mark.column + 1)
