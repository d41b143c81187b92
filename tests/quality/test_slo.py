"""SLO decoding with Keptn's (yaml.v3 into Go structs) leniencies and rejections."""
from __future__ import annotations

import pytest

from reconciler.quality.slo import Comparison, SloError, decode_slo


def one(text: str):
    return decode_slo(text).objectives[0]


def test_no_slo_is_none_but_a_comment_only_file_is_an_empty_slo():
    assert decode_slo(None) is None
    assert decode_slo("") is None
    empty = decode_slo("# nothing\n")
    assert empty.objectives == () and empty.total_score is None


@pytest.mark.parametrize("text", ["null", "~", "---\n", "---\n# only a comment\n"])
def test_a_null_document_is_refused(text):
    # Keptn's lighthouse crashes on these; we reject them with a reason.
    with pytest.raises(SloError, match="empty"):
        decode_slo(text)


@pytest.mark.parametrize("text, message", [
    ("invalid", "expected a mapping with objectives and total_score, found a string"),
    ("objectives: {a: 1}", "line 1 (objectives): expected a list, found a mapping"),
    ("objectives:\n  - sli: a\n    pass:\n      - criteria: <=5\n",
     "line 4 (objectives[0].pass[0].criteria): expected a list, found a string"),
    ("objectives:\n  - sli: a\n    weight: '2'\n",
     "line 3 (objectives[0].weight): expected a number, found a string '2' (write it without quotes)"),
    ("objectives:\n  - sli: a\n    key_sli: 'true'\n", "expected true or false, found a string 'true'"),
    ("objectives:\n  - sli: a\n    key_sli: 1\n", "expected true or false, found a number '1'"),
    ("objectives:\n  - sli: a\n    pass:\n      - null\n", "a criteria entry is empty"),
    ("objectives: []\nobjectives: []\n", "line 2: key 'objectives' is set twice"),
    ("filter: {a: x, a: y}\n", "(filter): key 'a' is set twice"),
    ("objectives: [\n", "not valid YAML"),
    ("total_score: [90]\n", "(total_score): expected a mapping"),
    ("comparison: {number_of_comparison_results: many}\n", "expected a number"),
    ("objectives:\n  - sli: a\n    weight: -1\n", "line 3 (objectives[0].weight): weight -1 is negative"),
])
def test_rejections_name_the_line_and_field(text, message):
    with pytest.raises(SloError) as info:
        decode_slo(text)
    assert message in str(info.value)


def test_unknown_keys_and_repeated_unknown_keys_are_ignored():
    slo = decode_slo("note: a\nnote: b\nobjectives:\n  - sli: a\n    colour: red\ntotal_score: {pass: 90}\n")
    assert slo.objectives[0].sli == "a"


@pytest.mark.parametrize("weight, expected", [("2.7", 2), ("0.5", 1), ("-0.5", 1), ("0", 1), ("", 1), ("3", 3)])
def test_weight_is_truncated_and_zero_means_one(weight, expected):
    assert one(f"objectives:\n  - sli: a\n    weight: {weight}\n").weight == expected


@pytest.mark.parametrize("spelling, expected", [
    ("true", True), ("True", True), ("yes", True), ("on", True), ("'yes'", True), ('"on"', True), ("y", True),
    ("false", False), ("no", False), ("off", False), ("'no'", False), ("", False),
])
def test_key_sli_accepts_yaml_1_1_words(spelling, expected):
    assert one(f"objectives:\n  - sli: a\n    key_sli: {spelling}\n").key_sli is expected


def test_scalars_in_text_fields_keep_their_written_text():
    o = one("objectives:\n  - sli: yes\n    displayName: 1.10\n    pass: [{criteria: [10, 1e3, true, null]}]\n")
    assert o.sli == "yes"                      # yaml.v3 reads `yes` into a string field as "yes"
    assert o.display_name == "1.10"            # not 1.1
    assert o.pass_sets == (("10", "1e3", "true", ""),)


def test_decoded_mappings_follow_the_same_rules():
    slo = decode_slo({"objectives": [None, {"sli": "a", "weight": 2.9, "key_sli": "on",
                                            "pass": [{"criteria": [10, "<=5"]}]}],
                      "total_score": {"pass": 90, "warning": "75%"}, "spec_version": 1.0})
    o = slo.objectives[0]
    assert (o.weight, o.key_sli, o.pass_sets) == (2, True, (("10", "<=5"),))
    assert (slo.total_score.pass_, slo.total_score.warning, slo.spec_version) == ("90", "75%", "1.0")
    with pytest.raises(SloError, match=r"objectives\[0\].weight"):
        decode_slo({"objectives": [{"sli": "a", "weight": "2"}]})


def test_empty_lists_and_sets():
    o = one("objectives:\n  - sli: a\n    pass: []\n    warning: [{criteria: []}, {}]\n")
    assert o.informational
    assert o.warning_sets == ((), ())


def test_anchors_and_merge_keys():
    slo = decode_slo("common: &c {pass: 90}\ntotal_score:\n  <<: *c\n  warning: 75\n")
    assert (slo.total_score.pass_, slo.total_score.warning) == ("90", "75")


def test_comparison_defaults():
    assert decode_slo("objectives: []").comparison.limit == 1            # no block: single_result
    assert decode_slo("comparison: ~").comparison == Comparison()
    present = decode_slo("comparison: {include_result_with_score: pass}").comparison
    assert present.limit == 3                                           # block without compare_with
    assert present.aggregate_function == "avg"
    several = decode_slo("comparison: {compare_with: several_results}").comparison
    assert several.limit == 3
    five = decode_slo("comparison: {compare_with: several_results, number_of_comparison_results: 5}")
    assert five.comparison.limit == 5
    assert decode_slo("comparison: {compare_with: Single_Result}").comparison.limit == 3   # case-sensitive
    assert decode_slo("comparison: {include_result_with_score: PASS_OR_WARN}").comparison.include == "pass_or_warn"
    assert decode_slo("comparison: {include_result_with_score: best}").comparison.include == "all"


def test_raw_text_is_kept_for_the_evidence():
    text = "objectives: []\ntotal_score: {pass: 90}\n"
    assert decode_slo(text).text == text
    assert decode_slo(text.encode()).text == text
