"""SVG charts drawn on the server (no chart library, nothing from a CDN): the SLI × evaluation
heat map and trend lines. Every cell writes its status as a symbol and its value as text,
so the colour only repeats what the text says."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.server.ui.html import e

FILL = {"pass": "#cfeccf", "warning": "#ffe2a8", "fail": "#f7c1c8", None: "#eeeeee"}
MARK = {"pass": "✓", "warning": "!", "fail": "✗", None: "·"}


def _num(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def objective_status(o: Mapping[str, Any]) -> str | None:
    status = o.get("status")
    return {"pass": "pass", "warning": "warning", "fail": "fail", "failed": "fail"}.get(str(status))


def heatmap(slis: Sequence[str], columns: Sequence[Mapping[str, Any]]) -> str:
    """`columns`: oldest first, each `{label, score, result, objectives: {sli: objective}}`."""
    if not columns or not slis:
        return '<p class="muted">no evaluations yet</p>'
    cw, ch, left, top = 80, 22, 150, 40
    width, height = left + cw * len(columns) + 4, top + ch * (len(slis) + 1) + 4
    out = [f'<svg class=heatmap role=img aria-label="SLI heat map" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    for j, col in enumerate(columns):
        x = left + j * cw
        out.append(f'<text x="{x + cw / 2}" y="{top - 24}" text-anchor=middle>{e(col.get("label"))}</text>'
                   f'<text x="{x + cw / 2}" y="{top - 8}" text-anchor=middle>{e(col.get("sub", ""))}</text>')
    for i, sli in enumerate(list(slis) + ["score"]):
        y = top + i * ch
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor=end>{e(sli)}</text>')
        for j, col in enumerate(columns):
            x = left + j * cw
            if sli == "score":
                status, text = col.get("result"), _num(col.get("score"))
            else:
                o = (col.get("objectives") or {}).get(sli)
                status = objective_status(o) if o else None
                text = _num(o.get("value")) if o else "–"
            out.append(f'<g><title>{e(sli)} {e(col.get("label"))}: {e(status or "no value")} {e(text)}</title>'
                       f'<rect x="{x + 1}" y="{y + 1}" width="{cw - 2}" height="{ch - 2}" '
                       f'fill="{FILL.get(status, FILL[None])}"/><text x="{x + cw / 2}" y="{y + 15}" '
                       f'text-anchor=middle>{MARK.get(status, "·")} {e(text)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def trend(title: str, points: Sequence[tuple[str, Any, str | None]], lines: Mapping[str, float] | None = None) -> str:
    """A line chart: `points` = (label, value, status) oldest first; `lines` = named thresholds."""
    values = [v for _, v, _ in points if isinstance(v, (int, float))]
    if not values:
        return f'<p class="muted">{e(title)}: no values</p>'
    extra = [v for v in (lines or {}).values() if isinstance(v, (int, float))]
    lo, hi = min(values + extra), max(values + extra)
    if hi == lo:
        hi, lo = hi + 1, lo - 1
    w, h, left, top, bottom = 360, 140, 44, 18, 22
    step = (w - left - 10) / max(1, len(points) - 1)

    def y(v: float) -> float:
        return top + (h - top - bottom) * (1 - (v - lo) / (hi - lo))
    out = [f'<svg class=trend role=img aria-label="{e(title)} trend" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg"><text x="4" y="12">{e(title)}</text>'
           f'<text x="{left - 4}" y="{y(hi) + 4}" text-anchor=end>{_num(hi)}</text>'
           f'<text x="{left - 4}" y="{y(lo) + 4}" text-anchor=end>{_num(lo)}</text>'
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - 6}" y2="{h - bottom}" stroke="#999"/>']
    for name, v in (lines or {}).items():
        if isinstance(v, (int, float)):
            out.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{w - 6}" y2="{y(v):.1f}" stroke="#999" '
                       f'stroke-dasharray="4 3"/><text x="{w - 8}" y="{y(v) - 3:.1f}" text-anchor=end>{e(name)}</text>')
    coords = [(left + i * step, y(v), label, v, status) for i, (label, v, status) in enumerate(points)
              if isinstance(v, (int, float))]
    out.append('<polyline fill="none" stroke="#22303c" stroke-width="1.5" points="'
               + " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, *_ in coords) + '"/>')
    for cx, cy, label, v, status in coords:
        colour = {"pass": "#0a6a0a", "warning": "#8a5300", "fail": "#b00020"}.get(str(status), "#555")
        out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{colour}"><title>{e(label)}: {_num(v)} '
                   f'{e(status or "")}</title></circle>')
    out.append("</svg>")
    return "".join(out)
