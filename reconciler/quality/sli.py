"""`sli.yaml`: which query answers which SLI, layered and with Keptn's placeholders.

The file can exist for the project (default branch), the stage (stage branch root) and the
service (`<service>/prometheus/sli.yaml` or `<service>/sli.yaml`); later layers win key by
key, as Keptn's prometheus-service merges them. Queries are templates: `$PROJECT`, `$STAGE`,
`$SERVICE`, `$DEPLOYMENT`, `$DURATION_SECONDS`, `$LABEL.<name>` and the SLO's `filter`
entries (`$<key>` and `$<KEY>`) are replaced as plain text, exactly as Keptn does, so
existing files keep meaning what they meant.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

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
    """Replace Keptn's placeholders (plain text replacement, no escaping, like Keptn).

    Filters go first (a filter may carry a placeholder-looking value), then the built-ins,
    then labels and the duration. Longer names are replaced before their prefixes
    (`$LABEL.region_name` before `$LABEL.region`) so the result does not depend on order.
    """
    for key in sorted(ctx.filters, key=len, reverse=True):
        value = ctx.filters[key].replace("'", "").replace('"', "")
        query = query.replace("$" + key.upper(), value).replace("$" + key, value)
    for name, value in (("$PROJECT", ctx.project), ("$STAGE", ctx.stage),
                        ("$SERVICE", ctx.service), ("$DEPLOYMENT", ctx.deployment)):
        query = query.replace(name, value)
    for key in sorted(ctx.labels, key=len, reverse=True):
        query = query.replace("$LABEL." + key, ctx.labels[key])
    return query.replace("$DURATION_SECONDS", ctx.duration)


def queries_for(slis: Iterable[str], indicators: Mapping[str, str], ctx: SliContext) -> dict[str, str | None]:
    """The rendered query of every SLI the SLO names (None when `sli.yaml` has none)."""
    out: dict[str, str | None] = {}
    for name in slis:
        if name not in out:
            query = indicators.get(name)
            out[name] = render(query, ctx) if query else None
    return out
