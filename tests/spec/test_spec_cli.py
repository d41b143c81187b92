"""`reconciler validate` and `reconciler init` end to end: real bare repositories made by
init, working copies made by git clone, folders and single files; exit codes 0/1/2."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.spec.codes import CODES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example-config-repo"
LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning) (?P<code>[a-z-]+) (?P<msg>.+)$")


def example_file_count() -> int:
    """The files `reconciler init` commits: every file in a branch folder of the example."""
    return sum(1 for branch in EXAMPLE.iterdir() if branch.is_dir() for f in branch.rglob("*") if f.is_file())


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def repo(tmp_path) -> Path:
    dest = tmp_path / "hello.git"
    result = run("init", str(dest))
    assert result.exit_code == 0, result.output
    return dest


def commit_file(repo_path: Path, branch: str, path: str, data: bytes) -> None:
    """Commit one changed file on a branch of a bare repo (as a user's push would)."""
    repo = pygit2.Repository(str(repo_path))
    tip = repo.references[f"refs/heads/{branch}"].peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(tip.tree)
    index.add(pygit2.IndexEntry(path, repo.create_blob(data), pygit2.enums.FileMode.BLOB))
    who = pygit2.Signature("dev", "dev@example.com")
    repo.create_commit(f"refs/heads/{branch}", who, who, f"change {path}", index.write_tree(repo), [tip.id])


def test_init_creates_one_branch_per_folder_forked_from_main(repo):
    git = pygit2.Repository(str(repo))
    assert git.is_bare
    assert git.head.shorthand == "main"
    assert set(git.branches.local) == {"main", "dev", "staging", "production"}
    main_commit = git.branches["main"].peel(pygit2.Commit)
    for stage in ("dev", "staging", "production"):
        commit = git.branches[stage].peel(pygit2.Commit)
        assert commit.parent_ids == [main_commit.id]
        assert "helloservice/values.yaml" in commit.tree
    assert "shipyard.yaml" in main_commit.tree and "reconciler.yaml" in main_commit.tree


def test_example_repo_validates_clean(repo):
    result = run("validate", str(repo))
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr.strip() == f"0 errors, 0 warnings in {example_file_count()} files"


def test_init_refuses_to_overwrite(tmp_path, repo):
    result = run("init", str(repo))
    assert result.exit_code == 2 and "not empty" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("init", str(empty)).exit_code == 0
    some_file = tmp_path / "file"
    some_file.write_text("x")
    assert run("init", str(some_file)).exit_code == 2


def test_init_from_a_custom_layout(tmp_path):
    layout = tmp_path / "layout"
    (layout / "master").mkdir(parents=True)
    (layout / "master" / "shipyard.yaml").write_text("apiVersion: spec.keptn.sh/0.2.3\nspec:\n  stages:\n    - name: qg\n")
    (layout / "qg" / "svc").mkdir(parents=True)
    (layout / "qg" / "svc" / "slo.yaml").write_text("objectives: []\n")
    assert run("init", str(tmp_path / "r.git"), "--from", str(layout)).exit_code == 0
    result = run("validate", str(tmp_path / "r.git"))
    assert result.exit_code == 1
    assert [LINE.match(line).group("code", "file") for line in result.stdout.splitlines()] == [
        ("missing-total-score", "qg:svc/slo.yaml"), ("no-objectives", "qg:svc/slo.yaml")]
    (tmp_path / "bad").mkdir()
    result = run("init", str(tmp_path / "x.git"), "--from", str(tmp_path / "bad"))
    assert result.exit_code == 2 and "main/" in result.stderr


def test_findings_in_a_repo_are_named_branch_and_path(repo):
    slo = (EXAMPLE / "staging/helloservice/slo.yaml").read_text().replace('  pass: "90%"\n', "")
    commit_file(repo, "staging", "helloservice/slo.yaml", slo.encode())
    result = run("validate", str(repo))
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    m = LINE.match(line)
    assert m.group("file", "sev", "code") == ("staging:helloservice/slo.yaml", "error", "missing-total-score")
    assert slo.splitlines()[int(m.group("line")) - 1].startswith("total_score:")
    assert result.stderr.strip() == f"1 error, 0 warnings in {example_file_count()} files"


def test_json_output(repo):
    commit_file(repo, "production", "helloservice/remediation.yaml",
                (EXAMPLE / "production/helloservice/remediation.yaml").read_bytes().replace(b'value: "1"', b"value: 1"))
    result = run("validate", str(repo), "--output", "json")
    assert result.exit_code == 1
    [finding] = json.loads(result.stdout)
    assert finding["file"] == "production:helloservice/remediation.yaml"
    assert {"file", "line", "severity", "code", "message"} <= set(finding)
    assert (finding["code"], finding["severity"]) == ("scaling-value", "error")
    assert isinstance(finding["line"], int)


def test_working_copy_is_read_from_refs_not_the_working_tree(tmp_path, repo):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True, timeout=60)
    (clone / "shipyard.yaml").write_text("this: [is not: valid")        # uncommitted: not read
    result = run("validate", str(clone))
    assert (result.exit_code, result.stdout) == (0, "")              # stages come from origin/*
    commit_file(repo, "dev", "helloservice/slo.yaml", b"objectives: [{sli: throughput}]\n")
    subprocess.run(["git", "-C", str(clone), "fetch", "-q"], check=True, timeout=60)
    result = run("validate", str(clone))
    assert result.exit_code == 1 and result.stdout.startswith("dev:helloservice/slo.yaml:")


def test_branch_folder_layout(tmp_path):
    result = run("validate", str(EXAMPLE))
    assert (result.exit_code, result.stdout) == (0, "")
    copy = tmp_path / "layout"
    shutil.copytree(EXAMPLE, copy)
    (copy / "dev/helloservice/slo.yaml").unlink()
    result = run("validate", str(copy))
    assert result.exit_code == 0
    assert result.stdout.strip().startswith(f"{copy / 'dev/helloservice/'}: warning missing-slo")


def test_plain_folder_checks_config_files_and_skips_the_rest(tmp_path):
    (tmp_path / "svc/helm").mkdir(parents=True)
    (tmp_path / "svc/values.yaml").write_text("image: [broken\n")               # deployable, not config
    (tmp_path / "svc/helm/deployment.yaml").write_text("kind: Deployment\n")
    (tmp_path / "svc/slo.yaml").write_text("objectives: [\n")
    (tmp_path / "svc/sli-extra.yaml").write_text("indicators: {a: up}\n")
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    assert [LINE.match(line).group("file", "code") for line in result.stdout.splitlines()] == [
        (str(tmp_path / "svc/slo.yaml"), "yaml-syntax")]
    assert result.stderr.strip().endswith("in 2 files")


def test_single_file_of_unknown_kind_is_a_warning(tmp_path):
    f = tmp_path / "notes.yaml"
    f.write_text("hello: world\n")
    result = run("validate", str(f))
    assert result.exit_code == 0 and " warning unknown-kind " in result.stdout


def test_usage_errors_exit_2(tmp_path):
    result = run("validate", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert run("validate").exit_code == 2
    assert run("validate", str(tmp_path), "--output", "xml").exit_code == 2


def test_internal_failure_is_a_finding_not_a_traceback(tmp_path, monkeypatch):
    import reconciler.spec.validate as validate_module

    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(validate_module, "_check", broken)
    f = tmp_path / "slo.yaml"
    f.write_text("objectives: []\n")
    result = run("validate", str(f), "--output", "json")
    assert result.exit_code == 1
    [finding] = json.loads(result.stdout)
    assert finding["code"] == "internal-error" and "boom" in finding["message"]

    import reconciler.cli.validate as cli_module
    monkeypatch.setattr(cli_module, "_run", broken)
    result = run("validate", str(f))
    assert result.exit_code == 1 and "internal-error" in result.stdout and "Traceback" not in result.output


def test_human_lines_all_parse(shared_dir):
    result = run("validate", str(shared_dir / "corpus/keptn"))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines
    for line in lines:
        m = LINE.match(line)
        assert m, line
        assert m.group("code") in CODES


def test_project_name_and_ignored_branches_are_warnings(tmp_path):
    dest = tmp_path / "My_Shop.git"
    assert run("init", str(dest)).exit_code == 0
    settings = (EXAMPLE / "main" / "reconciler.yaml").read_text()
    unnamed = settings.replace("metadata:\n  name: hello                 # $PROJECT in SLI queries\n", "")
    commit_file(dest, "main", "reconciler.yaml", unnamed.encode())
    git = pygit2.Repository(str(dest))
    git.branches.local.create("quality-gate", git.branches["dev"].peel(pygit2.Commit))
    result = run("validate", str(dest), "--output", "json")
    assert result.exit_code == 0, result.output
    found = {f["code"]: f for f in json.loads(result.stdout)}
    assert set(found) == {"project-name", "ignored-branch"}
    assert found["project-name"]["file"] == "main:reconciler.yaml"
    assert "'My_Shop' (from the repository's name)" in found["project-name"]["message"]
    assert found["ignored-branch"]["file"] == "quality-gate"
    assert "not a stage of the shipyard" in found["ignored-branch"]["message"]


def test_a_task_nothing_answers_is_a_warning_at_its_line_in_the_shipyard(tmp_path):
    dest = tmp_path / "hello.git"
    assert run("init", str(dest)).exit_code == 0
    git = pygit2.Repository(str(dest))
    tip = git.branches["dev"].peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(tip.tree)
    index.remove("helloservice/job/config.yaml")                       # nothing answers `test` on dev now
    who = pygit2.Signature("dev", "dev@example.com")
    git.create_commit("refs/heads/dev", who, who, "no job config", index.write_tree(git), [tip.id])

    result = run("validate", str(dest), "--output", "json")
    assert result.exit_code == 0, result.output
    [finding] = [f for f in json.loads(result.stdout) if f["code"] == "unanswered-task"]
    shipyard_lines = (EXAMPLE / "main" / "shipyard.yaml").read_text().splitlines()
    assert finding["file"] == "main:shipyard.yaml" and shipyard_lines[finding["line"] - 1].strip() == "- name: test"
    assert finding["message"].startswith("nothing answers task 'test' in stage dev for helloservice")
    assert "sh.keptn.event.test.triggered in helloservice/job/config.yaml on dev" in finding["message"]
