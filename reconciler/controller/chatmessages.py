"""Chat messages for recorded events (pure): which events become a notification, and the
Slack Block Kit, Microsoft Teams Adaptive Card and generic-template bodies for it.

Sequence ends (`sh.keptn.event.<stage>.<sequence>.finished`) are `sequence.finished` when the
result is pass or warning and the status succeeded, else `sequence.failed`; a manual approval
that starts waiting (`approval.started`) is `approval.waiting`; a remediation action that ran
(`action.finished`) is `remediation`; `escalation.triggered` is `escalation`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reconciler.engine.events import CloudEvent, parse_type

# Slack documents these limits for the blocks we send (longer text is rejected, not cut).
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000
SLACK_FIELD_MAX = 2000
TEAMS_TEXT_MAX = 4000
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Notice:
    """What happened, in words, independent of the chat it goes to."""

    event: str              # one of settings.NOTIFICATION_EVENTS
    title: str
    text: str
    project: str
    stage: str
    service: str
    context: str
    sequence: str = ""
    result: str = ""
    status: str = ""
    message: str = ""
    link: str = ""

    def facts(self) -> list[tuple[str, str]]:
        rows = [("Project", self.project), ("Stage", self.stage), ("Service", self.service),
                ("Sequence", self.sequence), ("Result", f"{self.result}/{self.status}" if self.status else self.result),
                ("Context", self.context)]
        return [(k, v) for k, v in rows if v]

    def fields(self) -> dict[str, str]:
        return {"event": self.event, "title": self.title, "text": self.text, "project": self.project,
                "stage": self.stage, "service": self.service, "sequence": self.sequence, "result": self.result,
                "status": self.status, "message": self.message, "context": self.context, "link": self.link}


def notice_for(event: CloudEvent) -> Notice | None:
    """The notification an event is worth, or None."""
    parsed = parse_type(event.type)
    if parsed is None:
        return None
    data: dict[str, Any] = event.data or {}
    base = {"project": str(data.get("project") or ""), "stage": str(data.get("stage") or parsed.stage or ""),
            "service": str(data.get("service") or ""), "context": event.shkeptncontext,
            "message": str(data.get("message") or "")}
    where = f"{base['service']} in {base['stage']}" if base["service"] else base["stage"]
    if parsed.scope == "sequence" and parsed.kind == "finished":
        result, status = str(data.get("result") or ""), str(data.get("status") or "")
        ok = result in ("pass", "warning") and status in ("succeeded", "")
        verb = "finished" if ok else "failed"
        return Notice(event="sequence.finished" if ok else "sequence.failed",
                      title=f"{parsed.sequence} of {where} {verb} ({result or status})",
                      text=base["message"] or f"The {parsed.sequence} sequence ended with {result}/{status}.",
                      sequence=parsed.sequence or "", result=result, status=status, **base)
    if parsed.scope != "task":
        return None
    if parsed.task == "approval" and parsed.kind == "started":
        approval = _mapping(data.get("approval"))
        pull = _mapping(approval.get("pullRequest"))
        link = str(pull.get("url") or "")
        branch = str(approval.get("branch") or "")
        text = base["message"] or (f"Merge the branch `{branch}` to approve the change, delete it to decline."
                                   if branch else "A change waits for approval.")
        return Notice(event="approval.waiting", title=f"Approval waiting: {where}", text=text, link=link, **base)
    if parsed.task == "action" and parsed.kind == "finished":
        result = str(data.get("result") or "")
        return Notice(event="remediation", title=f"Remediation action ran for {where} ({result})",
                      text=base["message"] or "A remediation action finished.", result=result,
                      status=str(data.get("status") or ""), **base)
    if parsed.task == "escalation" and parsed.kind == "triggered":
        return Notice(event="escalation", title=f"Escalation: {where}",
                      text=base["message"] or "Remediation ran out of actions; a person needs to look.", **base)
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def slack_payload(notice: Notice, suppressed: int = 0) -> dict[str, Any]:
    """An incoming-webhook body: `text` (the notification fallback) and Block Kit blocks."""
    text = notice.text + (f"\n_{suppressed} earlier notification(s) dropped by the rate limit._" if suppressed else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(notice.title, SLACK_HEADER_MAX), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SLACK_TEXT_MAX)},
         "fields": [{"type": "mrkdwn", "text": _cut(f"*{k}*\n{v}", SLACK_FIELD_MAX)} for k, v in notice.facts()][:10]},
    ]
    if notice.link:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": notice.link}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"reconciler · {notice.event}"}]})
    return {"text": _cut(f"{notice.title}: {notice.text}", SLACK_TEXT_MAX), "blocks": blocks}


def teams_payload(notice: Notice, suppressed: int = 0) -> dict[str, Any]:
    """A Teams webhook message carrying one Adaptive Card (schema 1.4)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": notice.title, "weight": "Bolder", "size": "Medium", "wrap": True,
         "color": "Good" if notice.event == "sequence.finished" else
         "Attention" if notice.event in ("sequence.failed", "escalation") else "Default"},
        {"type": "TextBlock", "text": _cut(notice.text, TEAMS_TEXT_MAX), "wrap": True},
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in notice.facts()]},
    ]
    if suppressed:
        body.append({"type": "TextBlock", "text": f"{suppressed} earlier notification(s) dropped by the rate limit.",
                     "isSubtle": True, "wrap": True})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard", "version": "1.4", "body": body}
    if notice.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": notice.link}]
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def generic_payload(template: Any, notice: Notice, suppressed: int = 0) -> Any:
    """`template` with `{name}` placeholders in its strings filled (unknown names stay as written)."""
    values = {**notice.fields(), "suppressed": str(suppressed)}

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), node)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {fill(k) if isinstance(k, str) else k: fill(v) for k, v in node.items()}
        return node

    return fill(template)
