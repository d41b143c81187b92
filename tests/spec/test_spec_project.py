"""Whole-repository validation: cross-file checks, and the incremental re-validation the
controller relies on (a changed service is parsed again, nothing else)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

import reconciler.spec.project as project_module
from reconciler import layout
from reconciler.engine.triggers import classify_path
from reconciler.layout import split_service
from reconciler.spec.kinds import kind_of_repo_path
from reconciler.spec.project import ProjectValidator, validate_project

EXAMPLE = Path(__file__).resolve().parents[2] / "example-config-repo"
STAGES = ("dev", "staging", "production")


def example_tree() -> dict[str, dict[str, bytes]]:
    tree = {}
    for branch in sorted(p for p in EXAMPLE.iterdir() if p.is_dir()):
        tree[branch.name] = {f.relative_to(branch).as_posix(): f.read_bytes() for f in branch.rglob("*") if f.is_file()}
    return tree


def codes(report) -> list[tuple[str, str]]:
    return [(f.code, f.file) for f in report.findings]


@pytest.fixture
def tree():
    return copy.deepcopy(example_tree())


def test_example_project_is_clean_and_typed(tree):
    report = validate_project(tree)
    assert report.findings == []
    assert report.default_branch == "main"
    assert report.shipyard.stage_names == ["dev", "staging", "production"]
    assert report.settings.project == "hello"
    prod = report.services[("production", "helloservice")]
    assert [a.value for a in prod.remediation.actions_for(problem_title="response_time_p95")] == ["1", "2"]
    assert set(prod.indicators) == {"response_time_p95", "error_rate", "throughput"}
    assert prod.slo.total_score.pass_ == "90%"


def test_no_default_branch(tree):
    tree["trunk"] = tree.pop("main")
    assert codes(validate_project(tree)) == [("no-default-branch", "main:shipyard.yaml")]


def test_master_is_a_default_branch_too(tree):
    tree["master"] = tree.pop("main")
    assert validate_project(tree).findings == []


def test_missing_shipyard_still_checks_stage_files(tree):
    del tree["main"]["shipyard.yaml"]
    tree["dev"]["helloservice/slo.yaml"] = b"objectives: [{sli: a}]\n"
    found = codes(validate_project(tree))
    assert ("missing-shipyard", "main:shipyard.yaml") in found
    assert ("missing-total-score", "dev:helloservice/slo.yaml") in found


def test_stage_without_branch_points_at_the_stage(tree):
    del tree["staging"]
    report = validate_project(tree)
    [f] = report.findings
    assert (f.code, f.file, f.severity) == ("stage-without-branch", "main:shipyard.yaml", "warning")
    text = tree["main"]["shipyard.yaml"].decode()
    assert text.splitlines()[f.line - 1].strip() == "- name: staging"


def test_branches_that_are_not_stages_are_ignored(tree):
    tree["feature-x"] = {"helloservice/slo.yaml": b"not: [valid"}
    tree["reconciler/results"] = {"evaluations/x.json": b"{"}
    assert validate_project(tree).findings == []


def test_settings_for_an_unknown_stage(tree):
    tree["main"]["reconciler.yaml"] += b"    qa:\n      target: local\n"
    [f] = validate_project(tree).findings
    assert (f.code, f.file) == ("unknown-stage", "main:reconciler.yaml")
    assert tree["main"]["reconciler.yaml"].decode().splitlines()[f.line - 1].strip() == "qa:"


def test_missing_slo_only_where_the_stage_evaluates(tree):
    del tree["dev"]["helloservice/slo.yaml"]
    assert ("missing-slo", "dev:helloservice/") in codes(validate_project(tree))
    shipyard = tree["main"]["shipyard.yaml"].decode().replace("            - name: evaluation\n            - name: release\n\n",
                                                              "            - name: release\n\n", 1)
    tree["main"]["shipyard.yaml"] = shipyard.encode()
    assert "missing-slo" not in [c for c, _ in codes(validate_project(tree))]


def test_sli_undefined_points_at_the_objective(tree):
    slo = tree["staging"]["helloservice/slo.yaml"].decode().replace("  - sli: throughput", "  - sli: latency_p99")
    tree["staging"]["helloservice/slo.yaml"] = slo.encode()
    [f] = validate_project(tree).findings
    assert (f.code, f.file) == ("sli-undefined", "staging:helloservice/slo.yaml")
    assert "latency_p99" in slo.splitlines()[f.line - 1]


def test_sli_layers_project_stage_service(tree):
    for stage in ("dev", "staging", "production"):
        del tree[stage]["helloservice/prometheus/sli.yaml"]
    tree["main"]["prometheus/sli.yaml"] = b"indicators:\n  response_time_p95: p95\n  error_rate: errors\n"
    tree["dev"]["prometheus/sli.yaml"] = b"indicators:\n  throughput: dev-throughput\n"
    tree["dev"]["helloservice/sli.yaml"] = b"indicators:\n  error_rate: service-errors\n"
    report = validate_project(tree)
    assert report.services[("dev", "helloservice")].indicators == {
        "response_time_p95": "p95", "error_rate": "service-errors", "throughput": "dev-throughput"}
    assert [(c, f) for c, f in codes(report)] == [
        ("sli-undefined", "staging:helloservice/slo.yaml"), ("sli-undefined", "production:helloservice/slo.yaml")]


def test_unknown_placeholder_in_service_sli(tree):
    sli = tree["dev"]["helloservice/prometheus/sli.yaml"].decode().replace(
        "throughput: sum(rate(http_requests_total{job=\"$SERVICE-$PROJECT-$STAGE\"}[$DURATION_SECONDS]))",
        "throughput: sum(rate(http_requests_total{job=\"$SERVICE-$PROJECT-$STAGE\",team=\"$TEAM\"}[$DURATION]))")
    tree["dev"]["helloservice/prometheus/sli.yaml"] = sli.encode()
    [f] = validate_project(tree).findings
    assert (f.code, f.file) == ("unknown-placeholder", "dev:helloservice/prometheus/sli.yaml")
    assert "$TEAM" in f.message and "$DURATION," in f.message + ","
    assert sli.splitlines()[f.line - 1].strip().startswith("throughput:")


def test_filter_keys_are_placeholders(tree):
    sli = tree["dev"]["helloservice/prometheus/sli.yaml"].decode().replace("[$DURATION_SECONDS]))\n", "[$DURATION_SECONDS])) + $TEAM\n", 1)
    tree["dev"]["helloservice/prometheus/sli.yaml"] = sli.encode()
    assert [c for c, _ in codes(validate_project(tree))] == ["unknown-placeholder"]
    tree["dev"]["helloservice/slo.yaml"] += b"filter:\n  team: payments\n"
    assert validate_project(tree).findings == []


def test_unknown_placeholder_from_project_level_sli_is_reported_in_the_slo(tree):
    for stage in ("dev", "staging", "production"):
        del tree[stage]["helloservice/prometheus/sli.yaml"]
    tree["main"]["prometheus/sli.yaml"] = (b"indicators:\n  response_time_p95: p95{$ZONE}\n  error_rate: e\n"
                                           b"  throughput: t\n")
    found = validate_project(tree).findings
    assert {(f.code, f.file) for f in found} == {("unknown-placeholder", f"{s}:helloservice/slo.yaml")
                                                 for s in ("dev", "staging", "production")}
    assert all("main:prometheus/sli.yaml" in f.message for f in found)


def test_provider_none_skips_query_checks(tree):
    tree["main"]["reconciler.yaml"] = tree["main"]["reconciler.yaml"].replace(b"provider: prometheus", b"provider: none")
    for stage in ("dev", "staging", "production"):
        del tree[stage]["helloservice/prometheus/sli.yaml"]
    assert validate_project(tree).findings == []


def test_sli_ambiguous(tree):
    tree["dev"]["helloservice/sli.yaml"] = b"indicators: {throughput: up}\n"
    assert codes(validate_project(tree)) == [("sli-ambiguous", "dev:helloservice/sli.yaml")]


def test_remediation_in_a_stage_without_remediation(tree):
    tree["dev"]["helloservice/remediation.yaml"] = tree["production"]["helloservice/remediation.yaml"]
    assert codes(validate_project(tree)) == [("remediation-unused", "dev:helloservice/remediation.yaml")]


def test_missing_remediation(tree):
    del tree["production"]["helloservice/remediation.yaml"]
    assert codes(validate_project(tree)) == [("missing-remediation", "production:helloservice/")]


def set_target(tree, stage: str, target: str) -> None:
    text = tree["main"]["reconciler.yaml"].decode()
    old = f"    {stage}:\n      target: local"
    assert old in text
    tree["main"]["reconciler.yaml"] = text.replace(old, f"    {stage}:\n      target: {target}").encode()


def test_missing_local_yaml_where_the_stage_deploys_locally(tree):
    del tree["dev"]["helloservice/local.yaml"]
    report = validate_project(tree)
    [f] = report.findings
    assert (f.code, f.file, f.severity) == ("missing-local-yaml", "dev:helloservice/", "warning")
    assert "'dev'" in f.message and "helloservice/local.yaml" in f.message and "target: local" in f.message
    assert report.services[("dev", "helloservice")].local is None
    assert report.services[("staging", "helloservice")].local.command[0] == "python"


@pytest.mark.parametrize("target", ["kubernetes", "none"])
def test_missing_local_yaml_is_quiet_for_other_targets(tree, target):
    set_target(tree, "dev", target)
    del tree["dev"]["helloservice/local.yaml"]
    assert validate_project(tree).findings == []


def test_local_is_the_default_target(tree):
    text = tree["main"]["reconciler.yaml"].decode()
    tree["main"]["reconciler.yaml"] = text[:text.index("  stages:")].encode()     # no stage entries
    del tree["staging"]["helloservice/local.yaml"]
    [f] = validate_project(tree).findings
    assert (f.code, f.file) == ("missing-local-yaml", "staging:helloservice/")
    assert "default" in f.message
    del tree["main"]["reconciler.yaml"]                                      # no settings at all
    assert codes(validate_project(tree)) == [("missing-local-yaml", "staging:helloservice/")]


def test_missing_local_yaml_is_quiet_when_the_settings_are_broken(tree):
    tree["main"]["reconciler.yaml"] += b"  surprise: true\n"
    del tree["dev"]["helloservice/local.yaml"]
    assert codes(validate_project(tree)) == [("unknown-key", "main:reconciler.yaml")]


def test_missing_local_yaml_needs_deployable_files_and_a_deployment_task(tree):
    for stage in STAGES:
        del tree[stage]["helloservice/local.yaml"]
    del tree["dev"]["helloservice/values.yaml"]          # only quality-gate files left: nothing to deploy
    tree["dev"]["helloservice/metadata.yaml"] = b"owner: team\n"
    shipyard = tree["main"]["shipyard.yaml"].decode()
    deployment = "            - name: deployment\n              properties:\n                deploymentstrategy: direct\n"
    tree["main"]["shipyard.yaml"] = shipyard.replace(deployment, "").encode()   # no stage deploys
    assert validate_project(tree).findings == []
    tree["main"]["shipyard.yaml"] = shipyard.encode()
    assert codes(validate_project(tree)) == [("missing-local-yaml", "staging:helloservice/"),
                                              ("missing-local-yaml", "production:helloservice/")]
    tree["dev"]["helloservice/helm/Chart.yaml"] = b"name: helloservice\n"
    assert ("missing-local-yaml", "dev:helloservice/") in codes(validate_project(tree))


def test_an_invalid_local_yaml_is_an_error_of_that_service(tree):
    tree["staging"]["helloservice/local.yaml"] = b"command: python -m app\nstartTimeout: soon\n"
    report = validate_project(tree)
    assert [(f.code, f.file, f.severity, f.line) for f in report.findings] == [
        ("shell-command", "staging:helloservice/local.yaml", "error", 1),
        ("bad-value", "staging:helloservice/local.yaml", "error", 2)]
    assert report.services[("staging", "helloservice")].local is None
    assert report.services[("dev", "helloservice")].local is not None


def test_local_yaml_outside_a_service_folder_is_not_read(tree):
    tree["dev"]["local.yaml"] = tree["dev"]["helloservice/local.yaml"]
    tree["main"]["helloservice/local.yaml"] = tree["dev"]["helloservice/local.yaml"]
    assert codes(validate_project(tree)) == [("ignored-file", "main:helloservice/local.yaml"),
                                              ("ignored-file", "dev:local.yaml")]


def test_a_target_change_rechecks_local_yaml_without_reparsing(monkeypatch, tree):
    counter = CountingCheck(monkeypatch)
    del tree["dev"]["helloservice/local.yaml"]
    set_target(tree, "dev", "kubernetes")
    validator = ProjectValidator().set_tree(tree)
    assert validator.report().findings == []
    before = len(counter.calls)
    back = tree["main"]["reconciler.yaml"].replace(b"target: kubernetes", b"target: local")
    validator.update("main", {"reconciler.yaml": back})
    assert [(f.code, f.file) for f in validator.report().findings] == [("missing-local-yaml", "dev:helloservice/")]
    assert counter.calls[before:] == ["reconciler.yaml"]
    validator.update("dev", {"helloservice/local.yaml": tree["staging"]["helloservice/local.yaml"]})
    assert validator.report().findings == []
    assert counter.calls[before + 1:] == []            # the same bytes as staging's: parsed already


def test_files_nobody_reads(tree):
    tree["main"]["helloservice/slo.yaml"] = tree["dev"]["helloservice/slo.yaml"]
    tree["staging"]["slo.yaml"] = tree["dev"]["helloservice/slo.yaml"]
    assert codes(validate_project(tree)) == [("ignored-file", "main:helloservice/slo.yaml"),
                                              ("ignored-file", "staging:slo.yaml")]


def test_invalid_service_folder_name(tree):
    tree["dev"]["Hello_Service/values.yaml"] = b"image: x\n"
    assert ("invalid-service-name", "dev:Hello_Service/") in codes(validate_project(tree))


def test_stage_level_job_config_and_sli_are_validated(tree):
    tree["staging"]["job/config.yaml"] = b"actions: []\n"
    tree["staging"]["prometheus/sli.yaml"] = b"indicators: [up]\n"
    found = codes(validate_project(tree))
    assert ("missing-key", "staging:job/config.yaml") in found
    assert ("wrong-type", "staging:prometheus/sli.yaml") in found


def test_custom_file_names(tree):
    report = validate_project(tree | {"dev": {"helloservice/slo.yaml": b"{"}},
                              name=lambda branch, path: f"repo/{branch}/{path}")
    assert [f.file for f in report.findings] == ["repo/dev/helloservice/slo.yaml"]


class CountingCheck:
    def __init__(self, monkeypatch):
        self.calls: list[str] = []
        real = project_module.check_document

        def counting(text, kind=None, path=None):
            self.calls.append(path)
            return real(text, kind, path)
        monkeypatch.setattr(project_module, "check_document", counting)


def service_files(tree, branch: str, service: str) -> dict[str, bytes]:
    """Every file of `<service>/` on `branch`, by its path inside the folder."""
    prefix = f"{service}/"
    return {path[len(prefix):]: data for path, data in tree[branch].items() if path.startswith(prefix)}


def big_tree(services: int) -> dict[str, dict[str, bytes]]:
    """The example with `services` copies of helloservice (all of its files) in every stage."""
    tree = example_tree()
    for stage in STAGES:
        base = service_files(tree, stage, "helloservice")
        for i in range(services):
            for rel, data in base.items():
                tree[stage][f"svc-{i:03d}/{rel}"] = data + f"# svc-{i:03d}\n".encode()
    return tree


def is_config(path: str) -> bool:
    """A file the validator parses (project files, or a service/stage file with a kind)."""
    return path in ("shipyard.yaml", "reconciler.yaml") or kind_of_repo_path(split_service(path)[1]) is not None


def test_revalidating_one_service_parses_only_its_changed_file(monkeypatch):
    counter = CountingCheck(monkeypatch)
    tree = big_tree(20)
    validator = ProjectValidator().set_tree(tree)
    assert validator.report().findings == []
    first = len(counter.calls)
    config = {data for files in tree.values() for path, data in files.items() if is_config(path)}
    assert first == len(config)              # each distinct document parsed once (equal files share)
    slo = b"objectives: [{sli: throughput}]\n"
    validator.update("staging", {"svc-007/slo.yaml": slo})
    report = validator.report()
    assert counter.calls[first:] == ["slo.yaml"]
    assert [(f.code, f.file) for f in report.findings] == [("missing-total-score", "staging:svc-007/slo.yaml")]
    assert validator.report().findings == report.findings
    assert len(counter.calls) == first + 1              # nothing new to parse


def test_a_shipyard_change_rechecks_services_without_reparsing_them(monkeypatch):
    tree = big_tree(5)
    counter = CountingCheck(monkeypatch)
    validator = ProjectValidator().set_tree(tree)
    validator.report()
    before = len(counter.calls)
    shipyard = tree["main"]["shipyard.yaml"].replace(b"            - name: evaluation\n            - name: release\n\n",
                                                     b"            - name: release\n\n", 1)
    validator.update("main", {"shipyard.yaml": shipyard})
    del_slo = {"svc-001/slo.yaml": None}
    validator.update("dev", del_slo)
    report = validator.report()
    assert counter.calls[before:] == ["shipyard.yaml"]
    assert report.findings == []          # dev no longer evaluates, so no missing-slo for svc-001
    validator.update("main", {"shipyard.yaml": tree["main"]["shipyard.yaml"]})
    assert [(f.code, f.file) for f in validator.report().findings] == [("missing-slo", "dev:svc-001/")]
    assert counter.calls[before + 1:] == []     # the old shipyard came from the cache


def test_deleting_files_and_branches():
    tree = example_tree()
    validator = ProjectValidator().set_tree(tree)
    validator.update("dev", {f"helloservice/{rel}": None for rel in service_files(tree, "dev", "helloservice")})
    report = validator.report()
    assert ("dev", "helloservice") not in report.services and report.findings == []
    validator.remove_branch("production")
    assert [f.code for f in validator.report().findings] == ["stage-without-branch"]


def test_blob_ids_are_used_as_cache_keys(monkeypatch):
    class Blob:
        def __init__(self, blob_id, data):
            self.id, self._data, self.reads = blob_id, data, 0

        @property
        def data(self):
            self.reads += 1
            return self._data

    tree = example_tree()
    blobs = {b: {p: Blob(f"{b}:{p}", d) for p, d in files.items()} for b, files in tree.items()}
    validator = ProjectValidator().set_tree(blobs)
    assert validator.report().findings == []
    validator.set_tree(blobs)                # the same ids again, e.g. after a restart of the poll
    assert validator.report().findings == []
    assert all(blob.reads <= 1 for files in blobs.values() for blob in files.values())


@pytest.mark.parametrize("folder", sorted(layout.STAGE_LEVEL_FOLDERS))
def test_validate_and_the_trigger_rules_agree_on_stage_level_folders(tree, folder):
    """`dev:datadog/` once was a service to `validate` (missing local.yaml) and stage-level to
    the trigger rules; both now ask reconciler.layout."""
    tree["dev"][f"{folder}/sli.yaml"] = b"indicators: {throughput: up}\n"
    tree["dev"][f"{folder}/settings.yaml"] = b"a: 1\n"
    report = validate_project(tree)
    assert report.findings == []
    assert ("dev", folder) not in report.services
    assert classify_path(f"{folder}/settings.yaml", None) == ("stage", None)


def test_a_dynatrace_config_or_a_test_script_is_not_deployable(tree):
    """A service whose only non-config files are integration config or test scripts has nothing
    to deploy, so the local target's missing local.yaml is no warning."""
    del tree["dev"]["helloservice/local.yaml"]
    del tree["dev"]["helloservice/values.yaml"]
    tree["dev"]["helloservice/dynatrace/dynatrace.conf.yaml"] = b"spec_version: '0.1.0'\n"
    tree["dev"]["helloservice/jmeter/load.jmx"] = b"<jmeterTestPlan/>\n"
    tree["dev"]["helloservice/locust/locustfile.py"] = b"print('load')\n"
    assert validate_project(tree).findings == []
    tree["dev"]["helloservice/k8s/deployment.yaml"] = b"kind: Deployment\n"
    assert codes(validate_project(tree)) == [("missing-local-yaml", "dev:helloservice/")]


def test_an_sli_written_for_another_provider_names_that_provider(tree):
    """The query is in dynatrace/sli.yaml: the provider is what is missing, not the query."""
    sli = tree["dev"].pop("helloservice/prometheus/sli.yaml")
    tree["dev"]["helloservice/dynatrace/sli.yaml"] = sli
    findings = [f for f in validate_project(tree).findings if f.file == "dev:helloservice/slo.yaml"]
    assert findings and {f.code for f in findings} == {"sli-undefined"}
    assert "helloservice/dynatrace/sli.yaml defines it for dynatrace" in findings[0].message
    assert "spec.sli.provider: prometheus" in findings[0].message


def test_the_hint_names_get_sli_and_selecting_it_silences_the_warning(tree):
    tree["dev"]["helloservice/dynatrace/sli.yaml"] = tree["dev"].pop("helloservice/prometheus/sli.yaml")
    [first, *_] = [f for f in validate_project(tree).findings if f.file == "dev:helloservice/slo.yaml"]
    assert "`spec.sli.provider: get-sli` and `get-sli: {sliProvider: dynatrace}`" in first.message
    settings = tree["main"]["reconciler.yaml"].decode()
    # for dev/helloservice only (an override): its dynatrace/sli.yaml now holds the queries
    tree["main"]["reconciler.yaml"] = settings.replace(
        "    provider: prometheus\n",
        "    provider: prometheus\n    overrides:\n      - {stage: dev, service: helloservice, provider: get-sli, "
        "sliProvider: dynatrace}\n").encode()
    assert [f for f in validate_project(tree).findings if f.file.startswith("dev:")] == []
    del tree["dev"]["helloservice/dynatrace/sli.yaml"]
    missing = [f for f in validate_project(tree).findings if f.file == "dev:helloservice/slo.yaml"]
    assert missing and "helloservice/dynatrace/sli.yaml" in missing[0].message
