"""The change of a delivery as data (engine.changeset): computed per file, applied as state."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.engine.changeset import ChangeError, ChangeSet, FileDiff, KeyChange, apply, compute, main_values_file

STAGING = """# carts in staging
image: carts:1.0.0   # the build
replicaCount: 3      # staging only
"""


def diff(path, old, new, blob=None):
    return FileDiff(path, old.encode() if isinstance(old, str) else old,
                    new.encode() if isinstance(new, str) else new, blob)


def no_blobs(oid):
    raise AssertionError(f"no blob expected, asked for {oid}")


def apply_to(change, files, where=""):
    out = apply(change, lambda p: files[p].encode() if p in files else None, no_blobs, where)
    return {p: (v.decode() if v is not None else None) for p, v in out.items()}


def test_yaml_deployables_change_by_key_and_others_by_content():
    change = compute([
        diff("values.yaml", "image: carts:1.0.0\nreplicaCount: 1\nold: x\n", "image: carts:2.0.1\nreplicaCount: 1\n"),
        diff("helm/carts/templates/deploy.yaml", "kind: A\n", "kind: {{ .Values.kind }}\n"),
        diff("k8s/all.yaml", "a: 1\n---\nb: 2\n", "a: 1\n---\nb: 3\n"),
        diff("run.sh", "echo 1\n", None),
        diff("slo.yaml", "objectives: []\n", "objectives: [{sli: x}]\n"),       # quality gate: not a deployable
        diff("job/config.yaml", "a: 1\n", "a: 2\n"),
    ])
    assert change.to_data() == [
        {"path": "helm/carts/templates/deploy.yaml", "content": "kind: {{ .Values.kind }}\n"},
        {"path": "k8s/all.yaml", "content": "a: 1\n---\nb: 3\n"},
        {"path": "run.sh", "deleted": True},
        {"path": "values.yaml", "keys": [{"key": ["old"], "removed": True},
                                         {"key": ["image"], "value": "carts:2.0.1"}]},
    ]
    assert change.values("carts") == {"image": "carts:2.0.1"}
    assert ChangeSet.from_data(change.to_data()) == change


def test_keptn_values_are_the_nested_keys_of_the_main_values_file():
    change = compute([diff("helm/carts/values.yaml", "image:\n  tag: '1'\n", "image:\n  tag: '2'\n  pull: Always\n"),
                      diff("helm/carts/Chart.yaml", "version: 0.1.0\n", "version: 0.2.0\n")])
    assert change.values("carts") == {"image": {"tag": "2", "pull": "Always"}}
    assert main_values_file(["values.yaml", "helm/carts/values.yaml"], "carts") == "values.yaml"
    assert main_values_file(["helm/a/values.yaml", "helm/b/values.yaml"], "carts") is None


def test_binary_and_large_files_travel_by_blob_id():
    change = compute([diff("helm/carts.tgz", None, b"\x1f\x8b\x08\x00binary", blob="ab" * 20),
                      diff("big.txt", None, "x" * 9_000, blob="cd" * 20)])
    assert change.to_data() == [{"path": "big.txt", "blob": "cd" * 20, "size": 9_000},
                                {"path": "helm/carts.tgz", "blob": "ab" * 20, "size": 10}]
    out = apply(change, lambda p: None, lambda oid: {"ab" * 20: b"tgz", "cd" * 20: b"big"}[oid])
    assert out == {"big.txt": b"big", "helm/carts.tgz": b"tgz"}


def test_a_created_yaml_file_is_written_as_is_or_set_key_by_key():
    change = compute([diff("values.yaml", None, "# new\nimage: carts:1\n")])
    assert apply_to(change, {}) == {"values.yaml": "# new\nimage: carts:1\n"}
    assert apply_to(change, {"values.yaml": STAGING}) == {"values.yaml": STAGING.replace("carts:1.0.0", "carts:1")}


def test_applying_sets_only_the_changed_keys_and_keeps_the_stage_as_it_is():
    change = compute([diff("values.yaml", "image: carts:2.0.0\nreplicaCount: 1\n", "image: carts:2.0.1\nreplicaCount: 1\n")])
    # the stage never had 2.0.0 (rolled back to 1.0.0): the key is set all the same
    assert apply_to(change, {"values.yaml": STAGING}) == {"values.yaml": STAGING.replace("1.0.0", "2.0.1")}
    # already there: nothing to write
    assert apply_to(change, {"values.yaml": STAGING.replace("1.0.0", "2.0.1")}) == {}


def test_a_list_where_a_key_is_set_is_a_structural_clash_naming_file_and_key():
    change = ChangeSet.from_data([{"path": "values.yaml", "keys": [{"key": ["resources", "limits", "cpu"], "value": 1}]}])
    with pytest.raises(ChangeError) as info:
        apply_to(change, {"values.yaml": "resources:\n  - cpu\n"}, where="staging:carts/")
    assert info.value.file == "staging:carts/values.yaml" and info.value.key == "resources"
    assert str(info.value).startswith("staging:carts/values.yaml: resources holds a list where the change sets "
                                      "keys below it; the change sets resources.limits.cpu")


def test_removed_keys_and_deleted_files_are_removed():
    change = ChangeSet((
        *compute([diff("values.yaml", "a: 1\nb:\n  c: 2\n", "a: 1\n")]).files,
        *compute([diff("extra.txt", "x", None)]).files))
    assert change.files[0].keys == (KeyChange(("b",), removed=True),)
    assert apply_to(change, {"values.yaml": "a: 5\nb:\n  c: 9\n  d: 1\n", "extra.txt": "y"}) == \
        {"values.yaml": "a: 5\n", "extra.txt": None}


keys = st.sampled_from(["a", "b", "image", "replicaCount", "x"])
scalars = st.one_of(st.integers(-5, 5), st.sampled_from(["s", "t:1", "", "yes"]), st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=2),
                                                       st.dictionaries(keys, inner, min_size=1, max_size=3)),
                      max_leaves=6)
documents = st.dictionaries(keys, values, max_size=4)


def dump(data):
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False) if data else ""


@settings(max_examples=150, deadline=None)
@given(documents, documents)
def test_applying_a_change_to_its_own_base_gives_its_result(old, new):
    change = compute([diff("values.yaml", dump(old), dump(new))])
    out = apply_to(change, {"values.yaml": dump(old)})
    result = out.get("values.yaml", dump(old))
    assert (yaml.safe_load(result) or {}) == new


@settings(max_examples=150, deadline=None)
@given(documents, documents, documents)
def test_applying_a_change_elsewhere_sets_its_keys_and_keeps_the_rest(old, new, stage):
    change = compute([diff("values.yaml", dump(old), dump(new))])
    try:
        out = apply_to(change, {"values.yaml": dump(stage)})
    except ChangeError as exc:
        assert exc.key                         # a clash always names the key in the way
        return
    result = yaml.safe_load(out.get("values.yaml", dump(stage))) or {}
    changes = change.files[0].keys if change.files else ()
    for k in changes:
        if k.removed and any(not o.removed and k.key[:len(o.key)] == o.key for o in changes):
            continue                           # removed below a key that is then set as a whole
        node = result
        for part in k.key[:-1]:
            node = node[part]
        if k.removed:
            assert k.key[-1] not in node
        else:
            assert node[k.key[-1]] == k.value
