"""`<service>/local.yaml`: how the `local` target runs a service as processes on this machine.

```yaml
command: [python, -m, reconciler.demo.helloservice]   # argument list; no shell
env: {GREETING: hello}                                 # optional, config values only
healthPath: /healthz                                   # GET must answer 2xx
metricsPath: /metrics                                  # what Prometheus scrapes
startTimeout: 30s                                      # Go duration
```
A first element `python` or `python3` means the interpreter running the reconciler, so a
module of the project's virtualenv runs without knowing where that venv lives. `$(VAR)` in
the command expands like in Kubernetes against the replica's environment (`PORT`, `VALUE_*`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciler.spec import yamltext
from reconciler.spec.settings import parse_duration
from reconciler.targets.base import DeploymentFailed

SPEC_FILE = "local.yaml"


class LocalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    healthPath: str = "/healthz"
    metricsPath: str = "/metrics"
    startTimeout: float = 30.0

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, v: Any) -> Any:
        if isinstance(v, str):
            raise ValueError("must be a list of arguments (no shell), e.g. [python, -m, app]")
        if isinstance(v, list) and not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in v):
            raise ValueError("every argument must be a string")
        return [str(a) for a in v] if isinstance(v, list) else v

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, v: Any) -> Any:
        if v is None:
            return {}
        if isinstance(v, dict):
            out = {}
            for key, val in v.items():
                if isinstance(val, (dict, list)) or val is None:
                    raise ValueError(f"env {key}: value must be a string")
                out[str(key)] = ("true" if val else "false") if isinstance(val, bool) else str(val)
            return out
        return v

    @field_validator("healthPath", "metricsPath")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with /")
        return v

    @field_validator("startTimeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v)


def load_local_spec(service_dir: Path, *, display: str | None = None) -> LocalSpec:
    """Parse `local.yaml` of an exported service folder; DeploymentFailed names file, line, field."""
    path = service_dir / SPEC_FILE
    shown = display or f"{service_dir.name}/{SPEC_FILE}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeploymentFailed("manifest-invalid",
                               f"{shown} is missing: the local target needs it to know how to start the "
                               f"service (see docs/targets.md)") from None
    try:
        data = yamltext.load(text)
    except yamltext.YamlError as exc:
        where = f":{exc.line}" if exc.line else ""
        raise DeploymentFailed("manifest-invalid", f"{shown}{where}: {exc.message}") from None
    if not isinstance(data, dict):
        raise DeploymentFailed("manifest-invalid", f"{shown}: expected a mapping with a 'command' list")
    try:
        return LocalSpec.model_validate(data)
    except ValidationError as exc:
        positions = yamltext.Positions(text)
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if p != "__root__"]
            line, _ = positions.of(loc, key=True)
            field = ".".join(str(p) for p in loc) or "(document)"
            problems.append(f"{shown}{f':{line}' if line else ''}: field '{field}': {err['msg']}")
        raise DeploymentFailed("manifest-invalid", "; ".join(problems)) from None
