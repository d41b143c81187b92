"""Kubernetes' $(VAR) expansion rules, and re-escaping for a kubelet that expands again."""
import pytest

from reconciler.kube.expansion import Ref, escape_for_kubelet, expand, tokens

VARS = {"HOST": "example.org", "EVIL": "$(HOST); rm -rf /", "EMPTY": ""}


@pytest.mark.parametrize("text, expected", [
    ("$(HOST)", "example.org"),
    ("http://$(HOST):80/$(HOST)", "http://example.org:80/example.org"),
    ("$(MISSING)", "$(MISSING)"),                 # undefined stays as written
    ("$$(HOST)", "$(HOST)"),                      # escaped
    ("$$$(HOST)", "$example.org"),
    ("$HOST", "$HOST"),                           # only $(...) expands
    ("$(HOST", "$(HOST"),                         # incomplete reference
    ("cost: 5$", "cost: 5$"),
    ("$(EVIL)", "$(HOST); rm -rf /"),             # single pass: values are never expanded again
    ("a$(EMPTY)b", "ab"),
    ("$()", "$()"),
])
def test_expand_matches_the_kubelet(text, expected):
    assert expand(text, VARS) == expected


def test_tokens_separate_literals_and_references():
    assert tokens("x$(A)y$$z") == ["x", Ref("A"), "y$z"]


@pytest.mark.parametrize("text", ["$(HOST)", "a$$(HOST)b", "$(SECRET_KEY) and $(MISSING)", "$(EVIL)", "$x $ $("])
def test_escaped_text_survives_a_second_expansion(text):
    once = escape_for_kubelet(text, VARS, keep=frozenset({"SECRET_KEY"}))
    kubelet = expand(once, lambda name: "<secret>" if name == "SECRET_KEY" else None)
    assert kubelet == expand(text, {**VARS, "SECRET_KEY": "<secret>"})
