"""reconciler.layout: one test row per row of its table, and the rules derived from it."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from reconciler import layout
from reconciler.engine.triggers import BranchUpdate, CommitFacts, classify

# pattern → (a path inside a service folder it classifies, role, kind, also stage-level at a branch root)
EXPECTED = {
    "shipyard.yaml": ("shipyard.yaml", "project", "shipyard", False),
    "reconciler.yaml": ("reconciler.yaml", "project", "settings", False),
    "slo.yaml": ("slo.yaml", "quality-gate", "slo", False),
    "sli.yaml": ("sli.yaml", "quality-gate", "sli", True),
    "remediation.yaml": ("remediation.yaml", "quality-gate", "remediation", False),
    "metadata.yaml": ("metadata.yaml", "integration", None, True),
    "values.yaml": ("values.yaml", "deploy", None, False),
    "local.yaml": ("local.yaml", "deploy", "local", False),
    "helm/": ("helm/carts/templates/deployment.yaml", "deploy", None, False),
    "k8s/": ("k8s/deployment.yaml", "deploy", None, False),
    "prometheus/sli.yaml": ("prometheus/sli.yaml", "quality-gate", "sli", True),
    "prometheus/": ("prometheus/alerts.yaml", "integration", None, True),
    "dynatrace/sli.yaml": ("dynatrace/sli.yaml", "quality-gate", "sli", True),
    "dynatrace/": ("dynatrace/dynatrace.conf.yaml", "integration", None, True),
    "datadog/sli.yaml": ("datadog/sli.yaml", "quality-gate", "sli", True),
    "datadog/": ("datadog/datadog.conf.yaml", "integration", None, True),
    "*/sli.yaml": ("newrelic/sli.yaml", "quality-gate", None, False),     # at a root: service newrelic
    "job/config.yaml": ("job/config.yaml", "integration", "jobconfig", True),
    "job/": ("job/locust/basic.py", "integration", None, True),
    "webhook/": ("webhook/webhook.yaml", "integration", None, True),
    "jmeter/": ("jmeter/load.jmx", "test", None, False),
    "locust/": ("locust/locustfile.py", "test", None, False),
}


def test_every_row_of_the_table_has_a_test_row():
    assert [r.pattern for r in layout.RULES] == list(EXPECTED)


@pytest.mark.parametrize("rule", layout.RULES, ids=lambda r: r.pattern)
def test_row(rule):
    path, role, kind, stage_level = EXPECTED[rule.pattern]
    level = "project" if rule.levels == layout.PROJECT else "service"
    assert layout.rule_for(path, level) is rule
    assert (rule.role, rule.kind) == (role, kind)
    assert layout.kind_at(path, level) == kind
    if level == "service":
        assert layout.role_of(path) == role
        assert layout.is_deployable(path) == (role == "deploy")
        assert layout.split_service(f"carts/{path}") == ("carts", path)
    assert (layout.rule_for(path, "stage") is rule) == stage_level
    if stage_level and "/" in rule.pattern:
        assert layout.split_service(path) == (None, path)        # a folder at a branch root is no service


@pytest.mark.parametrize("rel", ["Chart.yaml", "templates/x.yaml", ".gitignore", "chart/values.yaml"])
def test_a_file_no_row_names_is_deployable(rel):
    assert layout.rule_for(rel) is None and layout.is_deployable(rel)


def test_root_files_per_level():
    assert layout.root_files("project") == {
        "shipyard.yaml": "shipyard", "reconciler.yaml": "settings", "sli.yaml": "sli", "prometheus/sli.yaml": "sli",
        "dynatrace/sli.yaml": "sli", "datadog/sli.yaml": "sli", "job/config.yaml": "jobconfig"}
    assert layout.root_files("stage") == {p: k for p, k in layout.root_files("project").items()
                                          if k in ("sli", "jobconfig")}
    assert layout.service_only_files() == ("slo.yaml", "remediation.yaml", "local.yaml")
    assert {"prometheus", "dynatrace", "datadog", "job", "webhook"} == layout.STAGE_LEVEL_FOLDERS


def test_sli_precedence_is_project_then_stage_then_service_and_the_provider_file_last():
    assert layout.sli_paths("prometheus", "carts") == (
        ("project", "sli.yaml"), ("project", "prometheus/sli.yaml"),
        ("stage", "sli.yaml"), ("stage", "prometheus/sli.yaml"),
        ("service", "carts/sli.yaml"), ("service", "carts/prometheus/sli.yaml"))
    assert layout.sli_files("dynatrace") == ("sli.yaml", "dynatrace/sli.yaml")


def test_the_job_config_of_the_service_wins_over_the_stage_and_the_project():
    assert layout.job_config_paths("carts") == (("service", "carts/job/config.yaml"), ("stage", "job/config.yaml"),
                                                ("project", "job/config.yaml"))


@pytest.mark.parametrize("rel, provider", [
    ("sli.yaml", None), ("prometheus/sli.yaml", "prometheus"), ("dynatrace/sli.yaml", "dynatrace"),
    ("datadog/sli.yaml", "datadog"), ("newrelic/sli.yaml", "newrelic"), ("slo.yaml", None),
    ("helm/sli.yaml", "helm"), ("dynatrace/dynatrace.conf.yaml", None),
])
def test_which_provider_an_sli_file_is_written_for(rel, provider):
    assert layout.sli_provider_of(rel) == provider


@pytest.mark.parametrize("rel, values", [
    ("values.yaml", True), ("helm/carts/values.yaml", True), ("helm/carts/values.yml", True),
    ("helm/carts/templates/values.yaml", False), ("k8s/values.yaml", False), ("slo.yaml", False),
])
def test_values_files(rel, values):
    assert layout.is_values_file(rel) == values


def test_editing_a_test_script_or_an_integration_config_starts_no_delivery():
    commits = tuple(CommitFacts(oid=f"c{i}", author_email="dev@example.com", paths=(path,))
                    for i, path in enumerate(["carts/jmeter/load.jmx", "carts/dynatrace/dynatrace.conf.yaml",
                                              "carts/locust/locustfile.py"]))
    report = classify([BranchUpdate("dev", "old", "c2", commits)], ["dev"], "main")
    assert report.triggers == ()
    assert [n.kind for n in report.notices] == ["config-changed"] * 3
    assert "test files of carts" in report.notices[0].message
    deploy = CommitFacts(oid="c3", author_email="dev@example.com", paths=("carts/helm/carts/values.yaml",))
    report = classify([BranchUpdate("dev", "c2", "c3", (deploy,))], ["dev"], "main")
    assert [(t.service, t.commit) for t in report.triggers] == [("carts", "c3")]


def test_keptn_task_names():
    assert layout.KEPTN_TASKS == ("deployment", "test", "evaluation", "approval", "release", "rollback",
                                  "get-action", "action", "get-sli", "promotion")


def test_layout_is_a_leaf_of_stdlib_and_the_contract():
    tree = ast.parse(Path(layout.__file__).read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    outside = {n for n in names if n.split(".")[0] not in sys.stdlib_module_names and n != "reconciler.contract"}
    assert outside == set()


def test_webhook_config_is_looked_up_service_stage_project():
    assert layout.webhook_config_paths("carts") == (
        ("service", "carts/webhook/webhook.yaml"), ("stage", "webhook/webhook.yaml"), ("project", "webhook/webhook.yaml"))
