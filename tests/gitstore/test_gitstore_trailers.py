"""Trailers are read the way git reads them, and what we write git reads back unchanged."""
from __future__ import annotations

import pytest

from reconciler.contract import TRAILER_CONTEXT, TRAILER_SKIP
from reconciler.gitstore.trailers import Trailers, format_message, parse
from tests.support.remotes import git

MESSAGES = [
    "Reconciler-Skip: true",                                   # subject only: never trailers
    "subject\n\nReconciler-Skip: true",
    "subject\n\nbody text\n\nA: 1\nB: two words\n  continued",
    "subject\n\nA: 1\nnot a trailer",
    "subject\n\nreconciler-skip:true",
    "subject\nA: 1",
    "s\n\nA: 1\n\n",
    "bump carts to 1.2\n\nReconciler-Sequence: hotfix\nReconciler-Sequence: delivery\n",
]


def git_parse(message: str) -> list[tuple[str, str]]:
    out = git("interpret-trailers", "--parse", input=message.encode()).stdout.decode()
    return [tuple(line.split(": ", 1)) for line in out.splitlines()]  # type: ignore[misc]


@pytest.mark.parametrize("message", MESSAGES)
def test_parse_agrees_with_git_interpret_trailers(message):
    assert list(parse(message)) == git_parse(message)


def test_lookup_is_case_insensitive_and_last_value_wins():
    t = parse("subject\n\nreconciler-skip: true\nReconciler-Sequence: a\nRECONCILER-SEQUENCE: b")
    assert t.get(TRAILER_SKIP) == "true"
    assert t.get("Reconciler-Sequence") == "b"
    assert t.get_all("reconciler-sequence") == ("a", "b")
    assert TRAILER_SKIP in t and TRAILER_CONTEXT not in t
    assert t.get(TRAILER_CONTEXT, "none") == "none"
    assert t.to_dict() == {"reconciler-skip": "true", "Reconciler-Sequence": "b"}


def test_format_round_trips_through_git():
    message = format_message("promote carts\n\nFrom dev, evaluation passed.",
                             {TRAILER_CONTEXT: "0f6c-uuid", "Reconciler-Event": "sh.keptn.event.x.finished"})
    assert message.endswith("\n\nReconciler-Context: 0f6c-uuid\nReconciler-Event: sh.keptn.event.x.finished\n")
    assert git_parse(message) == [(TRAILER_CONTEXT, "0f6c-uuid"), ("Reconciler-Event", "sh.keptn.event.x.finished")]
    assert parse(message) == Trailers(((TRAILER_CONTEXT, "0f6c-uuid"), ("Reconciler-Event", "sh.keptn.event.x.finished")))


def test_format_joins_an_existing_trailer_block_instead_of_hiding_it():
    message = format_message("subject\n\nSigned-off-by: Ada <ada@example.com>", [("Reconciler-Result", "pass")])
    assert parse(message).get_all("Signed-off-by") == ("Ada <ada@example.com>",)
    assert parse(message).get("Reconciler-Result") == "pass"
    assert git_parse(message)[-1] == ("Reconciler-Result", "pass")


def test_format_without_trailers_keeps_the_message():
    assert format_message("just a subject\n\n") == "just a subject\n"


@pytest.mark.parametrize("key,value", [("Bad Key", "x"), ("", "x"), ("-dash", "x"), ("Ok", "two\nlines")])
def test_format_refuses_trailers_git_cannot_round_trip(key, value):
    with pytest.raises(ValueError):
        format_message("subject", {key: value})


def test_format_refuses_an_empty_message():
    with pytest.raises(ValueError, match="empty"):
        format_message("  \n", {"A": "b"})
