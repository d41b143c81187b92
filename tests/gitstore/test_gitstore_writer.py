"""Write-back: in-memory commits with trailers, pushed without force, safe under races."""
from __future__ import annotations

import threading

import pytest

from reconciler.contract import BOT_EMAIL, BOT_NAME, TRAILER_CONTEXT, TRAILER_STEP
from reconciler.gitstore import BranchExists, Mirror, PushRejected, TreeChange, WriteConflict, Writer
from reconciler.gitstore.trailers import parse
from tests.support.remotes import (
    REJECT_NON_FAST_FORWARD,
    Human,
    enable_reflog,
    every_transport,
    forced_updates,
    git,
    git_out,
    install_hook,
    protect_branch_hook,
    ref_updates,
    rejected_updates,
)


def origin_log(origin, branch: str) -> list[str]:
    return git_out("log", "--format=%H", branch, cwd=origin.path).splitlines()


def guard(origin) -> None:
    """Make the origin refuse any non-fast-forward (over daemon/http, where hooks run) and
    log every update (all kinds), so a test can prove nothing was ever forced."""
    install_hook(origin.path, "pre-receive", REJECT_NON_FAST_FORWARD)
    enable_reflog(origin.path)


@every_transport
def test_write_back_lands_with_trailers_and_no_checkout(origin, workdir):
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    writer = Writer(mirror)
    result = writer.write(
        "dev", lambda tip: {"carts/values.yaml": b"image: carts:1.1\nreplicas: 1\n", "carts/slo.yaml": None},
        "deploy carts 1.1", {TRAILER_CONTEXT: "ctx-1", "Reconciler-Event": "sh.keptn.event.dev.delivery.finished"})
    assert result.created and result.attempts == 1
    assert git_out("rev-parse", "dev", cwd=origin.path) == result.oid == mirror.tip("dev")
    show = git_out("show", "-s", "--format=%an <%ae>|%cn <%ce>|%B", result.oid, cwd=origin.path)
    author, committer, body = show.split("|", 2)
    assert author == committer == f"{BOT_NAME} <{BOT_EMAIL}>"
    assert parse(body).to_dict() == {TRAILER_CONTEXT: "ctx-1", "Reconciler-Event": "sh.keptn.event.dev.delivery.finished"}
    assert git_out("show", f"{result.oid}:carts/values.yaml", cwd=origin.path) == "image: carts:1.1\nreplicas: 1"
    assert git("cat-file", "-e", f"{result.oid}:carts/slo.yaml", cwd=origin.path, check=False).returncode != 0
    assert git_out("diff", "--name-only", f"{result.oid}~1", result.oid, cwd=origin.path).splitlines() == [
        "carts/slo.yaml", "carts/values.yaml"]
    git("fsck", "--strict", cwd=origin.path)
    assert not (workdir / "mirror.git" / "index").exists()
    info = mirror.commit_info(result.oid)
    assert info.by_reconciler and info.trailers.get(TRAILER_CONTEXT) == "ctx-1"


@every_transport
def test_a_concurrent_human_push_loses_nothing(origin, workdir, human_factory):
    guard(origin)
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    writer = Writer(mirror)
    human = human_factory(origin.url, "dev")
    seen_tips: list[str | None] = []
    human_commit: list[str] = []

    def build(tip):
        seen_tips.append(tip.oid)
        if not human_commit:   # the human pushes while we are building our commit
            human_commit.append(human.change("orders/values.yaml", "image: orders:2.0\nreplicas: 1\n"))
        return {"carts/values.yaml": b"image: carts:1.1\nreplicas: 1\n"}

    result = writer.write("dev", build, "deploy carts", {TRAILER_CONTEXT: "ctx"})
    assert result.created and result.attempts == 2
    assert seen_tips[1] == human_commit[0]                 # rebuilt on the human's commit
    log = origin_log(origin, "dev")
    assert log[0] == result.oid and log[1] == human_commit[0]   # linear: ours on top of theirs
    assert git_out("show", "dev:orders/values.yaml", cwd=origin.path).startswith("image: orders:2.0")
    assert git_out("show", "dev:carts/values.yaml", cwd=origin.path).startswith("image: carts:1.1")
    assert forced_updates(origin.path, "dev") == [] and rejected_updates(origin.path) == []
    assert [new for _, new in ref_updates(origin.path, "dev")] == [human_commit[0], result.oid]


@pytest.mark.parametrize("remote_kind", ["daemon", "http"])
def test_a_pre_receive_rejection_surfaces_as_an_error(origin, workdir):
    install_hook(origin.path, "pre-receive", protect_branch_hook("production"))
    mirror = Mirror(origin.url, workdir)
    before = mirror.fetch()["production"]
    calls: list[str | None] = []

    def build(tip):
        calls.append(tip.oid)
        return {"carts/values.yaml": b"image: carts:9\n"}

    with pytest.raises(PushRejected) as info:
        Writer(mirror).write("production", build, "deploy", {TRAILER_CONTEXT: "c"})
    assert info.value.branch == "production" and "pre-receive hook declined" in info.value.reason
    assert "production" in str(info.value)
    assert len(calls) == 1                                  # a policy refusal is not retried
    assert git_out("rev-parse", "production", cwd=origin.path) == before == mirror.tip("production")
    # other branches are still writable
    assert Writer(mirror).write("dev", lambda tip: {"x.txt": b"1"}, "ok").created


def test_a_step_is_written_once(origin, workdir):
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    writer = Writer(mirror)
    step = "ctx-1/dev/0/2/deployment"
    first = writer.write("dev", lambda tip: {"carts/values.yaml": b"v: 2\n"}, "deploy", {TRAILER_CONTEXT: "ctx-1"}, step)
    assert first.created
    assert parse(git_out("log", "-1", "--format=%B", "dev", cwd=origin.path)).get(TRAILER_STEP) == step
    writer.write("dev", lambda tip: {"other.txt": b"x"}, "unrelated")

    def must_not_build(tip):
        raise AssertionError("a step already on the branch must not be built again")

    again = writer.write("dev", must_not_build, "deploy", {TRAILER_CONTEXT: "ctx-1"}, step)
    assert again.existing and not again.created and again.oid == first.oid
    # a restarted controller (new mirror, new writer) finds it too
    fresh = Mirror(origin.url, workdir.parent / "work2")
    fresh.fetch()
    restarted = Writer(fresh).write("dev", must_not_build, "deploy", {TRAILER_CONTEXT: "ctx-1"}, step)
    assert restarted.existing and restarted.oid == first.oid
    assert Writer(fresh).find_step("dev", "ctx-1/dev/0/3/deployment") is None


def test_a_step_beyond_the_scan_depth_is_not_found(remotes, workdir):
    origin = remotes.origin("file", {"main": {"a": "0"}})
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    writer = Writer(mirror, step_depth=3)
    writer.write("main", lambda tip: {"a": b"1"}, "first", step="s-1")
    for i in range(3):
        writer.write("main", lambda tip, i=i: {"b": str(i).encode()}, f"filler {i}")
    assert Writer(mirror, step_depth=4).find_step("main", "s-1") is not None
    assert Writer(mirror, step_depth=3).find_step("main", "s-1") is None


def test_nothing_to_change_writes_nothing(origin, workdir):
    mirror = Mirror(origin.url, workdir)
    tip = mirror.fetch()["dev"]
    writer = Writer(mirror)
    same = writer.write("dev", lambda t: {"carts/values.yaml": t.read("carts/values.yaml")}, "no-op")
    assert not same.created and same.oid == tip
    assert not writer.write("dev", lambda t: None, "declined").created
    assert git_out("rev-parse", "dev", cwd=origin.path) == tip


def test_writing_a_new_branch_from_a_start_point(origin, workdir):
    mirror = Mirror(origin.url, workdir)
    tips = mirror.fetch()
    writer = Writer(mirror)
    result = writer.write("approve/dev/carts/0123abcd", lambda t: {"carts/values.yaml": b"image: carts:2\n"},
                          "pending promotion", {TRAILER_CONTEXT: "0123abcd-..."}, start_point="dev")
    assert result.created
    assert git_out("rev-parse", "approve/dev/carts/0123abcd~1", cwd=origin.path) == tips["dev"]
    # the results branch starts as a root commit
    journal = writer.write("reconciler/results", lambda t: {"sequences/dev/carts/c.json": b"{}"}, "journal")
    assert git_out("rev-list", "--count", "reconciler/results", cwd=origin.path) == "1"
    assert mirror.tip("reconciler/results") == journal.oid


@every_transport
def test_create_and_delete_branches(origin, workdir):
    mirror = Mirror(origin.url, workdir)
    tips = mirror.fetch()
    writer = Writer(mirror)
    assert writer.create_branch("approve/dev/carts/aaaa1111", "dev") == tips["dev"]
    assert writer.create_branch("approve/dev/carts/aaaa1111", "dev") == tips["dev"]   # idempotent
    with pytest.raises(BranchExists):
        writer.create_branch("approve/dev/carts/aaaa1111", "production")
    assert git_out("rev-parse", "approve/dev/carts/aaaa1111", cwd=origin.path) == tips["dev"]
    with pytest.raises(WriteConflict):
        writer.delete_branch("approve/dev/carts/aaaa1111", expected=tips["production"])
    assert writer.delete_branch("approve/dev/carts/aaaa1111", expected=tips["dev"])
    assert "approve/dev/carts/aaaa1111" not in mirror.tips()
    assert git("rev-parse", "--verify", "-q", "approve/dev/carts/aaaa1111", cwd=origin.path, check=False).returncode != 0
    assert not writer.delete_branch("approve/dev/carts/aaaa1111")


def test_merge_like_commit_with_chosen_parents(origin, workdir):
    mirror = Mirror(origin.url, workdir)
    tips = mirror.fetch()
    writer = Writer(mirror)
    approval = writer.write("approve/dev/carts/bbbb2222", lambda t: {"carts/values.yaml": b"image: carts:3\n"},
                            "pending", start_point="dev")

    def merge(tip):
        return TreeChange(str(mirror.commit(approval.oid).tree_id), extra_parents=(approval.oid,))

    merged = writer.write("dev", merge, "approve carts")
    parents = git_out("show", "-s", "--format=%P", merged.oid, cwd=origin.path).split()
    assert parents == [tips["dev"], approval.oid]
    assert git_out("show", "dev:carts/values.yaml", cwd=origin.path) == "image: carts:3"


def test_gives_up_with_a_clear_error_when_the_branch_keeps_moving(remotes, workdir, human_factory):
    origin = remotes.origin("file", {"main": {"a": "0"}})
    guard(origin)
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    delays: list[float] = []
    writer = Writer(mirror, max_attempts=4, base_delay=0.01, max_delay=0.02, sleep=delays.append)
    human = human_factory(origin.url, "main")
    pushes: list[str] = []

    def build(tip):   # somebody pushes every time we are about to
        pushes.append(human.change("human.txt", f"{len(pushes)}\n"))
        return {"ours.txt": b"mine"}

    with pytest.raises(WriteConflict) as info:
        writer.write("main", build, "contended")
    assert info.value.attempts == 4 and info.value.branch == "main"
    assert "main" in str(info.value) and "force" in str(info.value)
    assert len(delays) == 3 and delays[0] == 0.0 and all(0 < d <= 0.02 for d in delays[1:])
    assert origin_log(origin, "main")[0] == pushes[-1]      # all human commits kept, ours not forced in
    assert set(pushes) <= set(origin_log(origin, "main"))
    assert forced_updates(origin.path, "main") == [] and rejected_updates(origin.path) == []


@pytest.mark.parametrize("remote_kind", ["file", "daemon"])
def test_two_controllers_writing_one_branch_keep_every_commit(origin, tmp_path):
    guard(origin)
    writers = []
    for name in ("a", "b"):
        mirror = Mirror(origin.url, tmp_path / name)
        mirror.fetch()
        writers.append(Writer(mirror, max_attempts=30, base_delay=0.001, max_delay=0.02))
    results: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def run(name: str, writer: Writer) -> None:
        try:
            for i in range(5):
                res = writer.write("reconciler/results",
                                   lambda tip, i=i: {f"sequences/{name}/{i}.json": b"{}"}, f"{name} {i}")
                results[name].append(res.oid)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, w)) for n, w in zip("ab", writers, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    log = origin_log(origin, "reconciler/results")
    assert set(results["a"] + results["b"]) <= set(log) and len(log) == 10
    files = git_out("ls-tree", "-r", "--name-only", "reconciler/results", cwd=origin.path).splitlines()
    assert len(files) == 10
    assert forced_updates(origin.path, "reconciler/results") == [] and rejected_updates(origin.path) == []


def test_one_writer_serialises_threads_per_branch(remotes, workdir):
    origin = remotes.origin("file", {"main": {"n": "0"}})
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    writer = Writer(mirror)

    def increment(tip):
        return {"n": str(int(tip.read("n")) + 1).encode()}

    threads = [threading.Thread(target=lambda: [writer.write("main", increment, "inc") for _ in range(5)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert git_out("show", "main:n", cwd=origin.path) == "20"   # no lost update


def test_bad_paths_are_refused_before_anything_is_written(remotes, workdir):
    origin = remotes.origin("file", {"main": {"a": "0"}})
    mirror = Mirror(origin.url, workdir)
    tip = mirror.fetch()["main"]
    writer = Writer(mirror)
    for bad in ("../escape", "/abs", "a//b", ".git/config", "dir/"):
        with pytest.raises(ValueError):
            writer.write("main", lambda t, bad=bad: {bad: b"x"}, "bad")
    with pytest.raises(ValueError):
        writer.write("main", lambda t: {"a": b"file", "a/b": b"below a file"}, "bad")
    assert git_out("rev-parse", "main", cwd=origin.path) == tip


def test_executable_bits_survive_a_rewrite(remotes, workdir, tmp_path):
    origin = remotes.origin("file", {"main": {"job/run.sh": "#!/bin/sh\n"}})
    human = Human(origin.url, tmp_path / "h")
    (human.path / "job" / "run.sh").chmod(0o755)
    human.commit("exec")
    human.push()
    mirror = Mirror(origin.url, workdir)
    mirror.fetch()
    Writer(mirror).write("main", lambda t: {"job/run.sh": b"#!/bin/sh\necho v2\n"}, "v2")
    assert git_out("ls-tree", "main", "job/run.sh", cwd=origin.path).startswith("100755")


@every_transport
def test_update_branch_is_a_compare_and_swap(origin, workdir, human_factory):
    import pygit2

    from reconciler.gitstore import PushRejected

    mirror = Mirror(origin.url, workdir)
    base = mirror.fetch()["dev"]
    human_commit = human_factory(origin.url, "dev").change("orders/values.yaml", "image: orders:3\n")
    repo = mirror.repo
    bot = pygit2.Signature(BOT_NAME, BOT_EMAIL)
    parent = repo[base]
    ours = repo.create_commit(None, bot, bot, "built on a stale tip", parent.tree_id, [parent.id])
    with pytest.raises(PushRejected, match="fetch first"):
        mirror.update_branch("dev", ours, pygit2.Oid(hex=base))
    with pytest.raises(PushRejected):
        mirror.update_branch("dev", None, pygit2.Oid(hex=base))      # a stale delete is refused too
    assert git_out("rev-parse", "dev", cwd=origin.path) == human_commit
    mirror.fetch()
    rebuilt = repo.create_commit(None, bot, bot, "rebuilt", repo[human_commit].tree_id, [pygit2.Oid(hex=human_commit)])
    mirror.update_branch("dev", rebuilt, pygit2.Oid(hex=human_commit))
    assert git_out("rev-parse", "dev", cwd=origin.path) == str(rebuilt) == mirror.tip("dev")
    with pytest.raises(PushRejected):
        mirror.update_branch("dev", rebuilt, None)                    # "create" of an existing branch


def test_a_checked_out_branch_of_a_working_copy_is_not_moved(tmp_path):
    from reconciler.gitstore import PushRejected

    work = tmp_path / "working-copy"
    git("init", "-q", "-b", "main", str(work))
    (work / "a").write_text("1")
    git("add", "a", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("branch", "dev", cwd=work)
    mirror = Mirror(str(work), tmp_path / "w")
    mirror.fetch()
    writer = Writer(mirror)
    with pytest.raises(PushRejected, match="checked out"):
        writer.write("main", lambda tip: {"a": b"2"}, "x")
    assert writer.write("dev", lambda tip: {"a": b"2"}, "x").created     # other branches are fine
    assert git_out("show", "dev:a", cwd=work) == "2" and (work / "a").read_text() == "1"
