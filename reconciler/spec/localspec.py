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

This module is the pure half: the model and the names the target provides. Reading the
file is the target's job (`reconciler.targets.localspec`); checking it is
`reconciler.spec.validate` with the kind `local`, so the target and `reconciler validate`
reject exactly the same files.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reconciler.layout import LOCAL_FILE
from reconciler.spec.settings import parse_duration

SPEC_FILE = LOCAL_FILE

# Variables the local target sets for every replica after `env`, so `env` cannot change them.
TARGET_VARIABLES: frozenset[str] = frozenset({
    "PORT", "RECONCILER_PROJECT", "RECONCILER_STAGE", "RECONCILER_SERVICE", "RECONCILER_REPLICA",
    "RECONCILER_COMMIT", "RECONCILER_LOCAL_MARKER", "VALUES_JSON",
})
# Also set by the target, one per top-level scalar of values.yaml (`VALUE_IMAGE`, …).
VALUE_PREFIX = "VALUE_"
# Passed on from the reconciler's own environment when it has them.
PASSTHROUGH_VARIABLES: frozenset[str] = frozenset({
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV",
})


class LocalSpec(BaseModel):
    """The validated content of local.yaml (unknown keys are rejected: a typo would
    otherwise silently fall back to a default)."""

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

    @classmethod
    def from_data(cls, data: Any) -> LocalSpec:
        """Build from an already schema-validated mapping."""
        return cls.model_validate(data)


def provided_variable(name: str, env: dict[str, Any] | None = None) -> bool:
    """Whether `$(name)` in `command` can expand: set by the target, by `env`, or passed on."""
    return (name in TARGET_VARIABLES or name.startswith(VALUE_PREFIX) or name in PASSTHROUGH_VARIABLES
            or name.startswith("LC_") or (env is not None and name in env))
