"""Line and column of findings point at the exact spot a person has to edit."""
from __future__ import annotations

import pytest

from reconciler.spec.validate import validate_document
from reconciler.spec.yamltext import Positions, YamlError, load_document


def _at(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column of the n-th occurrence of `needle` in `text`."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _one(text: str, name: str, code: str):
    hits = [f for f in validate_document(text, name=name) if f.code == code]
    assert len(hits) == 1, hits
    return hits[0].line, hits[0].column


SHIPYARD = """\
apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: demo}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: deployment}, {name: evaluation}]
        - name: rollback
          triggeredOn:
            - event: dev.delivery.finished
              selector:
                match: {result: failed}
          tasks:
            -   name: rollback
                triggeredAfter: soon
"""


def test_value_in_flow_mapping():
    assert _one(SHIPYARD, "shipyard.yaml", "selector-failed") == _at(SHIPYARD, "failed")


def test_value_after_unusual_indentation():
    assert _one(SHIPYARD, "shipyard.yaml", "bad-duration") == _at(SHIPYARD, "soon")


def test_unknown_key_points_at_the_key():
    text = SHIPYARD.replace("          tasks: [{name: deployment}", "          taks: 1\n          tasks: [{name: deployment}")
    assert _one(text, "shipyard.yaml", "unknown-key") == _at(text, "taks")


def test_missing_key_points_at_its_parent_key():
    text = "objectives:\n  - sli: a\ntotal_score:\n    warning: '75%'\n"
    assert _one(text, "slo.yaml", "missing-total-score") == _at(text, "total_score")


def test_wrong_type_in_a_list_item():
    text = "apiVersion: v2\nactions:\n  - name: a\n    events: [{name: sh.keptn.event.a.triggered}]\n" \
           "    tasks:\n      - name: t\n        image: x\n        cmd: echo hi\n"
    assert _one(text, "job/config.yaml", "wrong-type") == _at(text, "echo hi")


def test_yaml_syntax_error_position():
    text = "indicators:\n  a: up\n  b: [1, 2\n  c: down\n"
    line, column = _one(text, "sli.yaml", "yaml-syntax")
    assert line == 4 and column >= 1


def test_tab_indentation_is_reported_where_it_is():
    text = "indicators:\n\ta: up\n"
    line, column = _one(text, "sli.yaml", "yaml-syntax")
    assert (line, column) == (2, 1)


def test_duplicate_key_points_at_the_second_key():
    text = "spec_version: '1.0'\nindicators:\n  a: up\n  b: up\n  a: down\n"
    assert _one(text, "sli.yaml", "duplicate-key") == _at(text, "a:", 2)


def test_positions_in_crlf_and_bom_files():
    text = "\ufeffindicators:\r\n  a:\r\n  b: up\r\n"
    assert _one(text.encode("utf-8"), "sli.yaml", "empty-query") == (2, 3)


def test_positions_of_first_document_in_a_stream():
    pos = Positions("a: 1\nb:\n  c: 2\n---\nb: {c: 3}\n")
    assert pos.of(["b", "c"]) == (3, 6)
    assert pos.of(["b", "c"], key=True) == (3, 3)
    assert pos.of(["b", "missing"]) == (3, 3)     # deepest existing node


def test_quoted_and_block_scalars():
    text = 'objectives:\n  - sli: "a"\n    pass:\n      - criteria:\n          - >-\n            fast\n' \
           'total_score: {pass: "90%"}\n'
    line, column = _one(text, "slo.yaml", "bad-criteria")
    assert (line, column) == _at(text, ">-")


def test_load_document_reports_yaml_errors_with_position():
    with pytest.raises(YamlError) as info:
        load_document("a: b: c\n")
    assert (info.value.line, info.value.column) == (1, 5)
