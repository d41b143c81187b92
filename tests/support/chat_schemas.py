"""The documented shapes of the chat messages we send, as JSON Schemas (written from the
vendors' reference pages, for the elements we use, with their documented limits).

* Slack: incoming webhook message with `text` and Block Kit `blocks` (header, section,
  actions with buttons, context); text objects `plain_text` / `mrkdwn`.
* Microsoft Teams: incoming webhook / Workflows `message` with one attachment of content type
  `application/vnd.microsoft.card.adaptive` holding an Adaptive Card (TextBlock, FactSet,
  Action.OpenUrl), version 1.4 or older (what Teams renders).
"""
from __future__ import annotations

PLAIN = {"type": "object", "required": ["type", "text"], "additionalProperties": False,
         "properties": {"type": {"const": "plain_text"}, "text": {"type": "string", "minLength": 1},
                        "emoji": {"type": "boolean"}}}
MRKDWN = {"type": "object", "required": ["type", "text"], "additionalProperties": False,
          "properties": {"type": {"const": "mrkdwn"}, "text": {"type": "string", "minLength": 1},
                         "verbatim": {"type": "boolean"}}}


def _text(max_length: int, kinds=(PLAIN, MRKDWN)) -> dict:
    return {"oneOf": [{**kind, "properties": {**kind["properties"],
                                               "text": {"type": "string", "minLength": 1, "maxLength": max_length}}}
                      for kind in kinds]}


SLACK_MESSAGE = {
    "type": "object", "required": ["text"], "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {"type": "array", "maxItems": 50, "items": {"oneOf": [
            {"type": "object", "required": ["type", "text"], "additionalProperties": False, "properties": {
                "type": {"const": "header"}, "block_id": {"type": "string", "maxLength": 255},
                "text": _text(150, (PLAIN,))}},
            {"type": "object", "required": ["type"], "additionalProperties": False,
             "anyOf": [{"required": ["text"]}, {"required": ["fields"]}], "properties": {
                "type": {"const": "section"}, "block_id": {"type": "string", "maxLength": 255},
                "text": _text(3000), "fields": {"type": "array", "maxItems": 10, "items": _text(2000)}}},
            {"type": "object", "required": ["type", "elements"], "additionalProperties": False, "properties": {
                "type": {"const": "actions"}, "block_id": {"type": "string", "maxLength": 255},
                "elements": {"type": "array", "minItems": 1, "maxItems": 25, "items": {
                    "type": "object", "required": ["type", "text"], "additionalProperties": False, "properties": {
                        "type": {"const": "button"}, "text": _text(75, (PLAIN,)),
                        "url": {"type": "string", "maxLength": 3000, "pattern": "^https?://"},
                        "action_id": {"type": "string", "maxLength": 255}, "value": {"type": "string"},
                        "style": {"enum": ["primary", "danger"]}}}}}},
            {"type": "object", "required": ["type", "elements"], "additionalProperties": False, "properties": {
                "type": {"const": "context"}, "block_id": {"type": "string", "maxLength": 255},
                "elements": {"type": "array", "minItems": 1, "maxItems": 10, "items": _text(3000)}}},
        ]}},
    },
}

_TEXT_BLOCK = {"type": "object", "required": ["type", "text"], "additionalProperties": False, "properties": {
    "type": {"const": "TextBlock"}, "text": {"type": "string"}, "wrap": {"type": "boolean"},
    "isSubtle": {"type": "boolean"}, "maxLines": {"type": "integer", "minimum": 1},
    "size": {"enum": ["Default", "Small", "Medium", "Large", "ExtraLarge"]},
    "weight": {"enum": ["Default", "Lighter", "Bolder"]},
    "color": {"enum": ["Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"]}}}
_FACT_SET = {"type": "object", "required": ["type", "facts"], "additionalProperties": False, "properties": {
    "type": {"const": "FactSet"}, "facts": {"type": "array", "items": {
        "type": "object", "required": ["title", "value"], "additionalProperties": False,
        "properties": {"title": {"type": "string"}, "value": {"type": "string"}}}}}}
_OPEN_URL = {"type": "object", "required": ["type", "url"], "additionalProperties": False, "properties": {
    "type": {"const": "Action.OpenUrl"}, "title": {"type": "string"},
    "url": {"type": "string", "pattern": "^https?://"}}}
ADAPTIVE_CARD = {"type": "object", "required": ["type", "version", "body"], "additionalProperties": False,
                 "properties": {"$schema": {"const": "http://adaptivecards.io/schemas/adaptive-card.json"},
                                "type": {"const": "AdaptiveCard"},
                                "version": {"enum": ["1.0", "1.1", "1.2", "1.3", "1.4"]},
                                "body": {"type": "array", "items": {"oneOf": [_TEXT_BLOCK, _FACT_SET]}},
                                "actions": {"type": "array", "items": _OPEN_URL}}}
TEAMS_MESSAGE = {
    "type": "object", "required": ["type", "attachments"], "additionalProperties": False,
    "properties": {"type": {"const": "message"}, "attachments": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["contentType", "content"], "additionalProperties": False, "properties": {
            "contentType": {"const": "application/vnd.microsoft.card.adaptive"},
            "contentUrl": {"type": "null"}, "content": ADAPTIVE_CARD}}}},
}
