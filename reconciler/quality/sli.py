"""`sli.yaml`: which query answers which SLI, layered and with Keptn's placeholders.

The file can exist for the project (default branch), the stage (stage branch root) and the
service (`<service>/sli.yaml`, then the provider's own `<service>/<provider>/sli.yaml`); later
layers win key by key, as Keptn's prometheus-service merges them. Which files, in which order,
is `reconciler.layout.sli_paths`; here they are parsed and merged. Queries are templates: `$PROJECT`, `$STAGE`,
`$SERVICE`, `$DEPLOYMENT`, `$DURATION_SECONDS`, `$LABEL.<name>` and the SLO's `filter`
entries (`$<key>` and `$<KEY>`) are replaced as Keptn does, except that each value is escaped
for its position in the query (`render`), so a hostile alert label cannot rewrite it.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.spec import yamltext
from reconciler.spec.sli import SliFile


class SliFileError(ValueError):
    """An `sli.yaml` that cannot be used; names the file and, when known, the line."""

    def __init__(self, source: str, message: str, line: int | None = None):
        self.source, self.detail, self.line = source, message, line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


def parse_sli(text: str | bytes, source: str = "sli.yaml") -> dict[str, str]:
    """The `indicators` of one `sli.yaml` (SLI name → query). Empty text → no indicators.

    Shape errors are raised here with a line; an indicator without a query stays "" and its
    SLI fails at evaluation time with that reason (as in Keptn).
    """
    try:
        data = yamltext.load(text)
    except yamltext.YamlError as exc:
        raise SliFileError(source, f"not valid YAML: {exc.message}", exc.line) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise SliFileError(source, "expected a mapping with `indicators: {<sli>: <query>}`", 1)
    indicators = data.get("indicators")
    if indicators is not None and not isinstance(indicators, Mapping):
        raise SliFileError(source, "`indicators` must map SLI names to queries",
                           yamltext.Positions(text).of(["indicators"])[0])
    for name, query in (indicators or {}).items():
        if isinstance(query, (Mapping, list)):
            line = yamltext.Positions(text).of(["indicators", str(name)])[0]
            raise SliFileError(source, f"indicator {name!r} must be a query string", line)
    return dict(SliFile.from_data(data).indicators)


def merge_indicators(*layers: Mapping[str, str] | None) -> dict[str, str]:
    """Project → stage → service: each later layer overrides earlier ones key by key."""
    merged: dict[str, str] = {}
    for layer in layers:
        if layer:
            merged.update(layer)
    return merged


@dataclass(frozen=True, slots=True)
class SliContext:
    """What the placeholders of a query are replaced with for one evaluation window."""

    start: float                       # window, Unix seconds
    end: float
    project: str = ""
    stage: str = ""
    service: str = ""
    deployment: str = "primary"        # Keptn: primary/canary for blue-green, else the deployment name
    labels: Mapping[str, str] = field(default_factory=dict)
    filters: Mapping[str, str] = field(default_factory=dict)   # the SLO's `filter`

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError("the evaluation window must end after it starts")

    @property
    def duration(self) -> str:
        """`$DURATION_SECONDS`: whole seconds of the window plus `s` (e.g. `600s`)."""
        return f"{int(self.end - self.start)}s"


def render(query: str, ctx: SliContext) -> str:
    """Replace Keptn's placeholders, each value escaped for where it lands in the query.

    Keptn replaced placeholders as plain text, so an alert label such as `"}) or vector(1) #`
    rewrote the query (PromQL injection). Here every value is placed so it stays one value:
    inside a double- or single-quoted string its backslashes and quotes are escaped; inside a
    backtick (raw) string backticks are dropped; outside any string it keeps only characters
    that cannot change the query's structure (letters, digits, `_ . : -`), others become `_`.
    Values without such characters come out exactly as Keptn put them, so existing files keep
    meaning what they meant. Names are matched longest first (`$LABEL.region_name` before
    `$LABEL.region`), filters win over built-ins of the same name, and a filter's own value may
    use the built-in placeholders (it is rendered first), as with Keptn's ordered replacement.
    """
    values = _placeholder_values(ctx)
    if not values:
        return query
    pattern = re.compile("|".join(re.escape(name) for name in sorted(values, key=len, reverse=True)))
    contexts = string_contexts(query)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(query):
        out.append(query[last:match.start()])
        out.append(escape_for(values[match.group()], contexts[match.start()]))
        last = match.end()
    out.append(query[last:])
    return "".join(out)


def _placeholder_values(ctx: SliContext) -> dict[str, str]:
    builtins = {"$PROJECT": ctx.project, "$STAGE": ctx.stage, "$SERVICE": ctx.service,
                "$DEPLOYMENT": ctx.deployment, "$DURATION_SECONDS": ctx.duration}
    values = dict(builtins)
    values.update({"$LABEL." + key: value for key, value in ctx.labels.items()})
    for key, raw in ctx.filters.items():
        value = raw.replace("'", "").replace('"', "")
        for name in sorted(builtins, key=len, reverse=True):       # a filter may name a built-in
            value = value.replace(name, builtins[name])
        values["$" + key] = value
        values["$" + key.upper()] = value
    return values


def string_contexts(query: str) -> list[str]:
    """For each position of `query`, the quote of the string literal it is inside ('' = none).

    PromQL's strings: "…" and '…' with backslash escapes, `…` raw. The position of a quote
    character itself counts as outside.
    """
    contexts = [""] * (len(query) + 1)
    quote = ""
    escaped = False
    for index, char in enumerate(query):
        if quote:
            contexts[index] = quote
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                contexts[index] = ""
                quote = ""
        elif char in "\"'`":
            quote = char
    return contexts


_OUTSIDE_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")


def escape_for(value: str, quote: str) -> str:
    """`value` made safe for a position inside a string opened by `quote` ('' = outside any)."""
    if quote in ('"', "'"):
        value = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
        return value.replace("\n", "\\n").replace("\r", "\\r")
    if quote == "`":
        return value.replace("`", "")
    return _OUTSIDE_UNSAFE.sub("_", value)


def queries_for(slis: Iterable[str], indicators: Mapping[str, str], ctx: SliContext) -> dict[str, str | None]:
    """The rendered query of every SLI the SLO names (None when `sli.yaml` has none)."""
    out: dict[str, str | None] = {}
    for name in slis:
        if name not in out:
            query = indicators.get(name)
            out[name] = render(query, ctx) if query else None
    return out
