"""Every finding code `reconciler validate` can report, with its one-line meaning.

Codes are stable: scripts and CI filters match on them, and docs/validation.md explains
each one with an example and the fix (a test keeps the two lists equal).
"""
from __future__ import annotations

CODES: dict[str, str] = {
    # reading the file
    "yaml-syntax": "the file is not valid YAML",
    "duplicate-key": "a key appears twice in one mapping; the last one silently wins",
    "multiple-documents": "the file has several YAML documents; only the first is read",
    "empty-file": "the file has no content",
    "unknown-kind": "cannot tell which kind of config file this is",
    "unreadable-file": "the file could not be read",
    "internal-error": "the validator itself failed on this file (a bug; the file is treated as invalid)",
    # schema layer (what Keptn accepts)
    "missing-key": "a required key is missing",
    "wrong-type": "a value has the wrong type (list, mapping, string, …)",
    "bad-value": "a value is not one of the allowed values or has the wrong format",
    "empty-list": "a list that must have entries is empty",
    "unknown-key": "a key that is not part of the format (ignored by Keptn files, rejected in strict files)",
    "invalid-value": "a value the typed model (settings, job config, local.yaml) rejects",
    # shipyard
    "legacy-shipyard": "a pre-0.2 shipyard (Keptn ≤ 0.7 format), rejected by Keptn ≥ 0.8",
    "shipyard-version": "the shipyard apiVersion is not spec.keptn.sh/0.2.x",
    "unexpected-kind": "the `kind` field does not match the file",
    "invalid-stage-name": "a stage name is not a valid Keptn entity name (and so not a usable branch)",
    "long-stage-name": "a stage name longer than 43 characters",
    "duplicate-stage": "two stages have the same name",
    "invalid-name": "a sequence or task name is empty",
    "dot-in-name": "a sequence or task name contains a dot, which breaks its event types",
    "duplicate-sequence": "two sequences in one stage have the same name; only the first is used",
    "empty-tasks": "a sequence without tasks, which fails whenever it is triggered",
    "legacy-triggers": "the pre-release `triggers:` key, which released Keptn ignores",
    "bad-trigger-event": "a triggeredOn event that is not `<stage>.<sequence>.finished`",
    "trigger-unknown-stage": "a triggeredOn event names a stage that does not exist",
    "trigger-unknown-sequence": "a triggeredOn event names a sequence that does not exist in that stage",
    "selector-misindented": "a key beside `match:` in a selector, ignored by Keptn",
    "selector-failed": "selector value `failed`, which never matches in Keptn (the result is `fail`)",
    "selector-value": "a selector value other than pass, warning or fail, which never matches",
    "selector-key": "a selector key other than `result` or `<task>.result`, ignored by Keptn",
    "selector-unknown-task": "a selector on `<task>.result` for a task the triggering sequence does not have",
    "bad-duration": "a duration that cannot be parsed",
    "approval-value": "an approval property other than automatic or manual",
    "approval-waits": "an approval without pass/warning properties waits for a person on every result",
    "unknown-strategy": "a deployment strategy Keptn does not know",
    # slo / sli
    "missing-total-score": "the SLO has no total_score.pass, so every evaluation errors",
    "bad-score": "a total_score threshold that is not a percentage",
    "score-order": "the warning threshold is above the pass threshold",
    "no-objectives": "the SLO has no objectives, so every evaluation fails",
    "bad-criteria": "an SLO criterion that does not parse",
    "duplicate-objective": "two objectives use the same SLI",
    "unknown-value": "a value Keptn does not know and treats as its default",
    "no-indicators": "the SLI file defines no indicators",
    "empty-query": "an SLI with an empty query",
    "sli-undefined": "an SLO objective whose SLI has no query in any sli.yaml",
    "unknown-placeholder": "a $PLACEHOLDER in an SLI query that nothing fills in",
    "sli-ambiguous": "a service has both sli.yaml and <provider>/sli.yaml (e.g. prometheus/sli.yaml)",
    # remediation
    "legacy-remediation": "a pre-0.1.4 remediation file (Keptn 0.5/0.6 format)",
    "remediation-version": "the remediation apiVersion is not exactly spec.keptn.sh/0.1.4",
    "remediation-wildcard": "problemType `*`, the Keptn 0.6 spelling of `default`",
    "duplicate-problem-type": "two remediations for the same problemType; only the first is used",
    "no-actions": "a remediation without actions",
    "scaling-value": "a scaling action whose value is not a string integer",
    # settings
    "invalid-project-name": "metadata.name is not a valid Keptn entity name",
    "unknown-webhook": "a reference to a webhook subscription that does not exist",
    "duplicate-webhook": "two webhook subscriptions with the same name",
    "forge-incomplete": "a forge is configured without its repository",
    # local.yaml
    "shell-command": "local.yaml `command` is one string; the local target runs an argument list without a shell",
    "env-overridden": "a local.yaml `env` entry the local target sets itself for every replica",
    "unknown-variable": "a `$(NAME)` in local.yaml `command` that nothing sets",
    # project (cross-file)
    "no-default-branch": "the repository has neither a main nor a master branch",
    "missing-shipyard": "the default branch has no shipyard.yaml",
    "stage-without-branch": "a shipyard stage has no branch of the same name",
    "unknown-stage": "reconciler.yaml configures a stage the shipyard does not have",
    "ignored-file": "a config file in a place Keptn and reconciler never read",
    "evaluation-window": "an evaluation with neither a timeframe nor a test task before it",
    "unanswered-task": "a shipyard task that no built-in, job config action or target answers "
                       "(it would wait for an integration)",
    "ignored-branch": "a branch that is neither the default branch nor a stage of the shipyard: nothing on it is read",
    "project-name": "the project's name (reconciler.yaml metadata.name, else the repository's name) "
                    "is not a Keptn name",
    "invalid-service-name": "a service folder name that is not a valid Keptn entity name",
    "missing-slo": "a service in a stage with evaluations has no slo.yaml",
    "missing-remediation": "a service in a stage with a remediation sequence has no remediation.yaml",
    "remediation-unused": "a remediation.yaml in a stage without a remediation sequence",
    "missing-local-yaml":
        "a service with deployable files in a stage that deploys to the local target has no local.yaml",
}
