"""Commit facts → sequence triggers (issue 4, deliverable 3): every classifier rule."""
import pytest

from reconciler import contract
from reconciler.engine.events import context_uuid, parse_type
from reconciler.engine.triggers import BranchUpdate, CommitFacts, classify, classify_path

STAGES = ["dev", "staging", "production"]


def commit(oid, *paths, author="dev@example.com", trailers=None, merged=()):
    return CommitFacts(oid=oid, author_email=author, trailers=trailers or {}, paths=tuple(paths),
                       merged_trailers=tuple(merged))


def push(branch, *commits, old="old-tip", services=None):
    return BranchUpdate(branch=branch, old=old, new=commits[-1].oid if commits else None,
                        commits=tuple(commits), services=services)


def run(*updates, default="main"):
    return classify(updates, STAGES, default)


def triggers(report):
    return [(t.stage, t.service, t.sequence, t.commit) for t in report.triggers]


@pytest.mark.parametrize("path,expected", [
    ("carts/values.yaml", ("deploy", "carts")),
    ("carts/helm/carts/templates/deployment.yaml", ("deploy", "carts")),
    ("carts/k8s/deploy.yaml", ("deploy", "carts")),
    ("carts/local.yaml", ("deploy", "carts")),
    ("carts/slo.yaml", ("quality-gate", "carts")),
    ("carts/sli.yaml", ("quality-gate", "carts")),
    ("carts/prometheus/sli.yaml", ("quality-gate", "carts")),
    ("carts/dynatrace/sli.yaml", ("quality-gate", "carts")),
    ("carts/newrelic/sli.yaml", ("quality-gate", "carts")),     # any provider folder
    ("carts/remediation.yaml", ("quality-gate", "carts")),
    ("carts/metadata.yaml", ("integration", "carts")),
    ("carts/job/config.yaml", ("integration", "carts")),
    ("carts/job/locust/basic.py", ("integration", "carts")),     # job/**
    ("carts/dynatrace/dynatrace.conf.yaml", ("integration", "carts")),
    ("carts/jmeter/load.jmx", ("test", "carts")),               # a test script never delivers
    ("carts/locust/locustfile.py", ("test", "carts")),
    ("shipyard.yaml", ("stage", None)),
    ("metadata.yaml", ("stage", None)),
    ("prometheus/sli.yaml", ("stage", None)),                # stage-level SLIs
    ("datadog/sli.yaml", ("stage", None)),
    ("webhook/webhook.yaml", ("stage", None)),
    ("job/config.yaml", ("stage", None)),
    (".github/workflows/ci.yaml", ("stage", None)),
])
def test_path_classes(path, expected):
    assert classify_path(path, None) == expected


def test_known_service_folders_override_the_stage_level_guess():
    assert classify_path("prometheus/values.yaml", frozenset({"prometheus"})) == ("deploy", "prometheus")
    assert classify_path("carts/values.yaml", frozenset({"orders"})) == ("stage", None)


def test_a_deployable_change_triggers_delivery_with_a_context_from_the_commit():
    report = run(push("dev", commit("c1", "carts/values.yaml")))
    (t,) = report.triggers
    assert (t.stage, t.service, t.sequence, t.commit, t.base) == ("dev", "carts", "delivery", "c1", "old-tip")
    assert t.context == context_uuid("dev:carts:c1")
    assert report.changed_services == {"dev": ("carts",)}
    event = t.event("sockshop", 1_700_000_000.0)
    parsed = parse_type(event.type)
    assert (parsed.stage, parsed.sequence, parsed.kind) == ("dev", "delivery", "triggered")
    assert event.data == {"project": "sockshop", "stage": "dev", "service": "carts",
                          "configurationChange": {"commit": "c1", "base": "old-tip"}}
    assert event.gitcommitid == "c1" and event.shkeptncontext == t.context
    assert event.id == t.event("sockshop", 0.0).id          # the same push gives the same event id


def test_sequence_trailer_picks_another_sequence_and_skip_suppresses():
    report = run(push("dev", commit("c1", "carts/values.yaml", trailers={"Reconciler-Sequence": "delivery-direct"}),
                      commit("c2", "orders/values.yaml", trailers={"reconciler-skip": "True"})))
    assert triggers(report) == [("dev", "carts", "delivery-direct", "c1")]
    assert [(n.kind, n.service) for n in report.notices] == [("skipped", "orders")]
    assert report.changed_services == {"dev": ("carts", "orders")}


@pytest.mark.parametrize("facts", [
    commit("c1", "carts/values.yaml", trailers={contract.TRAILER_CONTEXT: "ctx-1"}),
    commit("c1", "carts/values.yaml", author=contract.BOT_EMAIL),
    commit("c1", "carts/values.yaml", author="Reconciler@Localhost "),
    commit("c1", "carts/values.yaml", merged=[{}, {contract.TRAILER_CONTEXT: "ctx-1"}]),   # approval merged
])
def test_commits_of_a_context_never_trigger(facts):
    report = run(push("staging", facts))
    assert report.triggers == ()
    (owned,) = report.owned
    assert owned.commit == "c1" and owned.branch == "staging"
    assert report.changed_services == {"staging": ("carts",)}     # still re-validated


def test_a_merged_approval_branch_is_reported_with_its_context():
    report = run(push("production", commit("m1", "carts/values.yaml",
                                           merged=[{contract.TRAILER_CONTEXT: "ctx-9", "Reconciler-Event": "x"}])))
    (owned,) = report.owned
    assert (owned.context, owned.merge) == ("ctx-9", True)


def test_an_ordinary_merge_triggers_like_a_commit():
    report = run(push("dev", commit("m1", "carts/values.yaml", merged=[{"Signed-off-by": "a"}])))
    assert triggers(report) == [("dev", "carts", "delivery", "m1")]


@pytest.mark.parametrize("paths", [
    ("carts/slo.yaml",), ("carts/slo.yaml", "carts/remediation.yaml", "carts/job/config.yaml"),
    ("carts/dynatrace/sli.yaml",),
])
def test_quality_gate_only_changes_are_notices(paths):
    report = run(push("dev", commit("c1", *paths)))
    assert report.triggers == ()
    assert [(n.kind, n.service) for n in report.notices] == [("config-changed", "carts")]


def test_stage_level_only_changes_are_notices():
    report = run(push("dev", commit("c1", "prometheus/sli.yaml", "metadata.yaml")))
    assert report.triggers == ()
    assert [(n.kind, n.service) for n in report.notices] == [("config-changed", None)]
    assert report.stage_files_changed == ("dev",) and report.changed_services == {}


def test_mixed_commit_triggers_the_deployable_service_and_notes_the_other():
    report = run(push("dev", commit("c1", "carts/values.yaml", "carts/slo.yaml", "orders/slo.yaml")))
    assert triggers(report) == [("dev", "carts", "delivery", "c1")]
    assert [(n.kind, n.service) for n in report.notices] == [("config-changed", "orders")]


def test_one_trigger_per_stage_and_service_carrying_the_newest_commit():
    report = run(push("dev", commit("c1", "carts/values.yaml"), commit("c2", "orders/values.yaml"),
                      commit("c3", "carts/helm/x.yaml"), commit("c4", "carts/slo.yaml"),
                      commit("c5", "carts/values.yaml", trailers={"Reconciler-Skip": "true"})),
                 push("staging", commit("s1", "carts/values.yaml")))
    assert triggers(report) == [("dev", "carts", "delivery", "c3"), ("dev", "orders", "delivery", "c2"),
                                ("staging", "carts", "delivery", "s1")]
    carts = report.triggers[0]
    assert carts.commits == ("c1", "c3") and carts.context == context_uuid("dev:carts:c3")


def test_other_branches_never_trigger_but_the_default_branch_reports_config_changes():
    report = run(push("main", commit("d1", "shipyard.yaml", "carts/values.yaml")),
                 push("feature/x", commit("f1", "carts/values.yaml")),
                 push("approve/production/carts/1234abcd", commit("a1", "carts/values.yaml")),
                 push(contract.RESULTS_BRANCH, commit("r1", "sequences/dev/carts/x.json")))
    assert report.triggers == () and report.shipyard_changed and not report.settings_changed
    assert report.changed_services == {}
    report = run(push("main", commit("d2", "reconciler.yaml")))
    assert report.settings_changed and not report.shipyard_changed


def test_a_stage_branch_that_is_also_the_default_branch_does_both():
    report = classify([push("main", commit("c1", "shipyard.yaml", "carts/values.yaml"))], ["main"], "main")
    assert report.shipyard_changed and [t.service for t in report.triggers] == ["carts"]


def test_invalid_service_folders_and_sequence_names_are_ignored_with_a_notice():
    report = run(push("dev", commit("c1", "Carts/values.yaml"),
                      commit("c2", "orders/values.yaml", trailers={"Reconciler-Sequence": "a.b"})))
    assert report.triggers == ()
    assert [(n.kind, n.service) for n in report.notices] == [("ignored", "Carts"), ("ignored", "orders")]


def test_a_new_branch_has_no_base():
    report = run(push("dev", commit("c1", "carts/values.yaml"), old=None))
    assert report.triggers[0].base is None
    assert "base" not in report.triggers[0].event("p", 0.0).data["configurationChange"]


def test_an_empty_or_deleted_branch_does_nothing():
    report = run(BranchUpdate("dev", "old", None, ()))
    assert report.triggers == () and report.notices == () and report.owned == ()


def test_known_services_limit_what_counts_as_a_service():
    report = run(push("dev", commit("c1", "prometheus/values.yaml", "carts/values.yaml"),
                      services=frozenset({"prometheus"})))
    assert triggers(report) == [("dev", "prometheus", "delivery", "c1")]
    assert report.stage_files_changed == ("dev",)
