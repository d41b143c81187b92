"""Promotion (cherry-pick) and rollback (revert) in memory, restricted to a service folder."""
from __future__ import annotations

import pytest

from reconciler.contract import TRAILER_CONTEXT
from reconciler.gitstore import MergeConflict, Mirror, Writer
from tests.support.remotes import git_out

# Git's merge treats changes to *adjacent* lines as a conflict, so stage-specific lines are
# kept one unchanged line away from the image line, as they are in real values files.
DEV_VALUES = "image: carts:1.0\nport: 8080\nreplicas: 1\nendpoint: dev.example\n"
PROD_VALUES = "image: carts:1.0\nport: 8080\nreplicas: 5\nendpoint: prod.example\n"


@pytest.fixture
def promo(remotes, remote_kind, human_factory, tmp_path):
    """dev and production differ in stage-specific lines; a human changes the image on dev."""
    origin = remotes.origin(remote_kind, {
        "main": {"shipyard.yaml": "stages: [dev, production]\n"},
        "dev": {"carts/values.yaml": DEV_VALUES, "carts/slo.yaml": "dev slo\n", "orders/values.yaml": "o: dev\n"},
        "production": {"carts/values.yaml": PROD_VALUES, "carts/slo.yaml": "prod slo\n", "orders/values.yaml": "o: prod\n"},
    })
    human = human_factory(origin.url, "dev")
    human.write("carts/values.yaml", DEV_VALUES.replace("carts:1.0", "carts:1.1"))
    human.write("orders/values.yaml", "o: dev changed\n")    # another service in the same commit
    change = human.commit("carts 1.1")
    human.push()
    mirror = Mirror(origin.url, tmp_path / "work")
    mirror.fetch()
    return origin, mirror, Writer(mirror), change


def test_promotion_keeps_stage_specific_values(promo):
    origin, mirror, writer, change = promo
    result = writer.cherry_pick("production", change, "promote carts 1.1 to production",
                                {TRAILER_CONTEXT: "ctx"}, prefix="carts/")
    assert result.created
    assert mirror.read("production", "carts/values.yaml").decode() == PROD_VALUES.replace("carts:1.0", "carts:1.1")
    assert mirror.read("production", "carts/slo.yaml") == b"prod slo\n"
    assert mirror.read("production", "orders/values.yaml") == b"o: prod\n"     # outside the prefix: untouched
    assert git_out("show", "production:carts/values.yaml", cwd=origin.path).startswith("image: carts:1.1\nport: 8080\nreplicas: 5")
    assert mirror.changed_paths(f"{result.oid}~1", result.oid) == ("carts/values.yaml",)
    # promoting the same change again changes nothing
    assert not writer.cherry_pick("production", change, "again", prefix="carts/").created


def test_promotion_conflict_names_the_paths(promo, human_factory):
    origin, mirror, writer, change = promo
    prod = human_factory(origin.url, "production")
    prod.change("carts/values.yaml", PROD_VALUES.replace("carts:1.0", "carts:0.9-hotfix"))
    mirror.fetch()
    before = mirror.tip("production")
    with pytest.raises(MergeConflict) as info:
        writer.cherry_pick("production", change, "promote", prefix="carts")
    assert info.value.paths == ("carts/values.yaml",) and info.value.branch == "production"
    assert "carts/values.yaml" in str(info.value)
    assert git_out("rev-parse", "production", cwd=origin.path) == before


def test_rollback_reverts_only_the_service(promo):
    origin, mirror, writer, change = promo
    result = writer.revert("dev", change, "roll back carts", {TRAILER_CONTEXT: "ctx"}, prefix="carts/")
    assert result.created
    assert mirror.read("dev", "carts/values.yaml").decode() == DEV_VALUES
    assert mirror.read("dev", "orders/values.yaml") == b"o: dev changed\n"    # not part of the rollback
    assert git_out("show", "dev:carts/values.yaml", cwd=origin.path).startswith("image: carts:1.0")


def test_revert_survives_later_unrelated_lines(promo, human_factory):
    origin, mirror, writer, change = promo
    dev = human_factory(origin.url, "dev")
    dev.change("carts/values.yaml", DEV_VALUES.replace("carts:1.0", "carts:1.1").replace("replicas: 1", "replicas: 2"))
    mirror.fetch()
    writer.revert("dev", change, "roll back", prefix="carts/")
    assert mirror.read("dev", "carts/values.yaml").decode() == DEV_VALUES.replace("replicas: 1", "replicas: 2")


def test_without_a_prefix_the_whole_commit_is_picked(promo):
    origin, mirror, writer, change = promo
    # the change also touched orders/, whose production value differs: only the prefix saves it
    with pytest.raises(MergeConflict) as info:
        writer.cherry_pick("production", change, "promote everything")
    assert info.value.paths == ("orders/values.yaml",)


def test_cherry_pick_creates_the_service_folder_when_missing(remotes, remote_kind, tmp_path, human_factory):
    origin = remotes.origin("file", {"main": {"x": "1"}, "dev": {"new/values.yaml": "a: 1\n"}, "prod": {"y": "2"}})
    human = human_factory(origin.url, "dev")
    change = human.change("new/values.yaml", "a: 2\n")
    mirror = Mirror(origin.url, tmp_path / "w")
    mirror.fetch()
    with pytest.raises(MergeConflict):   # prod never had new/values.yaml at "a: 1": modify/delete conflict
        Writer(mirror).cherry_pick("prod", change, "promote", prefix="new/")
    human2 = human_factory(origin.url, "dev")
    add = human2.change("fresh/values.yaml", "b: 1\n")
    mirror.fetch()
    Writer(mirror).cherry_pick("prod", add, "promote")     # whole commit: it only adds fresh/
    assert mirror.read("prod", "fresh/values.yaml") == b"b: 1\n" and mirror.read("prod", "y") == b"2"
