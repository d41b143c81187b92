"""`job/config.yaml` (job-executor-service, apiVersion v2) as typed, immutable data.

Parsed the way JES parses it (Go `yaml.UnmarshalStrict` into its config structs), so a file
the job-executor-service would run runs here and one it rejects is rejected here:

* `apiVersion` must be exactly `v2`; unknown keys anywhere and duplicate keys are errors;
* lists must be lists (`cmd: "locust -f x"`, the pre-v2 string form, is an error) and
  `annotations` must be a map (FEATURES.md's list-of-maps example is rejected, as by JES);
* integer fields (`maxPollDuration`, `ttlSecondsAfterFinished`, `runAsUser`) take YAML
  integers only, boolean fields YAML booleans only;
* string fields take any scalar, like Go's decoder does (`match: 1` is the string "1");
  since PyYAML has already typed the scalar, `yes` becomes "true" and `0x10` becomes "16"
  where Go would keep the text — the only known difference;
* missing keys take Go's zero values (empty strings and lists), so an action without
  `events` loads and simply never matches. `reconciler validate` (schemas/jobconfig.json and
  its lint) is stricter and reports those.

`valueFrom` stays a string here: JES rejects an unknown value only when the task runs
("unknown valueFrom"), and so does the job executor (reconciler.tasks.jobs.env).
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from reconciler.spec import yamltext

SUPPORTED_API_VERSION = "v2"
DEFAULT_MAX_POLL_DURATION = 300          # seconds, JES' default
DEFAULT_TTL_SECONDS_AFTER_FINISHED = 21600
MIN_TTL_SECONDS_AFTER_FINISHED = 60


def _go_string(value: Any) -> Any:
    """Any YAML scalar decodes into a Go string field; null is the empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _nil_list(value: Any) -> Any:
    return [] if value is None else value


def _nil_map(value: Any) -> Any:
    return {} if value is None else value


GoStr = Annotated[str, BeforeValidator(_go_string)]
StrList = Annotated[list[GoStr], BeforeValidator(_nil_list)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class JsonPathFilter(_Strict):
    property: GoStr = ""
    match: GoStr = ""


class EventMatch(_Strict):
    name: GoStr = ""
    jsonpath: Annotated[JsonPathFilter, BeforeValidator(_nil_map)] = JsonPathFilter()


class EnvVar(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    name: GoStr = ""
    value: GoStr = ""
    valueFrom: GoStr = ""
    as_: GoStr = Field(default="", alias="as")


class ResourceList(_Strict):
    cpu: GoStr = ""
    memory: GoStr = ""


class Resources(_Strict):
    limits: Annotated[ResourceList, BeforeValidator(_nil_map)] = ResourceList()
    requests: Annotated[ResourceList, BeforeValidator(_nil_map)] = ResourceList()


class Capabilities(_Strict):
    add: StrList = Field(default_factory=list)
    drop: StrList = Field(default_factory=list)


class SeccompProfile(_Strict):
    type: GoStr | None = None
    localhostProfile: GoStr | None = None


class SecurityContext(_Strict):
    """JES' subset of a Kubernetes container securityContext."""
    capabilities: Capabilities | None = None
    privileged: StrictBool | None = None
    runAsUser: StrictInt | None = None
    runAsGroup: StrictInt | None = None
    runAsNonRoot: StrictBool | None = None
    readOnlyRootFilesystem: StrictBool | None = None
    allowPrivilegeEscalation: StrictBool | None = None
    procMount: GoStr | None = None
    seccompProfile: SeccompProfile | None = None

    def to_kubernetes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class Task(_Strict):
    name: GoStr = ""
    files: StrList = Field(default_factory=list)
    image: GoStr = ""
    imagePullPolicy: GoStr = ""
    cmd: StrList = Field(default_factory=list)
    args: StrList = Field(default_factory=list)
    env: Annotated[list[EnvVar], BeforeValidator(_nil_list)] = Field(default_factory=list)
    resources: Resources | None = None
    workingDir: GoStr = ""
    maxPollDuration: StrictInt | None = None
    namespace: GoStr = ""
    ttlSecondsAfterFinished: StrictInt | None = None
    securityContext: Annotated[SecurityContext, BeforeValidator(_nil_map)] = SecurityContext()
    serviceAccount: GoStr | None = None
    annotations: Annotated[dict[GoStr, GoStr], BeforeValidator(_nil_map)] = Field(default_factory=dict)

    @property
    def poll_seconds(self) -> int:
        return self.maxPollDuration if self.maxPollDuration is not None else DEFAULT_MAX_POLL_DURATION

    @property
    def ttl_seconds(self) -> int:
        """JES: default 6 h, and never below 60 s."""
        if self.ttlSecondsAfterFinished is None:
            return DEFAULT_TTL_SECONDS_AFTER_FINISHED
        return max(self.ttlSecondsAfterFinished, MIN_TTL_SECONDS_AFTER_FINISHED)


class Action(_Strict):
    name: GoStr = ""
    events: Annotated[list[EventMatch], BeforeValidator(_nil_list)] = Field(default_factory=list)
    tasks: Annotated[list[Task], BeforeValidator(_nil_list)] = Field(default_factory=list)
    silent: StrictBool = False


class JobConfig(_Strict):
    apiVersion: GoStr
    actions: Annotated[list[Action], BeforeValidator(_nil_list)] = Field(default_factory=list)

    @classmethod
    def from_data(cls, data: Any) -> JobConfig:
        """From a loaded mapping; raises pydantic's ValidationError (used by `reconciler validate`)."""
        config = cls.model_validate(data)
        if config.apiVersion != SUPPORTED_API_VERSION:
            # raised as a ValidationError so callers see one error type with a location
            raise ValidationError.from_exception_data("JobConfig", [{
                "type": "literal_error", "loc": ("apiVersion",), "input": config.apiVersion,
                "ctx": {"expected": f"'{SUPPORTED_API_VERSION}'"}}])
        return config


class JobConfigError(ValueError):
    """job/config.yaml cannot be used; `problems` are `file:line: field: message` strings."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def load_jobconfig(text: str | bytes, file: str = "job/config.yaml") -> JobConfig:
    """Parse job/config.yaml text; JobConfigError names the file, line and field."""
    try:
        doc = yamltext.load_document(text)
    except yamltext.YamlError as exc:
        raise JobConfigError([f"{file}{f':{exc.line}' if exc.line else ''}: {exc.message}"]) from None
    problems = [f"{file}:{line}: key {key!r} is set twice (the job-executor-service rejects this)"
                for key, line, _ in doc.duplicate_keys]
    if doc.data is None or not isinstance(doc.data, dict):
        problems.append(f"{file}: expected a mapping with apiVersion: v2 and actions")
        raise JobConfigError(problems)
    if "apiVersion" not in doc.data:
        problems.append(f"{file}:1: field 'apiVersion': apiVersion must be specified (use v2)")
        raise JobConfigError(problems)
    try:
        config = JobConfig.from_data(doc.data)
    except ValidationError as exc:
        positions = yamltext.Positions(text)
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            line, _ = positions.of(loc, key=True)
            where = f"{file}:{line}" if line else file
            field = ".".join(str(p) for p in loc) or "(document)"
            message = err["msg"]
            if loc == ["apiVersion"]:
                message = f"apiVersion {err.get('input')!r} is not supported, use v2"
            elif err["type"] == "extra_forbidden":
                message = "unknown key (the job-executor-service parses job/config.yaml strictly)"
            problems.append(f"{where}: field '{field}': {message}")
        raise JobConfigError(problems) from None
    if problems:
        raise JobConfigError(problems)
    return config
