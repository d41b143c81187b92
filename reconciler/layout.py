"""The layout of a config repository: which file is what, and who reads it (DESIGN §2).

Keptn v1 stored a project as one branch per stage, one folder per service, and folders that
belong to its integrations (`prometheus/`, `dynatrace/`, `job/`, `jmeter/`, …). Every rule
that depends on a path — what validate checks as which kind, which change starts a delivery,
what a folder at a branch root is, which `sli.yaml` files an evaluation merges — is answered
here, from one table (`RULES`), so validation, triggers, promotion, evaluation and the page
cannot disagree. Pure: stdlib and `reconciler.contract` only.

Paths inside a service folder (`<service>/<rel>`) and at a branch root are looked up with the
same table; a rule's `levels` say where it applies (`project`: the default branch's root,
`stage`: a stage branch's root, `service`: inside `<service>/`).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from reconciler.contract import SETTINGS_FILE, SHIPYARD_FILE

Kind = Literal["shipyard", "slo", "sli", "remediation", "jobconfig", "settings", "local"]
KINDS: tuple[Kind, ...] = ("shipyard", "slo", "sli", "remediation", "jobconfig", "settings", "local")

# deploy: what a deployment uses; a change starts a delivery and is promoted.
# quality-gate: SLOs, SLIs and remediation; a change takes effect at the next evaluation.
# integration: configuration of a Keptn integration (job executor, webhooks, Dynatrace, …).
# test: test material (load-test scripts); read by test tasks, a change never delivers.
# project: the project's own files on the default branch.
Role = Literal["deploy", "quality-gate", "integration", "test", "project"]
Level = Literal["project", "stage", "service"]

PROJECT: frozenset[Level] = frozenset({"project"})
SERVICE: frozenset[Level] = frozenset({"service"})
EVERY_LEVEL: frozenset[Level] = frozenset({"project", "stage", "service"})

# The files a service folder has by name (Keptn's names).
SLO_FILE = "slo.yaml"
SLI_FILE = "sli.yaml"
REMEDIATION_FILE = "remediation.yaml"
VALUES_FILE = "values.yaml"
LOCAL_FILE = "local.yaml"
JOB_CONFIG_FILE = "job/config.yaml"
WEBHOOK_CONFIG_FILE = "webhook/webhook.yaml"
METADATA_FILE = "metadata.yaml"
HELM_FOLDER = "helm"
MANIFESTS_FOLDER = "k8s"


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the layout table.

    `pattern`: a file path (`slo.yaml`, `prometheus/sli.yaml`), a folder with everything under
    it (`jmeter/`), or `*/<name>` for that file name in any one folder. `kind`: the document
    kind `validate` checks the file as (None: not checked). `reader`: who reads it. `levels`:
    where the rule applies. `sli_provider`: the SLI provider an `sli.yaml` there is written for.
    """

    pattern: str
    role: Role
    reader: str
    kind: Kind | None = None
    levels: frozenset[Level] = SERVICE
    sli_provider: str | None = None

    @property
    def is_folder(self) -> bool:
        return self.pattern.endswith("/")


RULES: tuple[Rule, ...] = (
    Rule(SHIPYARD_FILE, "project", "the sequencer (Keptn's shipyard-controller)", "shipyard", PROJECT),
    Rule(SETTINGS_FILE, "project", "reconciler (targets, SLI provider, forge, webhooks)", "settings", PROJECT),
    Rule(SLO_FILE, "quality-gate", "the evaluation task (Keptn's lighthouse)", "slo"),
    Rule(SLI_FILE, "quality-gate", "the configured SLI provider", "sli", EVERY_LEVEL),
    Rule(REMEDIATION_FILE, "quality-gate", "the get-action task (Keptn's remediation-service)", "remediation"),
    Rule(METADATA_FILE, "integration", "Keptn's configuration-service (bookkeeping)", None, EVERY_LEVEL),
    Rule(VALUES_FILE, "deploy", "the deployment task (Keptn's helm-service)"),
    Rule(LOCAL_FILE, "deploy", "the local target", "local"),
    Rule(f"{HELM_FOLDER}/", "deploy", "helm-service (charts and helm/endpoints)"),
    Rule(f"{MANIFESTS_FOLDER}/", "deploy", "the kubernetes target (manifests)"),
    Rule("prometheus/sli.yaml", "quality-gate", "prometheus-service", "sli", EVERY_LEVEL, "prometheus"),
    Rule("prometheus/", "integration", "prometheus-service", None, EVERY_LEVEL),
    Rule("dynatrace/sli.yaml", "quality-gate", "dynatrace-service", "sli", EVERY_LEVEL, "dynatrace"),
    Rule("dynatrace/", "integration", "dynatrace-service (dynatrace.conf.yaml)", None, EVERY_LEVEL),
    Rule("datadog/sli.yaml", "quality-gate", "datadog-service", "sli", EVERY_LEVEL, "datadog"),
    Rule("datadog/", "integration", "datadog-service", None, EVERY_LEVEL),
    Rule("*/sli.yaml", "quality-gate", "the SLI provider named by the folder"),
    Rule(JOB_CONFIG_FILE, "integration", "the job executor (job-executor-service)", "jobconfig", EVERY_LEVEL),
    Rule("job/", "integration", "the job executor (job-executor-service)", None, EVERY_LEVEL),
    Rule("webhook/", "integration", "webhook-service (webhook.yaml)", None, EVERY_LEVEL),
    Rule("jmeter/", "test", "jmeter-service (test scripts, jmeter.conf.yaml)"),
    Rule("locust/", "test", "locust-service (test scripts, locust.conf.yaml)"),
)
"""The one table. Lookup order: an exact file, then `*/<name>`, then the longest folder;
a file of a service folder that no row names is deployable (values files, charts, manifests,
anything a deployment might read)."""

DEFAULT_ROLE: Role = "deploy"

_FILES: dict[str, Rule] = {r.pattern: r for r in RULES if not r.is_folder and not r.pattern.startswith("*/")}
_ANY_FOLDER: dict[str, Rule] = {r.pattern[2:]: r for r in RULES if r.pattern.startswith("*/")}
_FOLDERS: dict[str, Rule] = {r.pattern[:-1]: r for r in RULES if r.is_folder}


@functools.lru_cache(maxsize=8192)        # the same relative paths recur in every service folder
def rule_for(rel: str, level: Level = "service") -> Rule | None:
    """The row that classifies `rel` (a path inside a service folder, or at a branch root for
    the `stage`/`project` levels), or None when no row applies there."""
    found = _FILES.get(rel)
    if found is not None and level in found.levels:
        return found
    head, sep, rest = rel.partition("/")
    if sep:
        if "/" not in rest:
            found = _ANY_FOLDER.get(rest)
            if found is not None and level in found.levels:
                return found
        found = _FOLDERS.get(head)
        if found is not None and level in found.levels:
            return found
    return None


def role_of(rel: str) -> Role:
    """The role of a file inside a service folder (`values.yaml` → deploy)."""
    rule = rule_for(rel)
    return rule.role if rule is not None else DEFAULT_ROLE


def is_deployable(rel: str) -> bool:
    """Does a change of this service-folder file start a delivery (and travel with promotion)?"""
    return role_of(rel) == "deploy"


def kind_at(rel: str, level: Level = "service") -> Kind | None:
    """The kind `validate` checks a file as at that level, or None when it is not config."""
    rule = rule_for(rel, level)
    return rule.kind if rule is not None else None


def root_files(level: Level) -> dict[str, Kind]:
    """File → kind of every config file read at a branch root of that level."""
    return {r.pattern: r.kind for r in RULES if r.kind is not None and level in r.levels and not r.is_folder}


def service_only_files() -> tuple[str, ...]:
    """Config files that are read only inside a service folder (`slo.yaml` at a branch root is not)."""
    return tuple(r.pattern for r in RULES if r.kind is not None and r.levels == SERVICE)


# A top-level folder of a branch that belongs to an integration, not a service (Keptn
# reads `prometheus/sli.yaml`, `job/config.yaml`, `webhook/webhook.yaml` per stage too).
STAGE_LEVEL_FOLDERS: frozenset[str] = frozenset(name for name, r in _FOLDERS.items() if "stage" in r.levels)


def split_service(path: str) -> tuple[str | None, str]:
    """(`service`, path inside it) for `<service>/…`; (None, path) for branch-level files:
    files at the root, hidden folders and the integrations' folders."""
    head, sep, rest = path.partition("/")
    if not sep or head in STAGE_LEVEL_FOLDERS or head.startswith("."):
        return None, path
    return head, rest


def service_prefix(service: str) -> str:
    """`<service>/`: everything a delivery of the service may change, promote or roll back."""
    return f"{service}/"


def service_path(service: str, rel: str) -> str:
    return f"{service}/{rel}"


def is_values_file(rel: str) -> bool:
    """A YAML values file of a deployment: `values.yaml` or `helm/<chart>/values.yaml`."""
    return rel == VALUES_FILE or bool(re.fullmatch(rf"{HELM_FOLDER}/[^/]+/values\.ya?ml", rel))


# --- SLI files --------------------------------------------------------------------------

SLI_LEVELS: tuple[Level, ...] = ("project", "stage", "service")
"""Lowest priority first: the default branch's root, the stage branch's root, `<service>/`.
Later levels win key by key (as Keptn's prometheus-service merged them)."""


def sli_files(provider: str) -> tuple[str, ...]:
    """The SLI files `provider` reads at each level, lowest priority first: the generic
    `sli.yaml`, then its own `<provider>/sli.yaml`."""
    return (SLI_FILE, f"{provider}/{SLI_FILE}")


def sli_paths(provider: str, service: str) -> tuple[tuple[Level, str], ...]:
    """(level, path on that level's branch) of every SLI file `provider` merges for `service`,
    lowest priority first. `project` paths are on the default branch, the others on the stage's."""
    out: list[tuple[Level, str]] = []
    for level in SLI_LEVELS:
        prefix = service_prefix(service) if level == "service" else ""
        out += [(level, prefix + name) for name in sli_files(provider)]
    return tuple(out)


def sli_provider_of(rel: str) -> str | None:
    """The SLI provider an `sli.yaml` is written for: `dynatrace/sli.yaml` → dynatrace; None
    for the generic `sli.yaml` (any provider) and for files that are not SLI files."""
    if rel == SLI_FILE:
        return None
    rule = rule_for(rel, "stage") or rule_for(rel)
    if rule is None or rule.role != "quality-gate" or not rel.endswith("/" + SLI_FILE):
        return None
    return rule.sli_provider or rel.split("/", 1)[0]


def job_config_paths(service: str) -> tuple[tuple[Level, str], ...]:
    """(level, path) of the job executor's config, first found wins (not merged): the
    service's, the stage's, the project's (`project` on the default branch)."""
    return (("service", service_path(service, JOB_CONFIG_FILE)), ("stage", JOB_CONFIG_FILE),
            ("project", JOB_CONFIG_FILE))


def webhook_config_paths(service: str) -> tuple[tuple[Level, str], ...]:
    """(level, path) of webhook-service's config, searched in this order for a webhook of the
    event's type (as the webhook-service looked): the service's, the stage's, the project's."""
    return (("service", service_path(service, WEBHOOK_CONFIG_FILE)), ("stage", WEBHOOK_CONFIG_FILE),
            ("project", WEBHOOK_CONFIG_FILE))


# --- Keptn's task names ----------------------------------------------------------------

TASK_DEPLOYMENT = "deployment"
TASK_TEST = "test"
TASK_EVALUATION = "evaluation"
TASK_APPROVAL = "approval"
TASK_RELEASE = "release"
TASK_ROLLBACK = "rollback"
TASK_GET_ACTION = "get-action"
TASK_ACTION = "action"
TASK_GET_SLI = "get-sli"
TASK_PROMOTION = "promotion"
KEPTN_TASKS: tuple[str, ...] = (TASK_DEPLOYMENT, TASK_TEST, TASK_EVALUATION, TASK_APPROVAL, TASK_RELEASE,
                                TASK_ROLLBACK, TASK_GET_ACTION, TASK_ACTION, TASK_GET_SLI, TASK_PROMOTION)
