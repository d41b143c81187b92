"""The criterion grammar (Keptn §3): examples, and properties over arbitrary strings."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.spec.criteria import CriteriaError, Criterion, go_parse_float, parse_criterion


@pytest.mark.parametrize("text, op, value, relative, percent, decrease", [
    ("<600", "<", 600, False, False, False),
    (">=0.95", ">=", 0.95, False, False, False),
    ("=0", "=", 0, False, False, False),
    ("<=+50", "<=", 50, True, False, False),
    (">-10", ">", 10, True, False, True),
    ("<=+10%", "<=", 10, True, True, False),
    ("<=10%", "<=", 10, True, True, False),
    (">=-80%", ">=", 80, True, True, True),
    ("  <=+10   %", "<=", 10, True, True, False),
    ("<=.5", "<=", 0.5, False, False, False),
    ("<1e3", "<", 1000, False, False, False),
])
def test_examples(text, op, value, relative, percent, decrease):
    c = parse_criterion(text)
    assert (c.operator, c.value, c.relative, c.percent, c.decrease) == (op, value, relative, percent, decrease)
    assert c.text == text


@pytest.mark.parametrize("text, message", [
    ("", "invalid criteria string"),
    ("10", "invalid criteria string"),
    ("<=\t10", "could not parse criteria target value"),
    ("=>10", "could not parse criteria target value"),     # `=` is taken, ">10" is no number
    ("==5", "could not parse criteria target value"),
    ("|10", "could not parse criteria target value"),
    ("<=abc", "could not parse criteria target value"),
    ("<0x10", "could not parse criteria target value"),     # Go wants a p exponent in hex floats
])
def test_rejections_use_keptns_words(text, message):
    with pytest.raises(CriteriaError, match=message):
        parse_criterion(text)


def test_targets_use_keptns_operation_order():
    assert parse_criterion(">=+10%").target(3.0) == 3.3           # 3*110/100, not 3*1.1
    assert parse_criterion("<=-10%").target(200.0) == 180.0
    assert parse_criterion("<-10").target(100.0) == 90.0
    assert parse_criterion("<=+10%").target(None) == 0.0
    assert parse_criterion("<=+10%").met(1e9, None)               # no baseline: satisfied
    assert not parse_criterion("<600").met(600, None)


# Characters that matter to the grammar, plus anything at all.
_GRAMMAR = st.text(alphabet=st.sampled_from(list("<=>|+-%. \t0123456789eExXpPinfa_")), max_size=12)


@settings(max_examples=600, deadline=None)
@given(st.one_of(_GRAMMAR, st.text(max_size=20)))
def test_any_string_parses_or_raises_the_typed_error(text):
    try:
        c = parse_criterion(text)
    except CriteriaError as exc:
        assert str(exc) in ("invalid criteria string", "could not parse criteria target value")
        return
    assert isinstance(c, Criterion)
    assert c.operator in ("<", "<=", "=", ">", ">=")
    assert c.text == text
    rest = text.replace(" ", "")[len(c.operator):]
    assert c.percent == rest.endswith("%")
    assert c.relative == (c.percent or rest[:1] in ("+", "-"))
    t = c.target(100.0)
    assert isinstance(t, float)
    assert isinstance(c.met(50.0, 100.0), bool) and isinstance(c.met(50.0, None), bool)


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(["<", "<=", "=", ">", ">="]),
       sign=st.sampled_from(["", "+", "-"]),
       number=st.floats(min_value=0, max_value=1e6, allow_nan=False),
       percent=st.booleans(),
       baseline=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_generated_criteria_compute_keptns_targets(op, sign, number, percent, baseline):
    c = parse_criterion(f"{op}{sign}{number!r}{'%' if percent else ''}")
    assert c.value == number
    if percent:
        factor = 100 - number if sign == "-" else 100 + number
        assert c.target(baseline) == (baseline * factor) / 100
    elif sign == "+":
        assert c.target(baseline) == baseline + number
    elif sign == "-":
        assert c.target(baseline) == baseline - number
    else:
        assert c.target(baseline) == number


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.eE+-_ xXpPabcdefinINFtyNaA")), max_size=10))
def test_go_parse_float_never_accepts_more_than_python(text):
    try:
        value = go_parse_float(text)
    except ValueError:
        return
    assert isinstance(value, float)
    assert "_" not in text and " " not in text
    if not math.isnan(value):
        assert value == (float.fromhex(text) if "x" in text.lower() else float(text))
