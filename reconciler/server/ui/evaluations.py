"""Evaluations: the SLI table of one evaluation, and per stage + service a heat map
(SLI × evaluation) with trend charts of each SLI and of the score."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.server.ui.charts import heatmap, objective_status, trend
from reconciler.server.ui.html import action, e, link, path_part, query, result_badge, short, table

HISTORY = 30       # evaluations in a heat map and a trend
INVALID = ' <span class="b fail">invalidated</span>'


def _targets(targets: Any) -> str:
    if not isinstance(targets, list) or not targets:
        return ""
    parts = []
    for t in targets:
        if not isinstance(t, Mapping):
            continue
        text = str(t.get("criteria"))
        if isinstance(t.get("target_value"), (int, float)) and str(t.get("target_value")) not in text:
            text += f" (= {t['target_value']:.4g})"
        parts.append(("✗ " if t.get("violated") else "") + text)
    return e("; ".join(parts))


def why_failed(o: Mapping[str, Any]) -> str:
    """Why an objective did not pass, in words: the provider's reason, else the violated criteria."""
    if o.get("error"):
        return str(o["error"])
    status = objective_status(o)
    if status in ("fail", "warning"):
        violated = [str(t.get("criteria")) for t in (o.get("pass_targets") or []) if isinstance(t, Mapping)
                    and t.get("violated")]
        if violated:
            return "violates pass criteria " + ", ".join(violated)
    return ""


def render_detail(path: str, doc: Mapping[str, Any], csrf: str | None) -> str:
    status = "invalidated" if doc.get("invalidated") else ""
    out = [f"<h1>Evaluation {e(doc.get('stage'))} · {e(doc.get('service'))} "
           f"{result_badge(doc.get('result'), doc.get('score'))}{INVALID if status else ''}</h1>"]
    window = doc.get("window") or {}
    thresholds = doc.get("thresholds") or {}
    facts = [f"time {e(doc.get('time'))}", f"window {e(window.get('start'))} – {e(window.get('end'))}",
             f"commit <code>{short(doc.get('commit'), 12)}</code>",
             f"context {link('/sequences/' + path_part(doc.get('context') or ''), str(doc.get('context') or '')[:8])}",
             f"total score thresholds: pass {e(thresholds.get('pass')) or 'none'}, "
             f"warning {e(thresholds.get('warning')) or 'none'}",
             f"compared with {e(doc.get('compared_count', 0))} previous"]
    out.append("<p class=small>" + " · ".join(facts) + "</p>")
    if doc.get("message"):
        out.append(f"<p class=msg>{e(doc.get('message'))}</p>")
    if doc.get("error"):
        out.append(f"<p class='msg fail'>error: {e(doc.get('error'))}</p>")
    if doc.get("invalidated"):
        out.append(f"<p class=fail>Invalidated {e(doc.get('invalidated_at'))}: {e(doc.get('invalidated_reason'))}. "
                   f"Later evaluations do not compare with it.</p>")
    rows = []
    for o in doc.get("objectives") or []:
        if not isinstance(o, Mapping):
            continue
        st = objective_status(o)
        rows.append(f"<tr><td>{e(o.get('display_name') or o.get('sli'))}</td>"
                    f"<td>{e(o.get('value') if o.get('value') is not None else '–')}</td>"
                    f"<td>{e(o.get('compared_value'))}</td><td>{_targets(o.get('pass_targets'))}</td>"
                    f"<td>{_targets(o.get('warning_targets'))}</td><td>{e(o.get('weight'))}</td>"
                    f"<td class={st or 'x'}>{e(st or 'info')} {e(o.get('score'))}</td>"
                    f"<td>{'key SLI' if o.get('key_sli') else ''}</td><td class=msg>{e(why_failed(o))}</td></tr>")
    out.append("<h2>SLIs</h2>" + table(("SLI", "value", "compared value", "pass targets", "warning targets",
                                        "weight", "status / score", "key", "why it did not pass"), rows,
                                       "no objectives"))
    out.append("<p>" + link(query("/evaluations", stage=doc.get("stage"), service=doc.get("service")),
                            "heat map and trends of this stage and service") + "</p>")
    if csrf and not doc.get("invalidated"):
        out.append('<div class=ops>Operator: ' + action("/ui/actions/invalidate", "Invalidate this evaluation", csrf,
                                            {"path": path}, confirm=True)
                   + ' <span class="small muted">(Keptn\'s evaluation.invalidated: kept in the journal, never '
                     'compared with again)</span></div>')
    return "".join(out)


def columns(docs: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(SLIs in first-seen order, heat map columns oldest first) from (path, doc) newest first."""
    slis: list[str] = []
    cols = []
    for path, doc in reversed(list(docs)):
        objectives = {}
        for o in doc.get("objectives") or []:
            if isinstance(o, Mapping) and o.get("sli"):
                objectives[str(o["sli"])] = o
                if o["sli"] not in slis:
                    slis.append(str(o["sli"]))
        time = str(doc.get("time") or "")
        cols.append({"label": time[5:16].replace("T", " "), "sub": str(doc.get("commit") or "")[:7],
                     "score": doc.get("score"), "result": "invalid" if doc.get("invalidated") else doc.get("result"),
                     "objectives": objectives, "path": path, "thresholds": doc.get("thresholds") or {}})
    return slis, cols


def render_lane(stage: str, service: str, docs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    slis, cols = columns(docs)
    out = [f"<h1>Evaluations {e(stage)} · {e(service)}</h1>",
           "<h2>Heat map (SLI × evaluation, oldest left)</h2>", heatmap(slis, cols)]
    if cols:
        thresholds = cols[-1]["thresholds"]
        out.append("<h2>Trends</h2><div>")
        out.append(trend("score", [(c["label"], c["score"], c["result"]) for c in cols],
                         {"pass": thresholds.get("pass"), "warning": thresholds.get("warning")}))
        for sli in slis:
            points = []
            for c in cols:
                o = c["objectives"].get(sli)
                points.append((c["label"], o.get("value") if o else None, objective_status(o) if o else None))
            out.append(trend(sli, points))
        out.append("</div>")
    rows = [f"<tr><td>{e(c['label'])}</td><td>{result_badge(c['result'], c['score'])}</td>"
            f"<td>{link('/evaluation?path=' + path_part(c['path']), 'SLI table')}</td></tr>" for c in reversed(cols)]
    out.append("<h2>List</h2>" + table(("time", "result", "detail"), rows))
    return "".join(out)


def render_index(rows: Sequence[Mapping[str, Any]]) -> str:
    body = [f"<tr><td>{e(r.get('stage'))}</td><td>{e(r.get('service'))}</td><td>{e(r.get('time'))}</td>"
            f"<td>{result_badge(r.get('result'), r.get('score'))}{INVALID if r.get('invalidated') else ''}</td>"
            f"<td>{link('/evaluation?path=' + path_part(r['path']), 'SLI table')} · "
            f"{link(query('/evaluations', stage=r.get('stage'), service=r.get('service')), 'heat map')}</td></tr>"
            for r in rows]
    return "<h1>Evaluations</h1>" + table(("stage", "service", "time", "result", "detail"), body, "no evaluations yet")
