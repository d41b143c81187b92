"""Shared HTML pieces: escaping, the page frame, state badges, times.

Every value that came from Git, an event or a request passes through `e()` (quotes too, so
it is safe in attributes). A state is always written out as text and coloured by a class,
so no meaning depends on colour alone.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

NAV = (("/", "Environment"), ("/sequences", "Sequences"), ("/evaluations", "Evaluations"),
       ("/approvals", "Approvals"), ("/problems", "Problems"), ("/config", "Config"))

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#22303c;color:#fff;padding:6px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header a{color:#dfe8f0;text-decoration:none}header a.on{color:#fff;font-weight:600;border-bottom:2px solid #fff}
header .who{margin-left:auto;font-size:12px}
main,#filters{padding:8px 16px}h1{font-size:19px;margin:6px 0}h2{font-size:16px;margin:18px 0 6px}
table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f2f4}code{font-size:12px}.muted{color:#666}.small{font-size:12px}
.pass{color:#0a6a0a}.warning{color:#8a5300}.fail,.error{color:#b00020}.run{color:#0b4f9c}.wait{color:#6b3fa0}
td.pass{background:#eef8ee}td.warning{background:#fff6e5}td.fail{background:#fdecee}td.run{background:#eaf2fc}td.wait{background:#f4eefb}
.b{display:inline-block;border-radius:3px;padding:0 4px;font-size:12px;border:1px solid currentColor}
form.i{display:inline;margin:0}button{font-size:12px;cursor:pointer}
.live{font-size:12px}.ops{margin:8px 0}.msg{max-width:60em}svg text{font:11px system-ui,sans-serif}
"""


def e(value: Any) -> str:
    """Escape for text and attribute values; None becomes ''."""
    return "" if value is None else escape(str(value), quote=True)


def when(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(start: Any, end: Any) -> str:
    if not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
        return ""
    seconds = max(0.0, end - start)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"
    return f"{seconds / 3600:.1f} h"


RESULT_CLASS = {"pass": "pass", "warning": "warning", "fail": "fail", "failed": "fail", "error": "fail"}
STATE_CLASS = {"started": "run", "triggered": "run", "waiting": "wait", "waitingForApproval": "wait",
               "paused": "wait", "aborted": "fail", "timedOut": "fail"}


def state_class(state: Any, result: Any = None) -> str:
    return RESULT_CLASS.get(str(result), "") if state == "finished" else STATE_CLASS.get(str(state), "")


def badge(text: Any, cls: str) -> str:
    return f'<span class="b {cls}">{e(text)}</span>'


def result_badge(result: Any, score: Any = None) -> str:
    if not result:
        return ""
    score_text = f" {score:.0f}" if isinstance(score, (int, float)) else ""
    return badge(f"{result}{score_text}", RESULT_CLASS.get(str(result), ""))


def short(oid: Any, n: int = 8) -> str:
    return e(str(oid)[:n]) if oid else ""


def link(href: str, text: Any, cls: str = "") -> str:
    return f'<a href="{e(href)}"{f" class={cls!r}" if cls else ""}>{e(text)}</a>'


def query(path: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(clean) if clean else "")


def path_part(text: str) -> str:
    return quote(str(text), safe="")


def table(headers: Iterable[str], rows: Iterable[str], empty: str = "none") -> str:
    body = "".join(rows)
    if not body:
        return f'<p class="muted">{e(empty)}</p>'
    return "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr>" + body + "</table>"


def action(url: str, label: str, csrf: str, fields: dict[str, Any] | None = None, confirm: bool = False) -> str:
    """A POST button (works without JavaScript); only rendered for operators."""
    hidden = "".join(f'<input type=hidden name="{e(k)}" value="{e(v)}">' for k, v in (fields or {}).items()
                     if v is not None)
    return (f'<form class=i method=post action="{e(url)}"><input type=hidden name=csrf value="{e(csrf)}">'
            f'{hidden}<button{" data-confirm=1" if confirm else ""}>{e(label)}</button></form>')


def frame(title: str, active: str, body: str, *, project: str = "", user: str = "", filters: str = "",
          live: bool = True) -> str:
    """The whole page. `body` goes into <main>, which live.js replaces on updates; `filters`
    sit outside it so what a user typed survives an update."""
    nav = "".join(f'<a href="{href}"{" class=on" if href == active else ""}>{label}</a>' for href, label in NAV)
    who = (f'<span class=who>{e(user)} <form class=i method=post action="/logout"><button>log out</button>'
           f'</form></span>') if user else ""
    refresh = "<noscript><meta http-equiv=refresh content=10></noscript>" if live else ""
    script = '<script src="/static/live.js" defer></script>' if live else ""
    status = '<span class=live id=live>live updates: off (no JavaScript)</span>' if live else ""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>{refresh}"
            f"<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>{e(title)} · {e(project or 'reconciler')}</title><style>{STYLE}</style>{script}</head>"
            f"<body><header><b>{e(project or 'reconciler')}</b>{nav}{status}{who}</header>"
            f"{f'<div id=filters>{filters}</div>' if filters else ''}"
            f"<main id=main>{body}</main></body></html>")
