"""Hostile inputs get answers, not tracebacks: every HTTP route and every YAML reader.

A few hundred seeded inputs here on every run; bench/fuzz_bench.py runs 10,000 and more
against a `reconciler serve` process and reports its peak RSS.
"""
from __future__ import annotations

import logging
from pathlib import Path

from tests.support.controller import EXAMPLE, seeded_origin, start_service
from tests.support.fuzzing import WEBHOOK_SECRET, corpus_seeds, fuzz_http, fuzz_yaml


def test_the_yaml_readers_answer_every_mutation_with_their_own_error(shared_dir):
    report = fuzz_yaml(400, corpus_seeds(shared_dir, EXAMPLE), seed=7)
    assert report.documents == 400
    assert report.unexpected == []
    assert report.rejected > 0                     # the mutations do reach the error paths


def test_every_route_answers_hostile_requests_without_a_5xx(tmp_path: Path, caplog):
    origin = seeded_origin(tmp_path / "origin.git")
    service = start_service(origin.as_uri(), tmp_path / "work", watch=False,
                            environ={"RECONCILER_WEBHOOK_SECRET": WEBHOOK_SECRET})
    try:
        with caplog.at_level(logging.WARNING):
            report = fuzz_http(service.url, "test-token", 400, seed=11,
                               alive=lambda: service.controller.health()["alive"])
    finally:
        service.stop()
    assert report.requests == 400
    assert report.server_errors == []
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert tracebacks == []
    assert report.statuses[400] > 0 and report.statuses[401] > 0     # refusals were exercised



def test_a_form_that_is_not_utf8_is_a_400(tmp_path: Path):
    """Found by the fuzz run: aiohttp's form parser raised UnicodeDecodeError (a 500)."""
    import httpx
    origin = seeded_origin(tmp_path / "origin.git")
    service = start_service(origin.as_uri(), tmp_path / "work", watch=False)
    try:
        answer = httpx.post(service.url + "/login", content=b"token=\xbe\x0e\xa4",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    finally:
        service.stop()
    assert answer.status_code == 400 and "the form could not be read" in answer.text
