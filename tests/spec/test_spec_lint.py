"""One case per lint/schema rule: a small document with the mistake, the code it must
produce, and the line it must point at (the line marked `# !`)."""
from __future__ import annotations

import textwrap

import pytest

from reconciler.spec.codes import CODES
from reconciler.spec.validate import validate_document

SHIPYARD_HEAD = "apiVersion: spec.keptn.sh/0.2.3\nkind: Shipyard\nmetadata: {name: x}\nspec:\n  stages:\n"


def shipyard(stages: str) -> str:
    return SHIPYARD_HEAD + textwrap.indent(textwrap.dedent(stages).strip("\n"), "    ") + "\n"


def slo(body: str) -> str:
    return textwrap.dedent(body).strip("\n") + "\n"


REMEDIATION_HEAD = "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nmetadata: {name: r}\nspec:\n  remediations:\n"

CASES: list[tuple[str, str, str, str, str]] = [
    # (id, file name, text, code, severity)
    ("yaml-syntax", "slo.yaml", "objectives:\n  - sli: a\n   pass: x  # !\n", "yaml-syntax", "error"),
    ("duplicate-key", "sli.yaml", "indicators:\n  a: up\n  a: down  # !\n", "duplicate-key", "warning"),
    ("multiple-documents", "sli.yaml", "indicators: {a: up}  # !\n---\nindicators: {b: up}\n",
     "multiple-documents", "warning"),
    ("empty-file", "slo.yaml", "# nothing here  # !\n", "empty-file", "error"),
    ("unknown-kind", "notes.yaml", "hello: world  # !\n", "unknown-kind", "warning"),
    ("missing-key", "shipyard.yaml", "apiVersion: spec.keptn.sh/0.2.3\nspec:  # !\n  steps: []\n", "missing-key", "error"),
    ("wrong-type", "shipyard.yaml", SHIPYARD_HEAD.replace("  stages:\n", "  stages: dev  # !\n"), "wrong-type", "error"),
    ("bad-value", "job/config.yaml", "apiVersion: v1  # !\nactions: []\n", "bad-value", "error"),
    ("empty-list", "shipyard.yaml", SHIPYARD_HEAD.replace("  stages:\n", "  stages: []  # !\n"), "empty-list", "error"),
    ("unknown-key lenient", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              taks: []  # !
              tasks: [{name: deployment}]
        """), "unknown-key", "warning"),
    ("unknown-key strict", "job/config.yaml", textwrap.dedent("""\
        apiVersion: v2
        actions:
          - name: a
            events: [{name: sh.keptn.event.test.triggered}]
            tasks:
              - name: t
                image: alpine
                comand: [echo]  # !
        """), "unknown-key", "error"),
    ("bad-value pattern", "reconciler.yaml", "apiVersion: reconciler/v1\nkind: Settings\nspec:\n  timeouts:\n"
     "    taskStarted: 1.5.5s  # !\n", "bad-value", "error"),
    ("invalid-value replica bounds", "reconciler.yaml", "apiVersion: reconciler/v1\nkind: Settings\nspec:\n"
     "  remediation:\n    limits:\n      minReplicas: 5  # !\n      maxReplicas: 2\n", "invalid-value", "error"),
    ("bad-value cooldown", "reconciler.yaml", "apiVersion: reconciler/v1\nkind: Settings\nspec:\n"
     "  remediation:\n    limits:\n      cooldown: soon  # !\n", "bad-value", "error"),
    ("invalid-value", "job/config.yaml", textwrap.dedent("""\
        apiVersion: v2
        actions:
          - name: a
            events: [{name: sh.keptn.event.test.triggered}]
            tasks:
              - name: t
                image: alpine
                securityContext:
                  runAsUser: "1000"  # !
        """), "invalid-value", "error"),
    ("duplicate-key strict", "job/config.yaml", "apiVersion: v2\nactions: []\napiVersion: v2  # !\n",
     "duplicate-key", "error"),
    ("legacy-shipyard", "shipyard.yaml", "stages:  # !\n  - name: dev\n    deployment_strategy: direct\n",
     "legacy-shipyard", "error"),
    ("shipyard-version old", "shipyard.yaml", SHIPYARD_HEAD.replace("0.2.3", "0.1.7  # !")
     + "    - name: dev\n", "shipyard-version", "error"),
    ("shipyard-version junk", "shipyard.yaml", SHIPYARD_HEAD.replace("spec.keptn.sh/0.2.3", "v1  # !")
     + "    - name: dev\n", "shipyard-version", "error"),
    ("unexpected-kind", "shipyard.yaml", SHIPYARD_HEAD.replace("kind: Shipyard", "kind: Pipeline  # !")
     + "    - name: dev\n", "unexpected-kind", "warning"),
    ("invalid-stage-name", "shipyard.yaml", shipyard("- name: Prod_EU  # !"), "invalid-stage-name", "error"),
    ("stage name with dot", "shipyard.yaml", shipyard("- name: prod.eu  # !"), "invalid-stage-name", "error"),
    ("long-stage-name", "shipyard.yaml", shipyard("- name: " + "a" * 44 + "  # !"), "long-stage-name", "warning"),
    ("duplicate-stage", "shipyard.yaml", shipyard("- name: dev\n- name: dev  # !"), "duplicate-stage", "error"),
    ("invalid-name", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: ""  # !
              tasks: [{name: deployment}]
        """), "invalid-name", "error"),
    ("dot-in-name sequence", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: deliver.fast  # !
              tasks: [{name: deployment}]
        """), "dot-in-name", "error"),
    ("dot-in-name task", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks:
                - name: test.unit  # !
        """), "dot-in-name", "error"),
    ("duplicate-sequence", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks: [{name: deployment}]
            - name: delivery  # !
              tasks: [{name: release}]
        """), "duplicate-sequence", "warning"),
    ("empty-tasks", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks: []  # !
        """), "empty-tasks", "warning"),
    ("empty-tasks missing", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery  # !
        """), "empty-tasks", "warning"),
    ("legacy-triggers", "shipyard.yaml", shipyard("""
        - name: dev
          sequences: [{name: delivery, tasks: [{name: deployment}]}]
        - name: prod
          sequences:
            - name: delivery
              triggers: [dev.delivery.finished]  # !
              tasks: [{name: deployment}]
        """), "legacy-triggers", "warning"),
    ("bad-trigger-event", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              triggeredOn:
                - event: dev.delivery  # !
              tasks: [{name: deployment}]
        """), "bad-trigger-event", "warning"),
    ("bad-trigger-event long form", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              triggeredOn:
                - event: sh.keptn.event.dev.delivery.finished  # !
              tasks: [{name: deployment}]
        """), "bad-trigger-event", "warning"),
    ("trigger-unknown-stage", "shipyard.yaml", shipyard("""
        - name: prod
          sequences:
            - name: delivery
              triggeredOn:
                - event: hardening.delivery.finished  # !
              tasks: [{name: deployment}]
        """), "trigger-unknown-stage", "warning"),
    ("trigger-unknown-sequence", "shipyard.yaml", shipyard("""
        - name: dev
          sequences: [{name: delivery, tasks: [{name: deployment}]}]
        - name: prod
          sequences:
            - name: delivery
              triggeredOn:
                - event: dev.deliver.finished  # !
              tasks: [{name: deployment}]
        """), "trigger-unknown-sequence", "warning"),
    ("selector-misindented", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks: [{name: deployment}]
            - name: rollback
              triggeredOn:
                - event: dev.delivery.finished
                  selector:
                    match:
                    result: fail  # !
              tasks: [{name: rollback}]
        """), "selector-misindented", "warning"),
    ("selector-failed", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks: [{name: deployment}]
            - name: rollback
              triggeredOn:
                - event: dev.delivery.finished
                  selector:
                    match:
                      result: failed  # !
              tasks: [{name: rollback}]
        """), "selector-failed", "warning"),
    ("selector-value", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks: [{name: deployment}]
            - name: rollback
              triggeredOn:
                - event: dev.delivery.finished
                  selector:
                    match:
                      result: errored  # !
              tasks: [{name: rollback}]
        """), "selector-value", "warning"),
    ("selector-key", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks: [{name: deployment}]
            - name: rollback
              triggeredOn:
                - event: dev.delivery.finished
                  selector:
                    match:
                      status: errored  # !
              tasks: [{name: rollback}]
        """), "selector-key", "warning"),
    ("selector-unknown-task", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks: [{name: deployment}]
            - name: rollback
              triggeredOn:
                - event: dev.delivery.finished
                  selector:
                    match:
                      evaluation.result: fail  # !
              tasks: [{name: rollback}]
        """), "selector-unknown-task", "warning"),
    ("bad-duration triggeredAfter", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks:
                - name: evaluation
                  triggeredAfter: ten minutes  # !
        """), "bad-duration", "warning"),
    ("bad-duration no unit", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks:
                - name: evaluation
                  triggeredAfter: 10  # !
        """), "bad-duration", "warning"),
    ("bad-duration timeframe", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks:
                - name: evaluation
                  properties:
                    timeframe: 5 minutes  # !
        """), "bad-duration", "warning"),
    ("approval-value", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks:
                - name: approval
                  properties:
                    pass: auto  # !
                    warning: manual
        """), "approval-value", "warning"),
    ("evaluation-window", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks:
                - name: deployment
                - name: evaluation  # !
                - name: test
                - name: evaluation
            - name: gate
              tasks:
                - {name: evaluation, properties: {timeframe: 5m}}
        """), "evaluation-window", "warning"),
    ("approval-waits", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks:
                - name: approval  # !
        """), "approval-waits", "warning"),
    ("unknown-strategy", "shipyard.yaml", shipyard("""
        - name: dev
          sequences:
            - name: delivery
              tasks:
                - name: deployment
                  properties:
                    deploymentstrategy: canary  # !
        """), "unknown-strategy", "warning"),
    ("missing-total-score", "slo.yaml", slo("""
        objectives:
          - sli: a
            pass: [{criteria: ["<1"]}]
        total_score:  # !
          warning: "75%"
        """), "missing-total-score", "error"),
    ("bad-score", "slo.yaml", slo("""
        objectives: [{sli: a}]
        total_score:
          pass: ninety  # !
        """), "bad-score", "error"),
    ("score-order", "slo.yaml", slo("""
        objectives: [{sli: a}]
        total_score:
          pass: 75%
          warning: 90%  # !
        """), "score-order", "warning"),
    ("no-objectives", "slo.yaml", slo("""
        objectives: []  # !
        total_score: {pass: "90%"}
        """), "no-objectives", "warning"),
    ("bad-criteria", "slo.yaml", slo("""
        objectives:
          - sli: a
            pass:
              - criteria:
                  - "<=800"
                  - "fast"  # !
        total_score: {pass: "90%"}
        """), "bad-criteria", "error"),
    ("bad-criteria number", "slo.yaml", slo("""
        objectives:
          - sli: a
            pass: [{criteria: ["<=10"]}]
            warning:
              - criteria:
                  - "<=abc"  # !
        total_score: {pass: "90%"}
        """), "bad-criteria", "error"),
    ("bad-criteria informational", "slo.yaml", slo("""
        objectives:
          - sli: a
            warning:
              - criteria:
                  - "<=abc"  # !
        total_score: {pass: "90%"}
        """), "bad-criteria", "warning"),
    ("duplicate-objective", "slo.yaml", slo("""
        objectives:
          - sli: a
          - sli: a  # !
        total_score: {pass: "90%"}
        """), "duplicate-objective", "warning"),
    ("unknown-value comparison", "slo.yaml", slo("""
        comparison:
          compare_with: all_results  # !
        objectives: [{sli: a}]
        total_score: {pass: "90%"}
        """), "unknown-value", "warning"),
    ("unknown-value job event", "job/config.yaml", textwrap.dedent("""\
        apiVersion: v2
        actions:
          - name: a
            events:
              - name: test.triggered  # !
            tasks: [{name: t, image: alpine}]
        """), "unknown-value", "warning"),
    ("no-indicators", "sli.yaml", "spec_version: '1.0'\nindicators: {}  # !\n", "no-indicators", "warning"),
    ("empty-query", "sli.yaml", "indicators:\n  error_rate:  # !\n  throughput: up\n", "empty-query", "warning"),
    ("legacy-remediation", "remediation.yaml", "remediations:  # !\n- name: Failure rate increase\n"
     "  actions:\n  - action: featuretoggle\n    value: EnablePromotion:off\n", "legacy-remediation", "error"),
    ("remediation-version", "remediation.yaml", REMEDIATION_HEAD.replace("0.1.4", "0.2.0  # !")
     + "    - problemType: default\n      actionsOnOpen: [{action: escalate}]\n", "remediation-version", "error"),
    ("remediation-wildcard", "remediation.yaml", REMEDIATION_HEAD
     + "    - problemType: '*'  # !\n      actionsOnOpen: [{action: escalate}]\n", "remediation-wildcard", "warning"),
    ("duplicate-problem-type", "remediation.yaml", REMEDIATION_HEAD
     + "    - problemType: default\n      actionsOnOpen: [{action: a}]\n"
     + "    - problemType: default  # !\n      actionsOnOpen: [{action: b}]\n", "duplicate-problem-type", "warning"),
    ("no-actions", "remediation.yaml", REMEDIATION_HEAD + "    - problemType: default  # !\n",
     "no-actions", "warning"),
    ("scaling-value int", "remediation.yaml", REMEDIATION_HEAD
     + "    - problemType: default\n      actionsOnOpen:\n        - action: scaling\n          value: 1  # !\n",
     "scaling-value", "error"),
    ("scaling-value text", "remediation.yaml", REMEDIATION_HEAD
     + "    - problemType: default\n      actionsOnOpen:\n        - action: scaling\n          value: one  # !\n",
     "scaling-value", "error"),
    ("scaling-value missing", "remediation.yaml", REMEDIATION_HEAD
     + "    - problemType: default\n      actionsOnOpen:\n        - action: scaling  # !\n",
     "scaling-value", "error"),
    ("invalid-project-name", "reconciler.yaml", "apiVersion: reconciler/v1\nkind: Settings\nmetadata:\n"
     "  name: Hello_World  # !\n", "invalid-project-name", "warning"),
    ("unknown-webhook", "reconciler.yaml", "apiVersion: reconciler/v1\nkind: Settings\nspec:\n"
     "  webhooks: [{name: chat, url: 'http://127.0.0.1:1'}]\n  remediation:\n    escalationWebhook: pager  # !\n",
     "unknown-webhook", "error"),
    ("duplicate-webhook", "reconciler.yaml", "apiVersion: reconciler/v1\nkind: Settings\nspec:\n  webhooks:\n"
     "    - {name: chat, url: 'http://127.0.0.1:1'}\n    - name: chat  # !\n      url: 'http://127.0.0.1:2'\n",
     "duplicate-webhook", "warning"),
    ("forge-incomplete", "reconciler.yaml", "apiVersion: reconciler/v1\nkind: Settings\nspec:\n"
     "  forge:  # !\n    kind: github\n", "forge-incomplete", "warning"),
    # local.yaml: the lint rules, then the schema rules as they read there
    ("shell-command", "hello/local.yaml", "env: {A: b}\ncommand: python -m app --port=$(PORT)  # !\n",
     "shell-command", "error"),
    ("shell-command pipeline", "local.yaml", "command: >-  # !\n  python app.py | tee log\n", "shell-command", "error"),
    ("env-overridden", "local.yaml", "command: [python, app.py]\nenv:\n  GREETING: hi\n  PORT: 8080  # !\n",
     "env-overridden", "warning"),
    ("unknown-variable", "local.yaml", "command:\n  - python\n  - --port=$(POTR)  # !\n  - $$(LITERAL)\n",
     "unknown-variable", "warning"),
    ("local startTimeout", "local.yaml", "command: [python, app.py]\nstartTimeout: 2 minutes  # !\n",
     "bad-value", "error"),
    ("local startTimeout negative", "local.yaml", "command: [python, app.py]\nstartTimeout: -5  # !\n",
     "bad-value", "error"),
    ("local healthPath", "local.yaml", "command: [python, app.py]\nhealthPath: healthz  # !\n", "bad-value", "error"),
    ("local env name", "local.yaml", "command: [python, app.py]\nenv:\n  MODE=fast: 'yes'  # !\n", "bad-value", "error"),
    ("local unknown key", "local.yaml", "command: [python, app.py]\nhealthpath: /healthz  # !\n",
     "unknown-key", "error"),
    ("local missing command", "local.yaml", "env:  # !\n  A: b\n", "missing-key", "error"),
    ("local empty command", "local.yaml", "command: []  # !\n", "empty-list", "error"),
    ("local env value", "local.yaml", "command: [python]\nenv:\n  A: [1, 2]  # !\n", "wrong-type", "error"),
    ("local empty", "local.yaml", "# only a comment  # !\n", "empty-file", "error"),
]


def _marked_line(text: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if line.rstrip().endswith("# !")]
    assert len(lines) == 1, "each case marks exactly one line"
    return lines[0]


@pytest.mark.parametrize("name,text,code,severity", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(name, text, code, severity):
    assert code in CODES
    findings = validate_document(text.encode(), name=name)
    hits = [f for f in findings if f.code == code]
    assert hits, f"no {code}; got: " + "; ".join(f.human() for f in findings)
    assert all(f.severity == severity for f in hits)
    assert _marked_line(text) in {f.line for f in hits}, "; ".join(f.human() for f in hits)
    assert all(f.message and f.file == name for f in hits)


def test_every_code_has_a_case_or_a_project_test():
    """Codes not covered here are cross-file checks (test_spec_project) or reading failures."""
    covered = {c[3] for c in CASES}
    elsewhere = {"internal-error", "unreadable-file", "unknown-placeholder", "sli-undefined",
                 "sli-ambiguous", "no-default-branch", "missing-shipyard", "stage-without-branch",
                 "unknown-stage", "ignored-file", "invalid-service-name", "missing-slo", "missing-remediation",
                 "remediation-unused", "missing-local-yaml", "project-name", "ignored-branch", "unanswered-task"}
    assert set(CODES) - covered == elsewhere


def test_clean_documents_have_no_findings():
    clean = {
        "shipyard.yaml": shipyard("""
            - name: dev
              sequences:
                - name: delivery
                  tasks:
                    - name: deployment
                      properties: {deploymentstrategy: direct}
                    - name: evaluation
                      triggeredAfter: 2m
                      properties: {timeframe: 5m}
                    - name: approval
                      properties: {pass: automatic, warning: manual}
                - name: rollback
                  triggeredOn:
                    - event: dev.delivery.finished
                      selector: {match: {approval.result: fail}}
                  tasks: [{name: rollback}]
                - name: remediation
                  triggeredOn:
                    - event: dev.remediation.finished
                      selector: {match: {evaluation.result: fail}}
                  tasks: [{name: get-action}, {name: action}, {name: evaluation, properties: {timeframe: 5m}}]
            - name: qg
            """),
        "slo.yaml": slo("""
            objectives:
              - sli: a
                pass: [{criteria: ["<=+10%", "<600"]}]
              - sli: b
            total_score: {pass: "90%", warning: "75%"}
            """),
        "remediation.yaml": REMEDIATION_HEAD + "    - problemType: default\n      actionsOnOpen:\n"
                                               "        - {action: scaling, value: '+2'}\n",
        "local.yaml": slo("""
            command: [python, -m, app, "--port=$(PORT)", "--image=$(VALUE_IMAGE)", "--greeting=$(GREETING)", 8]
            env: {GREETING: hi, WORKERS: 2, DEBUG: false, my.setting: x}
            healthPath: /ready
            metricsPath: /metrics
            startTimeout: 1m30s
            """),
    }
    for name, text in clean.items():
        assert validate_document(text, name=name) == [], name
