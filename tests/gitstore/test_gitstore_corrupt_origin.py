"""A truncated loose object in a local origin: the fetch fails naming it, instead of hanging for good.

libgit2 1.9.7 spins in `inflate` on such an object while holding the GIL (libgit2 #7342); the
control test shows that still holds for the pygit2 in use, which is why the guard exists.
"""
from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pygit2
import pytest

from reconciler.gitstore.mirror import Mirror
from reconciler.gitstore.objectcheck import CorruptObject, LooseObjectGuard, verify_loose
from tests.support.remotes import make_origin

ROOT = Path(__file__).resolve().parents[2]
FETCH = """\
import json, sys
from reconciler.gitstore.errors import GitStoreError
from reconciler.gitstore.mirror import Mirror
m = Mirror(sys.argv[1], sys.argv[2])
try:
    print(json.dumps({"tips": m.fetch()}))
except GitStoreError as exc:
    print(json.dumps({"error": str(exc), "tips": m.tips()}))
"""


def loose(repo_path: Path, oid: str) -> Path:
    return repo_path / "objects" / oid[:2] / oid[2:]


def truncate(path: Path) -> bytes:
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: len(data) // 2])
    return data


def fetch_in_child(url: str, workdir: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", FETCH, url, str(workdir)], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def origin(tmp_path) -> Path:
    return make_origin(tmp_path / "origin.git", {"main": {"shipyard.yaml": "stages: []\n"},
                                                  "dev": {"carts/values.yaml": "image: carts:1\n"}})


def push_blob(origin: Path, content: bytes) -> tuple[str, str]:
    """A new commit on dev whose blob is a loose object; (blob id, commit id)."""
    repo = pygit2.Repository(str(origin))
    parent = repo.references["refs/heads/dev"].peel(pygit2.Commit)
    blob = repo.create_blob(content)
    builder = repo.TreeBuilder(parent.tree)
    sub = repo.TreeBuilder(parent.tree["carts"])
    sub.insert("values.yaml", blob, pygit2.enums.FileMode.BLOB)
    builder.insert("carts", sub.write(), pygit2.enums.FileMode.TREE)
    sig = pygit2.Signature("Human", "human@example.com")
    commit = repo.create_commit("refs/heads/dev", sig, sig, "image 2", builder.write(), [parent.id])
    return str(blob), str(commit)


def test_control_libgit2_still_hangs_on_a_truncated_loose_object(origin):
    blob, _ = push_blob(origin, b"image: carts:2\n" * 400)
    truncate(loose(origin, blob))
    code = f"import pygit2; pygit2.Repository({str(origin)!r}).odb.read({blob!r})"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", code], timeout=2, capture_output=True)


def test_a_fetch_names_the_corrupt_object_keeps_the_last_good_state_and_recovers(origin, tmp_path):
    url, work = origin.as_uri(), tmp_path / "work"
    first = fetch_in_child(url, work)
    assert "error" not in first
    blob, commit = push_blob(origin, b"image: carts:2\n" * 400)
    good = truncate(loose(origin, blob))
    broken = fetch_in_child(url, work)
    assert blob in broken["error"] and str(loose(origin, blob)) in broken["error"] and "truncated" in broken["error"]
    assert broken["tips"]["dev"] == first["tips"]["dev"]          # the last good state
    loose(origin, blob).write_bytes(good)                          # repaired
    repaired = fetch_in_child(url, work)
    assert repaired["tips"]["dev"] == commit
    assert Mirror(url, work).read("dev", "carts/values.yaml") == b"image: carts:2\n" * 400


def test_verify_loose_accepts_real_objects_and_names_each_kind_of_damage(tmp_path):
    repo = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    oid = str(repo.create_blob(b"x" * 5000))
    path = loose(tmp_path / "r.git", oid)
    verify_loose(path)
    guard = LooseObjectGuard(tmp_path / "r.git" / "objects")
    assert guard.check() == 1 and guard.check() == 0              # only what is new
    data = path.read_bytes()
    path.chmod(0o644)
    for damage, reason in ((data[:10], "truncated"), (b"not zlib at all", "does not inflate"),
                           (zlib.compress(b"blob 99\0short"), "header says 99"),
                           (zlib.compress(b"weird 3\0abc"), "malformed object header")):
        path.write_bytes(damage)
        with pytest.raises(CorruptObject, match=reason) as caught:
            verify_loose(path)
        assert oid in str(caught.value)


def test_a_push_that_only_deletes_a_file_brings_the_changed_folders(origin, tmp_path):
    """Found by the Helm delivery test: a commit whose only change in a folder is a deletion
    left the mirror without the folder's new tree (the next read failed with NotFoundError)."""
    url, work = origin.as_uri(), tmp_path / "work"
    mirror = Mirror(url, work)
    mirror.fetch()
    repo = pygit2.Repository(str(origin))
    parent = repo.references["refs/heads/dev"].peel(pygit2.Commit)
    blob = repo.create_blob(b"kind: ConfigMap\n")
    charts = repo.TreeBuilder()
    charts.insert("configmap.yaml", blob, pygit2.enums.FileMode.BLOB)
    charts.insert("deployment.yaml", blob, pygit2.enums.FileMode.BLOB)
    carts = repo.TreeBuilder(parent.tree["carts"])
    carts.insert("templates", charts.write(), pygit2.enums.FileMode.TREE)
    root = repo.TreeBuilder(parent.tree)
    root.insert("carts", carts.write(), pygit2.enums.FileMode.TREE)
    sig = pygit2.Signature("Human", "human@example.com")
    first = repo.create_commit("refs/heads/dev", sig, sig, "templates", root.write(), [parent.id])
    mirror.fetch()
    kept = repo.TreeBuilder()
    kept.insert("deployment.yaml", blob, pygit2.enums.FileMode.BLOB)
    carts = repo.TreeBuilder(repo[first].peel(pygit2.Commit).tree["carts"])
    carts.insert("templates", kept.write(), pygit2.enums.FileMode.TREE)
    root = repo.TreeBuilder(repo[first].peel(pygit2.Commit).tree)
    root.insert("carts", carts.write(), pygit2.enums.FileMode.TREE)
    second = repo.create_commit("refs/heads/dev", sig, sig, "drop the configmap", root.write(), [first])
    assert mirror.fetch()["dev"] == str(second)
    assert set(mirror.list_tree("dev", "carts/templates/")) == {"carts/templates/deployment.yaml"}
    assert mirror.changed_paths(str(first), str(second)) == ("carts/templates/configmap.yaml",)
