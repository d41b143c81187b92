"""values.yaml edits keep comments; promotion merges YAML by key when lines collide."""
from __future__ import annotations

import pytest

from reconciler.spec.valuesfile import ValuesEditError, merge_values, parse_assignment, set_values

VALUES = """# helloservice in staging
image: helloservice:1.0.0   # the build
replicaCount: 2             # staging-specific
resources:
  cpu: 100m
"""


def test_set_values_changes_only_the_value_text():
    out = set_values(VALUES, {"image": "helloservice:2.0.0", "resources.cpu": "200m"})
    assert out == VALUES.replace("1.0.0", "2.0.0").replace("100m", "200m")


def test_missing_top_level_keys_are_appended_and_nested_ones_refused():
    assert set_values("image: a\n", {"replicaCount": 3}) == "image: a\nreplicaCount: 3\n"
    with pytest.raises(ValuesEditError, match="resources.memory is not in values.yaml"):
        set_values(VALUES, {"resources.memory": "1Gi"})
    with pytest.raises(ValuesEditError, match="holds a mapping"):
        set_values(VALUES, {"resources": "x"})


@pytest.mark.parametrize("text,expected", [
    ("replicaCount=3", ("replicaCount", 3)), ("image=helloservice:2.0.0", ("image", "helloservice:2.0.0")),
    ('tag="3"', ("tag", "3")), ("debug=true", ("debug", True)), ("a.b=c", ("a.b", "c")),
])
def test_assignments_are_yaml_scalars(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("bad", ["novalue", "=x", "a..b=1", "list=[1, 2]"])
def test_bad_assignments_are_refused(bad):
    with pytest.raises(ValuesEditError):
        parse_assignment(bad)


BASE = "# dev\nimage: h:1.0.0\nreplicaCount: 1   # dev\n"
THEIRS = "# dev\nimage: h:1.1.0\nreplicaCount: 1   # dev\n"
OURS = "# staging\nimage: h:1.0.0\nreplicaCount: 2   # staging\n"


def test_merge_by_key_applies_the_change_and_keeps_the_stage_lines():
    assert merge_values(BASE, OURS, THEIRS) == OURS.replace("h:1.0.0", "h:1.1.0")


def test_merge_by_key_refuses_real_conflicts_and_what_it_cannot_edit_faithfully():
    assert merge_values(BASE, OURS.replace("h:1.0.0", "h:1.0.5"), THEIRS) is None   # both changed image
    assert merge_values(BASE, OURS, "# dev\nreplicaCount: 1\n") is None              # image removed
    assert merge_values("a: [1]\n", "a: [1]\nb: 2\n", "a: [2]\n") is None            # a list changed
    assert merge_values(BASE, "- not a mapping\n", THEIRS) is None
    assert merge_values(BASE, OURS.replace("h:1.0.0", "h:1.1.0"), THEIRS) == OURS.replace("h:1.0.0", "h:1.1.0")


def test_set_path_creates_nested_keys_and_keeps_comments_and_order():
    from reconciler.spec.valuesfile import set_path
    out = set_path(VALUES, ("resources", "limits", "memory"), "1Gi")
    assert out == VALUES + "  limits:\n    memory: 1Gi\n"
    assert set_path("a: {x: 1}  # flow\n", ("a", "y"), 2) == "a: {x: 1, y: 2}  # flow\n"
    assert set_path("a:\n- 1\n- 2\nb: 1 # keep\n", ("a",), [3]) == "a: [3]\nb: 1 # keep\n"


def test_remove_path_drops_the_key_with_its_block_and_nothing_else():
    from reconciler.spec.valuesfile import remove_path
    text = "a:\n- 1\n- 2\nb:\n  c: 1  # c\n  d: 2\n"
    assert remove_path(text, ("a",)) == "b:\n  c: 1  # c\n  d: 2\n"
    assert remove_path(text, ("b", "d")) == "a:\n- 1\n- 2\nb:\n  c: 1  # c\n"
    assert remove_path(text, ("missing", "x")) == text


def test_set_path_under_a_list_is_a_structure_clash_naming_the_key():
    from reconciler.spec.valuesfile import StructureClash, set_path
    with pytest.raises(StructureClash) as info:
        set_path("a:\n  b:\n  - 1\n", ("a", "b", "c"), 1)
    assert info.value.key == ("a", "b") and info.value.found == "list"
