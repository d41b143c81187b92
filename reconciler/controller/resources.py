"""Keptn's resource service over the config repo: integrations read their files (JES's
`job/config.yaml`, webhook-service's `webhook.yaml`, an SLI provider's `dynatrace/sli.yaml`)
and write them as commits.

Keptn's layout maps onto ours (DESIGN §2) one to one:

| Keptn scope | branch | path |
|---|---|---|
| project | the default branch | `<uri>` |
| project + stage | `<stage>` | `<uri>` |
| project + stage + service | `<stage>` | `<service>/<uri>` |

Reads come from the controller's mirror (the commit the controller acts on; `gitCommitID`
reads an older one). A write is one commit by the integration's identity through the
branch writer (push-retry, never forced) and carries `Reconciler-Skip: true`: in Keptn a
resource write never started a sequence, and here it does not either.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from reconciler import contract
from reconciler.gitstore import Mirror, Writer
from reconciler.gitstore.errors import UnknownRevision


class ResourceError(Exception):
    """`status` is the HTTP status Keptn's resource service gives for the case."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Scope:
    project: str
    stage: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class Found:
    uri: str
    content: bytes
    branch: str
    commit: str


def clean_uri(raw: str) -> str:
    """A resource URI as Keptn accepts it: percent-decoded (go-utils query-escapes `/`),
    no `..` and no `~`, no leading slash."""
    uri = unquote(raw).strip("/")
    if not uri or ".." in uri or "~" in uri or "\\" in uri or "\x00" in uri:
        raise ResourceError(400, f"invalid resource URI {raw!r}")
    return uri


class Resources:
    def __init__(self, mirror: Mirror, writer: Writer, project: Callable[[], str],
                 stages: Callable[[], list[str]], on_write: Callable[[str], None] = lambda source: None):
        self.mirror = mirror
        self.writer = writer
        self.project = project
        self.stages = stages
        self.on_write = on_write

    def _place(self, scope: Scope) -> tuple[str, str]:
        """(branch, folder prefix) of a scope; 404 for an unknown project, stage or service."""
        if scope.project != self.project():
            raise ResourceError(404, f"project {scope.project!r} not found")
        if scope.stage is None:
            branch = self.mirror.default_branch()
            if branch is None:
                raise ResourceError(404, "the config repo has no default branch")
            return branch, ""
        if scope.stage not in self.stages() or self.mirror.tip(scope.stage) is None:
            raise ResourceError(404, f"stage {scope.stage!r} not found")
        if scope.service is None:
            return scope.stage, ""
        if not self.mirror.list_tree(scope.stage, scope.service + "/"):
            raise ResourceError(404, f"service {scope.service!r} not found in stage {scope.stage!r}")
        return scope.stage, scope.service + "/"

    def read(self, scope: Scope, uri: str, commit: str | None = None) -> Found:
        branch, prefix = self._place(scope)
        rev = commit or self.mirror.tip(branch)
        try:
            content = self.mirror.read(rev, prefix + uri)   # type: ignore[arg-type]
        except (UnknownRevision, KeyError, ValueError) as exc:
            raise ResourceError(404, f"commit {commit!r} not found") from exc
        if content is None:
            raise ResourceError(404, f"resource {uri!r} not found")
        return Found(uri, content, branch, str(self.mirror.commit(rev).id))   # type: ignore[arg-type]

    def list(self, scope: Scope) -> tuple[list[str], str, str]:
        """(uris, branch, commit) of every file in the scope (a service's files, or a stage's or
        the project's top level files and folders)."""
        branch, prefix = self._place(scope)
        tip = self.mirror.tip(branch)
        files = sorted(p[len(prefix):] for p in self.mirror.list_tree(tip, prefix))   # type: ignore[arg-type]
        return files, branch, str(tip)

    def write(self, scope: Scope, files: Mapping[str, bytes | None], author: str) -> tuple[str, str]:
        """Commit `files` (None deletes) by `author` (an integration's name); (branch, commit)."""
        branch, prefix = self._place(scope)
        changes = {prefix + uri: content for uri, content in files.items()}
        names = ", ".join(sorted(files))[:200]
        result = self.writer.write(
            branch, lambda tip: {p: c for p, c in changes.items() if tip.read(p) != c} or None,
            f"{author}: update {names}", {contract.TRAILER_SKIP: "true"},
            author=(author, f"{author}@integrations.reconciler"))
        self.on_write(f"resource:{author}")
        return branch, str(result.oid)
