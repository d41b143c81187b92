"""Every YAML file read from Git is bounded: size, nesting depth and alias expansion.

A 2.7 KB alias bomb in a values.yaml once took `serve` to 1.4 GB and a MemoryError, because
values files were loaded without the checks `slo.yaml` had. All loaders share them now.
"""
from __future__ import annotations

import resource

import pytest

from reconciler.spec import yamltext

BOMB = """\
image: carts:1.0.0
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


@pytest.mark.parametrize("loader", [yamltext.load, yamltext.load_all, yamltext.load_document],
                         ids=["load", "load_all", "load_document"])
def test_an_alias_bomb_is_refused_with_the_line_of_its_first_anchor(loader):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(yamltext.YamlError, match="aliases expand this document") as caught:
        loader(BOMB)
    assert caught.value.line == 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000     # KiB: nothing expanded


@pytest.mark.parametrize("loader", [yamltext.load, yamltext.load_all, yamltext.load_document],
                         ids=["load", "load_all", "load_document"])
def test_a_file_over_the_size_limit_is_refused_before_parsing(loader):
    big = "values: [" + ",".join(["1"] * (yamltext.MAX_DOCUMENT_BYTES // 2 + 10)) + "]\n"
    with pytest.raises(yamltext.YamlError, match="config files may have at most 4 MiB"):
        loader(big)
    with pytest.raises(yamltext.YamlError, match="config files may have at most 4 MiB"):
        loader(big.encode())


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_an_error_not_a_crash(depth):
    for text in ("[" * depth, "{a: " * depth, "- " * depth + "x"):
        with pytest.raises(yamltext.YamlError):
            yamltext.load(text)


def test_ordinary_anchors_still_load():
    text = "base: &base {cpu: 1, mem: 2}\nweb: *base\napi: {<<: *base, cpu: 3}\n"
    assert yamltext.load(text) == {"base": {"cpu": 1, "mem": 2}, "web": {"cpu": 1, "mem": 2},
                                   "api": {"cpu": 3, "mem": 2}}
