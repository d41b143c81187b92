"""Promotion: a context's change lands on the next stage as state, in one commit."""
from __future__ import annotations

from reconciler.contract import TRAILER_CONTEXT, TRAILER_EVENT, TRAILER_STEP
from reconciler.engine.commands import Promote
from reconciler.engine.inputs import PromotionFailed, PromotionFinished
from reconciler.tasks.promotion import promote
from tests.support.remotes import git_out
from tests.support.taskenv import CONTEXT, stage_branches, values_yaml

KEY = f"{CONTEXT}/staging/0/-/promote"


def dev_change(env, origin, human_factory, image="carts:1.1"):
    """A person changes the image on dev (and orders too); returns (base, commit)."""
    human = human_factory(origin.url, "dev")
    base = human.head()
    human.write("carts/values.yaml", values_yaml(image, 1, "dev only"))
    human.write("orders/values.yaml", "image: orders:2.0\n")
    commit = human.commit("carts and orders: new images")
    human.push()
    env.refresh()
    return base, commit


def command(commit: str, base: str | None, target: str = "staging", key: str = KEY) -> Promote:
    return Promote(key=key, run_id=f"{CONTEXT}/{target}/0", context=CONTEXT, service="carts",
                   source_stage="dev", target_stage=target, commit=commit, base=base)


def test_promotion_keeps_stage_specific_values(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    before = env.mirror.tip("staging")

    answer = promote(command(commit, base), env, sequence="delivery")

    assert isinstance(answer, PromotionFinished), answer
    env.refresh()
    assert answer.commit == env.mirror.tip("staging") != before
    values = env.mirror.read("staging", "carts/values.yaml").decode()
    assert values == values_yaml("carts:1.1", 2, "staging only")          # image promoted, replicas kept
    assert env.mirror.read("staging", "carts/stage.yaml") == b"stage: staging\n"
    assert env.mirror.read("staging", "orders/values.yaml") == b"image: orders:1.0\n"   # other service untouched
    info = env.mirror.commit_info(answer.commit)
    assert info.parents == (before,)
    assert info.changed_paths == ("carts/values.yaml",)
    assert info.trailers.get(TRAILER_CONTEXT) == CONTEXT
    assert info.trailers.get(TRAILER_EVENT) == "sh.keptn.event.staging.delivery.triggered"
    assert info.trailers.get(TRAILER_STEP) == KEY
    # the origin itself has it (not only our mirror)
    assert git_out("rev-parse", "refs/heads/staging", cwd=origin.path) == answer.commit


def test_promotion_is_idempotent_by_step_and_when_already_applied(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    first = promote(command(commit, base), env)
    assert isinstance(first, PromotionFinished)

    again = promote(command(commit, base), env)                       # redelivery: same key
    assert again == first
    other = promote(command(commit, base, key="another/key"), env)    # same change, other key
    assert isinstance(other, PromotionFinished) and other.commit == first.commit
    assert len(env.mirror.commits(first.commit, "staging")) == 0


def test_promotion_of_a_range_and_with_the_first_parent_as_base(make_env, human_factory):
    env, origin = make_env(stage_branches())
    human = human_factory(origin.url, "dev")
    base = human.head()
    human.write("carts/values.yaml", values_yaml("carts:1.1", 1, "dev only"))
    human.commit("image 1.1")
    human.write("carts/extra.yaml", "feature: on\n")
    commit = human.commit("add extra")
    human.push()
    env.refresh()

    only_last = promote(command(commit, None, target="production", key="k1"), env)
    assert isinstance(only_last, PromotionFinished)
    env.refresh()
    assert env.mirror.read("production", "carts/extra.yaml") == b"feature: on\n"
    assert b"carts:1.0" in env.mirror.read("production", "carts/values.yaml")   # first commit not included

    whole = promote(command(commit, base, key="k2"), env)
    assert isinstance(whole, PromotionFinished)
    env.refresh()
    assert env.mirror.read("staging", "carts/extra.yaml") == b"feature: on\n"
    assert env.mirror.read("staging", "carts/values.yaml").decode() == values_yaml("carts:1.1", 2, "staging only")


def test_promotion_sets_the_change_whatever_version_the_stage_holds(make_env, human_factory):
    # staging holds another version (a hotfix, or 1.0.0 after 2.0.0 was rolled back): the
    # cherry-pick of dev's diff conflicted here; state promotion sets the key.
    env, origin = make_env(stage_branches(staging={"carts/values.yaml": values_yaml("carts:0.9-hotfix", 2, "staging only")}))
    base, commit = dev_change(env, origin, human_factory)

    answer = promote(command(commit, base), env)

    assert isinstance(answer, PromotionFinished), answer
    env.refresh()
    assert env.mirror.read("staging", "carts/values.yaml").decode() == values_yaml("carts:1.1", 2, "staging only")


def test_promotion_applies_the_change_set_from_the_events(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    files = [{"path": "values.yaml", "keys": [{"key": ["image"], "value": "carts:7.7"},
                                              {"key": ["resources", "limits", "cpu"], "value": "500m"}]},
             {"path": "k8s/extra.txt", "content": "hello\n"}]
    cmd = Promote(key=KEY, run_id=f"{CONTEXT}/staging/0", context=CONTEXT, service="carts", source_stage="dev",
                  target_stage="staging", commit=commit, base=base, files=files)

    answer = promote(cmd, env)

    assert isinstance(answer, PromotionFinished), answer
    env.refresh()
    values = env.mirror.read("staging", "carts/values.yaml").decode()
    assert values == values_yaml("carts:7.7", 2, "staging only") + "resources:\n  limits:\n    cpu: 500m\n"
    assert env.mirror.read("staging", "carts/k8s/extra.txt") == b"hello\n"


def test_promotion_structural_clash_names_file_and_key_and_writes_nothing(make_env, human_factory):
    env, origin = make_env(stage_branches(staging={"carts/values.yaml": "image: carts:1.0\nresources:\n  - cpu\n"}))
    human = human_factory(origin.url, "dev")
    base = human.head()
    human.write("carts/values.yaml", "image: carts:1.0\nresources:\n  limits:\n    cpu: 1\n")
    commit = human.commit("limits")
    human.push()
    env.refresh()
    before = env.mirror.tip("staging")

    answer = promote(command(commit, base), env)

    assert isinstance(answer, PromotionFailed)
    assert answer.paths == ("staging:carts/values.yaml",)
    assert "staging:carts/values.yaml: resources holds a list" in answer.message
    assert "resources.limits.cpu" in answer.message
    assert answer.run_id == f"{CONTEXT}/staging/0"
    env.refresh()
    assert env.mirror.tip("staging") == before


def test_promotion_into_a_missing_stage_branch_fails_with_a_reason(make_env, human_factory):
    env, origin = make_env(stage_branches())
    base, commit = dev_change(env, origin, human_factory)
    answer = promote(command(commit, base, target="qa"), env)
    assert isinstance(answer, PromotionFailed)
    assert answer.paths == ()
    assert "stage branch 'qa' does not exist" in answer.message


def test_promotion_of_an_unknown_commit_fails_instead_of_raising(make_env):
    env, _ = make_env(stage_branches())
    answer = promote(command("1" * 40, None), env)
    assert isinstance(answer, PromotionFailed)
    assert "1111111111" in answer.message


def test_promotion_writes_binary_and_large_files_from_their_blobs(make_env, human_factory):
    env, origin = make_env(stage_branches())
    human = human_factory(origin.url, "dev")
    base = human.head()
    packed = bytes(range(256)) * 40                                # a packaged chart: binary
    template = "".join(f"# line {i}\n" for i in range(2_000))     # a big template: by blob id too
    human.write("carts/helm/carts-0.1.0.tgz", packed)
    human.write("carts/helm/carts/templates/deployment.yaml", template)
    commit = human.commit("chart")
    human.push()
    env.refresh()
    from reconciler.engine.triggers import Trigger
    from reconciler.tasks.promotion import delivery_change
    change = delivery_change(env.mirror, Trigger("dev", "carts", "delivery", commit, base, CONTEXT, (commit,)))
    assert {f["path"]: set(f) for f in change["files"]} == {
        "helm/carts-0.1.0.tgz": {"path", "blob", "size"}, "helm/carts/templates/deployment.yaml": {"path", "blob", "size"}}
    cmd = Promote(key=KEY, run_id=f"{CONTEXT}/staging/0", context=CONTEXT, service="carts", source_stage="dev",
                  target_stage="staging", commit=commit, base=base, files=change["files"])

    answer = promote(cmd, env)

    assert isinstance(answer, PromotionFinished), answer
    env.refresh()
    assert env.mirror.read("staging", "carts/helm/carts-0.1.0.tgz") == packed
    assert env.mirror.read("staging", "carts/helm/carts/templates/deployment.yaml").decode() == template
