"""A finding is one thing `reconciler validate` tells a person: where, how bad, what."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    line: int | None
    column: int | None
    severity: Severity
    code: str
    message: str

    def to_dict(self) -> dict:
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


def has_errors(findings) -> bool:
    return any(f.severity == "error" for f in findings)
