"""YAML loading that stays fast on the happy path and still reports line and column.

Documents are loaded with libyaml (CSafeLoader, 8x the pure-Python loader). Positions are
only needed when something is wrong, so the node tree (`compose`) is built lazily by
`locate()` for the paths that have findings.

Two PyYAML resolvers are switched off because Keptn's YAML decoder does not have them and
they turn ordinary config into values JSON schemas cannot check: timestamps (`2021-01-01`
would become a `date`) and the `=` value tag (a bare `=` would not load at all).
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

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


MAX_DOCUMENT_BYTES = 4 * 1024 * 1024       # a config file larger than this is refused, not parsed
MAX_EXPANDED_NODES = 100_000               # values a document may expand to through aliases


def check_size(text: str | bytes) -> None:
    """Refuse text larger than MAX_DOCUMENT_BYTES before any parser sees it."""
    size = len(text)
    if size > MAX_DOCUMENT_BYTES:
        raise YamlError(f"the file is {size / 1048576:.1f} MiB; config files may have at most "
                        f"{MAX_DOCUMENT_BYTES // 1048576} MiB (keep large data out of the config repo)", None, None)


def check_aliases(text: str | bytes, data: Any) -> None:
    """Refuse data whose aliases expand to more than MAX_EXPANDED_NODES values (an alias bomb:
    a few KB that every consumer walking the data would expand to gigabytes)."""
    anchor = text.find(b"&" if isinstance(text, (bytes, bytearray)) else "&")   # type: ignore[arg-type]
    if anchor < 0 or _expanded_size(data, MAX_EXPANDED_NODES) <= MAX_EXPANDED_NODES:
        return
    head = text[:anchor]
    line = (head.count(b"\n") if isinstance(head, (bytes, bytearray)) else head.count("\n")) + 1
    raise YamlError(f"aliases expand this document to more than {MAX_EXPANDED_NODES:,} values "
                    "(or it refers to itself); write the values out instead", line, None)


def load(text: str | bytes) -> Any:
    """Load one YAML document; raises YamlError with a position instead of PyYAML errors.

    Every document read from Git comes through here or `load_document`: both refuse files
    over MAX_DOCUMENT_BYTES and alias bombs, so no caller has to remember to."""
    check_size(text)
    try:
        data = yaml.load(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        return _raise(msg, mark)
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0] if str(exc) else "invalid YAML", None, None) from None
    except (ValueError, TypeError, RecursionError) as exc:  # libyaml can raise these on odd input
        raise YamlError(f"invalid YAML: {exc}", None, None) from None
    check_aliases(text, data)
    return data


def load_all(text: str | bytes) -> list[Any]:
    check_size(text)
    try:
        docs = list(yaml.load_all(text, Loader=Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        return _raise(msg, mark)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise YamlError(f"invalid YAML: {exc}", None, None) from None
    check_aliases(text, docs)
    return docs


def _raise(msg: str, mark: yaml.Mark | None) -> NoReturn:
    if mark is None:
        raise YamlError(msg, None, None) from None
    raise YamlError(msg, mark.line + 1, mark.column + 1) from None


class Positions:
    """Line/column lookup for JSON-pointer-like paths into one YAML document.

    Built once per document that has findings; `of(path)` walks the node tree and returns
    the position of the deepest node that exists on the path (so a missing key points at
    its parent mapping, which is where a person has to add it). In a stream of several
    documents it describes the first one, the one `load_document` reads.
    """

    def __init__(self, text: str | bytes):
        self._root = None
        loader = Loader(text)
        try:
            if loader.check_node():
                self._root = loader.get_node()
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            self._root = None
        finally:
            loader.dispose()

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
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
                found = node.value[step]
            if found is None:
                break
            node, best, best_key = found, found, found_key
        target = best_key if (key and best_key is not None) else best
        return (target.start_mark.line + 1, target.start_mark.column + 1)


# --- checked loading: what `reconciler validate` needs beyond the data --------------------


@dataclass(frozen=True, slots=True)
class Document:
    """The first document of a YAML stream plus what a reader of the text should know.

    Mapping keys are the scalar text as written (`on:` stays "on", `1:` stays "1"): Go's
    YAML decoder matches struct fields on that text, and it keeps every key a string for
    the JSON schemas.
    """

    data: Any
    duplicate_keys: tuple[tuple[str, int, int], ...] = ()   # (key, line, column), later wins
    more_documents: bool = False    # Go's yaml.Unmarshal reads only the first document


class _CheckingLoader(Loader):
    """Records duplicate keys (PyYAML and Keptn both keep the last one silently)."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[str, int, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)
        seen: set[str] = set()
        for key_node, _ in node.value:       # before merging `<<`, whose keys may be overridden
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    mark = key_node.start_mark
                    self.duplicate_keys.append((key_node.value, mark.line + 1, mark.column + 1))
                seen.add(key_node.value)
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key: Any = key_node.value
            else:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        "found unhashable key", key_node.start_mark) from None
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


_TAG = "tag:yaml.org,2002:"


class _Fallback(Exception):
    """The document uses a YAML feature the fast path leaves to PyYAML's constructor."""


class _FastConstructor:
    """Node tree → plain data for the common case: maps, lists, str/int/float/bool/null.

    PyYAML's generic constructor spends most of a config file's load time on bookkeeping
    (state generators, per-node dispatch). Config files use plain JSON-like YAML, so this
    walk builds the same data directly and defers to PyYAML for anything else (merge keys,
    complex keys, explicit or unusual tags). Aliases share one object, as in PyYAML.
    """

    def __init__(self, loader: _CheckingLoader):
        self._loader = loader
        self._memo: dict[int, Any] = {}
        self._scalars = {
            _TAG + "str": None,
            _TAG + "int": loader.construct_yaml_int,
            _TAG + "float": loader.construct_yaml_float,
            _TAG + "bool": loader.construct_yaml_bool,
            _TAG + "null": loader.construct_yaml_null,
        }

    def build(self, node: yaml.Node) -> Any:
        cls = node.__class__
        if cls is yaml.ScalarNode:
            try:
                convert = self._scalars[node.tag]
            except KeyError:
                raise _Fallback from None
            return node.value if convert is None else convert(node)
        seen = self._memo.get(id(node))
        if seen is not None:
            return seen
        if cls is yaml.SequenceNode:
            if node.tag != _TAG + "seq":
                raise _Fallback
            items: list[Any] = []
            self._memo[id(node)] = items
            items.extend(self.build(child) for child in node.value)
            return items
        if cls is yaml.MappingNode and node.tag == _TAG + "map":
            mapping: dict[str, Any] = {}
            self._memo[id(node)] = mapping
            for key_node, value_node in node.value:
                if key_node.__class__ is not yaml.ScalarNode or key_node.tag == _TAG + "merge":
                    raise _Fallback
                key = key_node.value
                if key in mapping:
                    mark = key_node.start_mark
                    self._loader.duplicate_keys.append((key, mark.line + 1, mark.column + 1))
                mapping[key] = self.build(value_node)
            return mapping
        raise _Fallback


def load_document(text: str | bytes) -> Document:
    """Load the first document of `text`, with duplicate keys and alias bombs reported.

    Raises YamlError (with a position where libyaml gives one) for anything that is not
    YAML, and for documents whose aliases expand to more than MAX_EXPANDED_NODES values or
    refer to themselves: walking such data would hang every consumer.
    """
    check_size(text)
    loader = _CheckingLoader(text)
    try:
        data = None
        if loader.check_node():
            node = loader.get_node()
            if node is not None:
                try:
                    data = _FastConstructor(loader).build(node)
                except _Fallback:
                    loader.duplicate_keys.clear()
                    data = loader.construct_document(node)
        try:
            more = bool(loader.check_node())
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            more = True
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        return _raise(msg, mark)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise YamlError(f"invalid YAML: {first}" if first else "invalid YAML", None, None) from None
    finally:
        loader.dispose()
    check_aliases(text, data)
    return Document(data, tuple(loader.duplicate_keys), more)


def _expanded_size(data: Any, limit: int) -> int:
    """Values visited when walking `data` as a tree (aliases counted each time), capped."""
    count = 0
    stack = [data]
    while stack:
        item = stack.pop()
        count += 1
        if count > limit:
            return count
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count
