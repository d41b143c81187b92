"""The mirror reads what humans push, over every remote kind, without a working tree."""
from __future__ import annotations

import os

import pytest

from reconciler.gitstore import GitStoreError, Mirror, RemoteError, UnknownRevision
from reconciler.gitstore.mirror import local_path
from tests.support.remotes import HUMAN_EMAIL, every_transport, git, git_out


@every_transport
def test_fetch_sees_a_human_push(origin, workdir, human_factory):
    mirror = Mirror(origin.url, workdir)
    before = mirror.fetch()
    assert set(before) == {"main", "dev", "staging", "production"}

    human = human_factory(origin.url, "dev")
    new = human.change("carts/values.yaml", "image: carts:1.1\nreplicas: 1\n", "bump carts\n\nReconciler-Sequence: hotfix")

    assert mirror.ls_remote()["dev"] == new            # visible remotely before we fetch
    assert mirror.tips()["dev"] == before["dev"]        # ... but not yet in the mirror
    after = mirror.fetch()
    assert after["dev"] == new and after["main"] == before["main"]
    assert mirror.read("dev", "carts/values.yaml") == b"image: carts:1.1\nreplicas: 1\n"
    assert mirror.read(before["dev"], "carts/values.yaml") == b"image: carts:1.0\nreplicas: 1\n"
    assert mirror.changed_paths(before["dev"], new) == ("carts/values.yaml",)

    [commit] = mirror.commits(before["dev"], new)
    assert commit.oid == new and commit.parents == (before["dev"],)
    assert commit.author.email == HUMAN_EMAIL and not commit.by_reconciler
    assert commit.trailers.get("Reconciler-Sequence") == "hotfix"
    assert commit.changed_paths == ("carts/values.yaml",)
    assert commit.summary == "bump carts"
    # bare and checkout-free: no index, no working tree files
    assert (workdir / "mirror.git" / "HEAD").exists() and not (workdir / "mirror.git" / "index").exists()


def test_commits_are_oldest_first_and_bounded(origin, workdir, human_factory):
    mirror = Mirror(origin.url, workdir)
    base = mirror.fetch()["staging"]
    human = human_factory(origin.url, "staging")
    oids = [human.change(f"orders/file{i}.txt", f"{i}\n", push=False) for i in range(4)]
    human.push()
    mirror.fetch()
    assert [c.oid for c in mirror.commits(base, "staging")] == oids
    assert [c.oid for c in mirror.commits(base, "staging", limit=2)] == oids[-2:]
    assert [c.changed_paths for c in mirror.commits(base, "staging")] == [(f"orders/file{i}.txt",) for i in range(4)]
    assert mirror.is_ancestor(base, "staging") and not mirror.is_ancestor("staging", base)
    assert mirror.is_ancestor("staging", "staging")


def test_reading_files_trees_and_blob_ids(origin, workdir):
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    assert mirror.read("production", "carts/values.yaml") == b"image: carts:1.0\nreplicas: 3\n"
    assert mirror.read("refs/heads/production", "carts/values.yaml") is not None
    assert mirror.read("production", "carts/missing.yaml") is None
    assert mirror.read("production", "carts") is None                  # a folder is not a file
    assert mirror.list_tree("production", "carts") == {
        "carts/slo.yaml": mirror.blob_id("production", "carts/slo.yaml"),
        "carts/values.yaml": mirror.blob_id("production", "carts/values.yaml"),
    }
    assert mirror.list_tree("production", "nothing/") == {}
    # same content → same blob id, different content → different id
    assert mirror.blob_id("dev", "carts/slo.yaml") == mirror.blob_id("production", "carts/slo.yaml")
    assert mirror.blob_id("dev", "carts/values.yaml") != mirror.blob_id("production", "carts/values.yaml")
    assert set(mirror.changed_paths("dev", "production")) == {"carts/values.yaml", "orders/values.yaml"}
    assert "shipyard.yaml" in mirror.changed_paths(None, "main")
    assert mirror.default_branch() == "main"
    with pytest.raises(UnknownRevision):
        mirror.read("no-such-branch", "x")
    with pytest.raises(UnknownRevision):
        mirror.commit("0" * 40)


@every_transport
def test_deleted_branches_disappear_from_the_mirror(origin, workdir, human_factory):
    mirror = Mirror(origin.url, workdir)
    human = human_factory(origin.url, "dev")
    human.change("carts/values.yaml", "image: carts:2\n", push=False)
    human.push("approve/dev/carts/abcd1234")
    assert "approve/dev/carts/abcd1234" in mirror.fetch()
    git("push", "-q", "origin", ":refs/heads/approve/dev/carts/abcd1234", cwd=human.path)
    assert "approve/dev/carts/abcd1234" not in mirror.fetch()
    # fetching a single branch that is gone also drops it
    human.push("approve/dev/carts/ffff0000")
    mirror.fetch()
    git("push", "-q", "origin", ":refs/heads/approve/dev/carts/ffff0000", cwd=human.path)
    assert "approve/dev/carts/ffff0000" not in mirror.fetch(["approve/dev/carts/ffff0000"])


def test_export_materialises_a_service_folder(remotes, workdir, tmp_path):
    origin = remotes.origin("file", {"main": {"svc/values.yaml": "a: 1\n", "svc/helm/chart.yaml": "name: x\n",
                                              "svc/run.sh": "#!/bin/sh\necho hi\n", "other/x": "y"}})
    work = tmp_path / "human"
    git("clone", "-q", origin.url, str(work))
    os.chmod(work / "svc" / "run.sh", 0o755)
    os.symlink("values.yaml", work / "svc" / "link.yaml")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "exec bit and link", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    dest = tmp_path / "export"
    written = mirror.export("main", "svc", dest)
    assert written == ["helm/chart.yaml", "link.yaml", "run.sh", "values.yaml"]
    assert (dest / "values.yaml").read_text() == "a: 1\n"
    assert (dest / "helm" / "chart.yaml").read_text() == "name: x\n"
    assert os.access(dest / "run.sh", os.X_OK) and not os.access(dest / "values.yaml", os.X_OK)
    assert os.readlink(dest / "link.yaml") == "values.yaml"
    assert not (dest / "x").exists()
    with pytest.raises(GitStoreError, match="not empty"):
        mirror.export("main", "svc", dest)
    with pytest.raises(GitStoreError, match="not a folder"):
        mirror.export("main", "nope", tmp_path / "export2")


def test_export_refuses_symlinks_that_escape(remotes, workdir, tmp_path):
    origin = remotes.origin("file", {"main": {"svc/values.yaml": "a: 1\n"}})
    work = tmp_path / "human"
    git("clone", "-q", origin.url, str(work))
    os.symlink("../../../etc/passwd", work / "svc" / "evil")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "evil link", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    with pytest.raises(GitStoreError, match="outside"):
        mirror.export("main", "svc", tmp_path / "out")


def test_a_workdir_belongs_to_one_repo(remotes, workdir):
    a = remotes.origin("file", {"main": {"a": "1"}}, name="a.git")
    b = remotes.origin("file", {"main": {"b": "1"}}, name="b.git")
    Mirror(a.url, workdir).fetch()
    assert Mirror(a.url, workdir).read("main", "a") == b"1"     # reopening is fine
    with pytest.raises(GitStoreError, match="belongs to"):
        Mirror(b.url, workdir)


def test_unreachable_remote_is_a_remote_error_without_secrets(workdir):
    mirror = Mirror("http://x-access-token:s3cret@127.0.0.1:1/repo.git", workdir, connect_timeout=2)
    with pytest.raises(RemoteError) as info:
        mirror.ls_remote()
    assert "s3cret" not in str(info.value) and "127.0.0.1:1" in str(info.value)
    with pytest.raises(RemoteError) as info:
        mirror.fetch()
    assert "s3cret" not in str(info.value)


def test_local_path_recognises_local_remotes(tmp_path):
    assert local_path(tmp_path.as_uri()) == tmp_path
    assert local_path(str(tmp_path)) == tmp_path
    assert local_path("git://127.0.0.1:9418/x.git") is None
    assert local_path("https://example.com/x.git") is None
    assert local_path("git@github.com:org/repo.git") is None


def test_threads_each_get_their_own_repository(origin, workdir):
    import threading

    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    seen: list[object] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            seen.append(mirror.repo)
            for _ in range(50):
                assert mirror.read("dev", "carts/values.yaml") is not None
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len({id(r) for r in seen}) == 4
    assert git_out("rev-parse", "dev", cwd=origin.path) == mirror.tip("dev")


def test_maintain_packs_loose_objects(remotes, workdir):
    origin = remotes.origin("file", {"main": {"a": "0"}})
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    from reconciler.gitstore import Writer
    writer = Writer(mirror)
    for i in range(12):
        writer.write("main", lambda tip, i=i: {f"f{i}": str(i).encode()}, f"write {i}")

    def loose() -> int:
        return sum(1 for d in (mirror.path / "objects").glob("[0-9a-f][0-9a-f]") for _ in d.iterdir())

    assert loose() > 10
    assert mirror.maintain(force=True)
    assert loose() == 0
    assert mirror.read("main", "f11") == b"11" and len(mirror.commits(None, "main")) == 13


def test_file_urls_with_escapes(remotes, workdir):
    origin = remotes.origin("file", {"main": {"a": "1"}}, name="with space.git")
    assert "%20" in origin.url
    assert local_path(origin.url) == origin.path
    mirror = Mirror(origin.url, workdir)
    assert mirror.fetch()["main"] == git_out("rev-parse", "main", cwd=origin.path)


def test_a_missing_local_origin_is_a_remote_error(tmp_path, workdir):
    mirror = Mirror((tmp_path / "nowhere.git").as_uri(), workdir)
    with pytest.raises(RemoteError, match="nowhere.git"):
        mirror.fetch()
    (tmp_path / "plain").mkdir()
    with pytest.raises(RemoteError):
        Mirror(str(tmp_path / "plain"), tmp_path / "w2").fetch()   # a folder, not a repo


def test_maintain_counts_and_packs_what_writes_left(remotes, workdir):
    origin = remotes.origin("file", {"main": {"a": "0"}})
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    from reconciler.gitstore import Writer
    writer = Writer(mirror)
    before = mirror.loose_objects()
    for i in range(8):
        writer.write("main", lambda tip, i=i: {f"f{i}": str(i).encode()}, f"write {i}")
    assert mirror.loose_objects() >= before + 8 * 2          # a tree and a commit each (and blobs)
    assert mirror.maintain()
    assert mirror.loose_objects() == 0                       # all of them reachable: all packed
    assert mirror.read("main", "f7") == b"7" and len(mirror.commits(None, "main")) == 9
    writer.write("main", lambda tip: {"after": b"x"}, "write after packing")   # the repo still works
    assert mirror.read("main", "after") == b"x"
