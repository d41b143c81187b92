"""A finding is one thing `reconciler validate` tells a person: where, how bad, what."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from reconciler.spec.yamltext import Positions

Severity = Literal["error", "warning"]
DataPath = tuple[str | int, ...]   # keys and list indexes from a document's root to a value


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    line: int | None
    column: int | None
    severity: Severity
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def human(self) -> str:
        """`branch:path:line:col: severity CODE message` (line/col omitted when unknown)."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.severity} {self.code} {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


@dataclass(frozen=True, slots=True)
class Issue:
    """A finding that does not know its file yet: where it is, as a path into the data.

    Checks produce Issues from plain data; `place` turns them into Findings, computing
    line and column only for documents that have something to report (positions need
    the YAML node tree, which the fast loader does not build).
    """

    severity: Severity
    code: str
    message: str
    path: DataPath = ()
    key: bool = False               # point at the last key of `path` rather than its value
    line: int | None = None         # known already (YAML errors, duplicate keys)
    column: int | None = None


def error(code: str, message: str, path: Iterable[str | int] = (), *, key: bool = False) -> Issue:
    return Issue("error", code, message, tuple(path), key)


def warning(code: str, message: str, path: Iterable[str | int] = (), *, key: bool = False) -> Issue:
    return Issue("warning", code, message, tuple(path), key)


def place(issues: Iterable[Issue], file: str, text: str | bytes | None) -> list[Finding]:
    """Findings for `issues` in `file`, positions looked up in `text` (once, lazily)."""
    positions: Positions | None = None
    out: list[Finding] = []
    for issue in issues:
        line, column = issue.line, issue.column
        if line is None and text is not None:
            if positions is None:
                from reconciler.spec.yamltext import Positions
                positions = Positions(text)
            line, column = positions.of(issue.path, key=issue.key)
        out.append(Finding(file, line, column, issue.severity, issue.code, issue.message))
    return out


def sort_key(finding: Finding) -> tuple[int, int, bool, str]:
    """Order within one file: by position, unknown positions first."""
    return (finding.line or 0, finding.column or 0, finding.severity != "error", finding.code)
