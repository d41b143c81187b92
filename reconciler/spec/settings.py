"""`reconciler.yaml` on the default branch: settings that belong with the project.

Secrets never live here; every credential comes from the environment (names below), so a
config repo can be public. Durations are Go-style strings (`30s`, `10m`, `1h30m`) like the
rest of Keptn's files.
"""
from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from reconciler.contract import DEFAULT_PROJECT

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(h|m|s|ms))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str | int | float) -> float:
    """Seconds in a Go duration string (`1h30m`, `90s`, `250ms`); plain numbers are seconds."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError(f"duration must not be negative: {text!r}")
        return float(text)
    s = str(text).strip()
    if not s or not _DURATION.match(s):
        raise ValueError(f"not a duration (use e.g. 30s, 10m, 1h30m): {text!r}")
    return sum(float(n) * _UNIT[u] for n, u in _PART.findall(s))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class PrometheusSettings(_Model):
    """Where SLIs come from. Auth/TLS only from the environment:
    RECONCILER_PROMETHEUS_TOKEN, RECONCILER_PROMETHEUS_USERNAME/_PASSWORD,
    RECONCILER_PROMETHEUS_CA_FILE, RECONCILER_PROMETHEUS_INSECURE=1;
    RECONCILER_PROMETHEUS_URL overrides `url`."""

    url: str | None = None
    timeout: float = 10.0
    concurrency: int = Field(default=16, ge=1, le=256)
    retries: int = Field(default=2, ge=0, le=10)
    batchSize: int = Field(default=25, ge=1, le=500)    # SLI queries per request; 1 = one each

    _dur = field_validator("timeout", mode="before")(lambda v: parse_duration(v))


class GetSliSettings(_Model):
    """`spec.sli.get-sli`: ask Keptn integrations (dynatrace-service, datadog-service, …) with a
    `get-sli.triggered` event. `sliProvider` is the name the event carries and the integration
    answers to (what Keptn's `lighthouse-config-<project>` ConfigMap held as `sli-provider`)."""

    sliProvider: str = ""
    timeout: float = 120.0

    _dur = field_validator("timeout", mode="before")(lambda v: parse_duration(v))


class SliOverride(_Model):
    """A provider for some stages and/or services: the most specific matching entry wins
    (stage and service, then service, then stage, then `spec.sli.provider`)."""

    stage: str | None = None
    service: str | None = None
    provider: str
    sliProvider: str | None = None


class SliSettings(_Model):
    """`spec.sli`: which provider (`reconciler.quality.providers.registry`, names checked by the
    schema) and one settings block per provider, under its name. Blocks of providers without a
    typed model here pass through as mappings (`options`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    provider: str = "prometheus"
    prometheus: PrometheusSettings = PrometheusSettings()
    getSli: GetSliSettings = Field(default=GetSliSettings(), alias="get-sli")
    overrides: list[SliOverride] = Field(default_factory=list)

    def options(self, name: str) -> dict[str, Any]:
        """The settings block `spec.sli.<name>` of a provider without a typed model ({} if none)."""
        block = (self.model_extra or {}).get(name)
        return dict(block) if isinstance(block, dict) else {}

    def for_service(self, stage: str, service: str) -> SliSettings:
        """These settings as they apply to one service in one stage: `provider` (and the
        get-sli `sliProvider`) from the most specific matching `overrides` entry."""
        best: tuple[int, SliOverride] | None = None
        for entry in self.overrides:
            if entry.stage not in (None, stage) or entry.service not in (None, service):
                continue
            rank = (2 if entry.service else 0) + (1 if entry.stage else 0)
            if best is None or rank > best[0]:
                best = (rank, entry)
        if best is None:
            return self
        entry = best[1]
        get_sli = self.getSli.model_copy(update={"sliProvider": entry.sliProvider}) if entry.sliProvider \
            else self.getSli
        return self.model_copy(update={"provider": entry.provider, "getSli": get_sli})

    @property
    def files_of(self) -> str:
        """The provider whose `<provider>/sli.yaml` files hold the queries (`layout.sli_files`):
        the get-sli integration's name for get-sli, Prometheus when there is no provider."""
        if self.provider == "none":
            return "prometheus"
        if self.provider == "get-sli":
            return self.getSli.sliProvider or "prometheus"
        return self.provider


class KubernetesTarget(_Model):
    namespace: str | None = None           # default `<project>-<stage>`
    rolloutTimeout: float = 300.0
    fieldManager: str = "reconciler"

    _dur = field_validator("rolloutTimeout", mode="before")(lambda v: parse_duration(v))


class StageSettings(_Model):
    target: str = "local"          # a module of reconciler.targets (checked by the schema), none or external
    kubernetes: KubernetesTarget = KubernetesTarget()


class JobSettings(_Model):
    runner: Literal["local", "kubernetes"] = "local"
    namespace: str | None = None
    defaultTimeout: float = 300.0
    maxOutputBytes: int = Field(default=65536, ge=1024)

    _dur = field_validator("defaultTimeout", mode="before")(lambda v: parse_duration(v))


class ForgeSettings(_Model):
    """Pull requests for manual approvals; the token comes from RECONCILER_FORGE_TOKEN. `kind`
    names a module of `reconciler.tasks.forges` (checked by the schema)."""

    kind: str = "none"
    url: str | None = None      # API base, e.g. https://api.github.com
    repository: str | None = None   # owner/name
    statuses: bool = False          # gate results as commit statuses, the SLI table on approval PRs
    statusUrl: str | None = None    # the statuses' link; {context}, {stage}, {service} are filled


class WebhookSubscription(_Model):
    """Outbound CloudEvents, HMAC-SHA256 signed with the secret in env `secretEnv`."""

    name: str
    url: str
    events: list[str] = Field(default_factory=lambda: ["sh.keptn.event.*"])
    secretEnv: str | None = None
    retries: int = Field(default=3, ge=0, le=10)


NotificationEvent = Literal["sequence.finished", "sequence.failed", "approval.waiting", "remediation", "escalation"]
NOTIFICATION_EVENTS: tuple[NotificationEvent, ...] = get_args(NotificationEvent)


class RateLimit(_Model):
    """At most `count` messages per `per` (a token bucket: bursts up to `count`); the rest are
    dropped and counted, and the next message sent says how many were."""

    count: int = Field(default=20, ge=1, le=10000)
    per: float = 60.0

    _dur = field_validator("per", mode="before")(lambda v: parse_duration(v))


class NotificationTarget(_Model):
    """A chat message per matching event: Slack (incoming webhook, Block Kit), Microsoft Teams
    (incoming webhook / Workflows, Adaptive Card) or `generic` (a JSON `template`). Webhook URLs
    of Slack and Teams carry their secret, so they come from the environment (`urlEnv`)."""

    name: str
    kind: Literal["slack", "teams", "generic"]
    url: str | None = None
    urlEnv: str | None = None
    events: list[NotificationEvent] = Field(default_factory=lambda: list(NOTIFICATION_EVENTS))
    stages: list[str] = Field(default_factory=list)      # empty: every stage
    services: list[str] = Field(default_factory=list)    # empty: every service
    rateLimit: RateLimit = RateLimit()
    retries: int = Field(default=3, ge=0, le=10)
    template: dict[str, Any] | None = None               # generic only: JSON body with {placeholders}

    @model_validator(mode="after")
    def _one_url(self) -> NotificationTarget:
        if (self.url is None) == (self.urlEnv is None):
            raise ValueError(f"notification {self.name!r}: set exactly one of url and urlEnv")
        if self.kind == "generic" and self.template is None:
            raise ValueError(f"notification {self.name!r}: kind generic needs a template")
        if self.kind != "generic" and self.template is not None:
            raise ValueError(f"notification {self.name!r}: template is only for kind generic")
        return self


class TimeoutSettings(_Model):
    taskTriggered: float = 600.0      # no .started/.finished within this → sequence timed out (Keptn: 10m)
    taskStarted: float = 1800.0       # our fix: started tasks time out too (default 30m)

    _dur = field_validator("taskTriggered", "taskStarted", mode="before")(lambda v: parse_duration(v))


class RemediationLimits(_Model):
    """Bounds on remediation across alerts (`engine.remediation`, `tasks.action`): what scaling
    may set, how many actions a service may get per hour, how long after a remediation its alert
    re-firing joins it (`refireWindow`) and how long further notices are ignored (`cooldown`)."""

    minReplicas: int = Field(default=1, ge=0)
    maxReplicas: int = Field(default=10, ge=1)
    actionsPerHour: int = Field(default=10, ge=1)
    cooldown: float = 600.0
    refireWindow: float = 300.0

    _dur = field_validator("cooldown", "refireWindow", mode="before")(lambda v: parse_duration(v))

    @model_validator(mode="after")
    def _ordered(self) -> RemediationLimits:
        if self.minReplicas > self.maxReplicas:
            raise ValueError(f"minReplicas ({self.minReplicas}) is above maxReplicas ({self.maxReplicas})")
        return self


class RemediationSettings(_Model):
    escalationWebhook: str | None = None   # name of a webhook subscription to call on escalation
    limits: RemediationLimits = RemediationLimits()


class SettingsSpec(_Model):
    sli: SliSettings = SliSettings()
    stages: dict[str, StageSettings] = Field(default_factory=dict)
    jobs: JobSettings = JobSettings()
    forge: ForgeSettings = ForgeSettings()
    webhooks: list[WebhookSubscription] = Field(default_factory=list)
    notifications: list[NotificationTarget] = Field(default_factory=list)
    timeouts: TimeoutSettings = TimeoutSettings()
    remediation: RemediationSettings = RemediationSettings()


class Metadata(_Model):
    name: str | None = None      # None: the config repository's name (contract.project_name_from_repo)


class Settings(_Model):
    apiVersion: Literal["reconciler/v1"] = "reconciler/v1"
    kind: Literal["Settings"] = "Settings"
    metadata: Metadata = Metadata()
    spec: SettingsSpec = SettingsSpec()

    # The config repository's name, the project's name unless `metadata.name` sets one
    # (DESIGN §2: `sockshop.git` → `sockshop`); set by whoever knows the repository.
    _default_project: str = PrivateAttr(default=DEFAULT_PROJECT)

    @property
    def project(self) -> str:
        return self.metadata.name or self._default_project

    @property
    def project_source(self) -> str:
        """Where the project's name comes from, for people reading `status` or `validate`."""
        return "reconciler.yaml metadata.name" if self.metadata.name else "the repository's name"

    def with_default_project(self, name: str | None) -> Settings:
        """This settings object with `name` as the project's name when `metadata.name` is not set."""
        if not name or name == self._default_project:
            return self
        copy = self.model_copy()
        copy._default_project = name
        return copy

    @property
    def sli_files_of(self) -> str:
        """The provider whose `<provider>/sli.yaml` files are merged (`layout.sli_files`):
        the configured one (for get-sli, the integration it names), Prometheus when there is none."""
        return self.spec.sli.files_of

    def sli_for(self, stage: str, service: str) -> SliSettings:
        """`spec.sli` as it applies to one service in one stage (`overrides`)."""
        return self.spec.sli.for_service(stage, service)

    def stage(self, name: str) -> StageSettings:
        return self.spec.stages.get(name) or StageSettings()

    @classmethod
    def from_data(cls, data: Any) -> Settings:
        """Build from an already schema-validated mapping (None → all defaults)."""
        return cls.model_validate(data or {})
