"""`reconciler validate PATH [--output json]` (DESIGN §6).

PATH is one file (its kind from apiVersion/kind, file name, then shape), a Git repository
(bare or a working copy; read from its branches with pygit2, never from the working tree),
a folder laid out one sub-folder per branch (like example-config-repo/), or any other folder
(every config file in it, by kind). Exit 0 without errors, 1 with errors, 2 on usage errors.
Nothing escapes as a traceback: an internal failure is reported as an `internal-error`.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from reconciler.cli.output import EXIT_USAGE, FORMATS, fail, render
from reconciler.contract import DEFAULT_BRANCHES, SETTINGS_FILE, SHIPYARD_FILE
from reconciler.forked import map_forked
from reconciler.spec.findings import Finding
from reconciler.spec.kinds import kind_from_name
from reconciler.spec.project import ProjectValidator, repo_name
from reconciler.spec.validate import check_document

PROJECT_NAME = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv"}


@click.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: `file:line:col: severity CODE message` per finding; json or yaml: a list of findings.")
def command(path: Path, output: str) -> None:
    """Check a config repository, a folder or one file against what Keptn 1.x accepts,
    plus lint for the mistakes Keptn swallows silently."""
    if not os.path.lexists(path):
        _usage(f"{path} does not exist")
    if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
        _usage(f"{path} is not readable")
    try:
        findings, checked = _run(path)
    except _Usage as exc:
        _usage(str(exc))
    except Exception as exc:  # never a traceback: the failure is a finding like any other
        findings, checked = [Finding(str(path), None, None, "error", "internal-error",
                                     f"validation failed: {type(exc).__name__}: {exc}")], 0
    _print(findings, output, checked)
    sys.exit(1 if any(f.is_error for f in findings) else 0)


class _Usage(Exception):
    pass


def _usage(message: str) -> None:
    fail(message, EXIT_USAGE)


def _run(path: Path) -> tuple[list[Finding], int]:
    if path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _Usage(f"cannot read {path}: {exc.strerror}") from None
        return check_document(data, None, str(path)).findings(str(path)), 1
    if not path.is_dir():
        raise _Usage(f"{path} is neither a file nor a folder")
    from reconciler.gitstore import snapshot  # pygit2 only when a repository is involved
    if snapshot.is_repository(path):
        return _repository(path, snapshot)
    layout_default = next((b for b in DEFAULT_BRANCHES if (path / b / SHIPYARD_FILE).is_file()), None)
    if layout_default is not None:
        return _branch_folders(path)
    return _folder(path)


def _repository(path: Path, snapshot) -> tuple[list[Finding], int]:
    try:
        repo = snapshot.open_repository(path)
        tree = snapshot.read_branches(repo, lazy=True)
    except Exception as exc:
        raise _Usage(f"cannot read the Git repository at {path}: {exc}") from None
    validator = ProjectValidator(repo_name, project_name=snapshot.project_name(path)).set_tree(tree)
    validator.warm(map_forked)      # a big repository: documents checked on every core
    report = validator.report()
    return (report.findings + project_findings(report) + unanswered_findings(report, tree),
            sum(len(files) for files in tree.values()))


def unanswered_findings(report, tree) -> list[Finding]:
    """Shipyard tasks nothing would answer (tasks.answerers): they would wait for an
    integration until their timeout. Checked against the job configs a service would use."""
    from reconciler.spec.jobconfig import JobConfigError, load_jobconfig
    from reconciler.spec.project import content
    from reconciler.spec.yamltext import Positions
    from reconciler.tasks.answerers import unanswered_tasks, would_answer
    if report.shipyard is None or report.default_branch is None:
        return []
    parsed: dict[tuple[str, str], object] = {}

    def read(branch: str, path: str) -> object:
        if (branch, path) not in parsed:
            source = tree.get(branch, {}).get(path)
            try:
                parsed[(branch, path)] = None if source is None else load_jobconfig(content(source), path)
            except (JobConfigError, ValueError):
                parsed[(branch, path)] = object()      # broken: the job executor answers it (errored)
        return parsed[(branch, path)]

    def job_config(stage: str, service: str) -> object:
        for branch, path in ((stage, f"{service}/job/config.yaml"), (stage, "job/config.yaml"),
                             (report.default_branch, "job/config.yaml")):
            found = read(branch, path)
            if found is not None:
                return found
        return None

    services: dict[str, list[str]] = {}
    for stage, service in report.services:
        services.setdefault(stage, []).append(service)
    found = unanswered_tasks(report.shipyard, report.settings, services, job_config)
    if not found:
        return []
    shipyard_file = f"{report.default_branch}:{SHIPYARD_FILE}"
    positions = Positions(content(tree[report.default_branch][SHIPYARD_FILE]))
    out = []
    for path, task, waiting in found:
        line, column = positions.of(path)
        stage = report.shipyard.stages[path[2]].name
        shown = ", ".join(waiting[:5]) + (f" and {len(waiting) - 5} more" if len(waiting) > 5 else "")
        out.append(Finding(shipyard_file, line, column, "warning", "unanswered-task",
                           f"nothing answers task {task!r} in stage {stage} for {shown}: no built-in executor, no job "
                           f"config action; it would wait for an integration until its timeout. It would be "
                           f"answered by " + ", or ".join(would_answer(task, stage, waiting[0]))))
    return out


def project_findings(report) -> list[Finding]:
    """What `serve` will call the project, and branches it will not read, as warnings where
    they matter: `$PROJECT` in SLI queries and `<project>-<stage>` namespaces need a Keptn name."""
    out = []
    settings_file = f"{report.default_branch or DEFAULT_BRANCHES[0]}:{SETTINGS_FILE}"
    if not PROJECT_NAME.match(report.project):
        out.append(Finding(settings_file, None, None, "warning", "project-name",
                           f"the project's name {report.project!r} (from "
                           f"{report.settings.project_source if report.settings else 'the repository name'}) is not "
                           f"a Keptn name (lowercase letters, digits and '-', starting with a letter); $PROJECT "
                           f"in SLI queries and the namespaces <project>-<stage> use it. Set metadata.name in "
                           f"{SETTINGS_FILE}"))
    for branch in report.ignored_branches:
        out.append(Finding(branch, None, None, "warning", "ignored-branch",
                           f"branch {branch!r} is not a stage of the shipyard; nothing on it is read"))
    return out


def _branch_folders(path: Path) -> tuple[list[Finding], int]:
    """A folder with one sub-folder per branch: validated like the repository it seeds."""
    tree: dict[str, dict[str, bytes]] = {}
    unreadable: list[Finding] = []
    for branch_dir in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = tree[branch_dir.name] = {}
        for f in _files(branch_dir):
            data = _read(f, unreadable)
            if data is not None:
                files[f.relative_to(branch_dir).as_posix()] = data
    validator = ProjectValidator(lambda branch, rel: str(path / branch / rel)).set_tree(tree)
    validator.warm(map_forked)
    report = validator.report()
    return unreadable + report.findings, sum(len(files) for files in tree.values())


def _folder(path: Path) -> tuple[list[Finding], int]:
    """Any other folder: every YAML file whose kind can be told; the rest is not config."""
    findings: list[Finding] = []
    checked = 0
    for file in _files(path):
        if file.suffix not in (".yaml", ".yml"):
            continue
        name = str(file)
        data = _read(file, findings)
        if data is None:
            continue
        result = check_document(data, None, name)
        if result.kind is None and kind_from_name(name) is None:
            continue        # values.yaml, Kubernetes manifests, Helm charts: deployable, not config
        checked += 1
        findings += result.findings(name)
    return findings, checked


def _files(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if file.is_file():
                yield file


def _read(file: Path, findings: list[Finding]) -> bytes | None:
    try:
        return file.read_bytes()
    except OSError as exc:
        findings.append(Finding(str(file), None, None, "error", "unreadable-file",
                                f"cannot read the file: {exc.strerror}; fix its permissions"))
        return None


def _print(findings: list[Finding], output: str, checked: int) -> None:
    if output != "text":
        click.echo(render([f.to_dict() for f in findings], output))
    else:
        for f in findings:
            click.echo(f.human())
    errors = sum(1 for f in findings if f.is_error)
    warnings = len(findings) - errors
    click.echo(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} "
               f"in {checked} file{'s' * (checked != 1)}", err=True)
