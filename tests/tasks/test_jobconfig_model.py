"""reconciler.spec.jobconfig: JES' strict parsing of job/config.yaml (apiVersion v2)."""
from __future__ import annotations

import csv

import pytest

from reconciler.spec.jobconfig import JobConfig, JobConfigError, load_jobconfig
from tests.support.shared import shared_path

CORPUS = shared_path() / "corpus" / "keptn"


# The corpus tests read ../shared: without it they skip saying so (and fail in CI).
needs_shared = pytest.mark.usefixtures("shared_dir")


def corpus_rows(expected: str) -> list:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return [pytest.param(None, id="shared-missing")]     # the shared_dir fixture skips it (fails in CI)
    with open(CORPUS / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r for r in rows if r["kind"] == "jobconfig" and r["expected"] == expected]


@needs_shared
@pytest.mark.parametrize("row", corpus_rows("valid"), ids=lambda r: r["local_path"])
def test_every_valid_corpus_job_config_loads(row):
    config = load_jobconfig((CORPUS / row["local_path"]).read_text(), row["local_path"])
    assert config.apiVersion == "v2" and config.actions
    for event_type in [part.split(": ", 1)[1] for part in row["note"].split("; ") if part.startswith("events: ")]:
        assert event_type in {e.name for a in config.actions for e in a.events}


@needs_shared
@pytest.mark.parametrize("row", corpus_rows("invalid"), ids=lambda r: r["local_path"])
def test_invalid_corpus_job_configs_are_rejected(row):
    with pytest.raises(JobConfigError):
        load_jobconfig((CORPUS / row["local_path"]).read_text(), row["local_path"])


@needs_shared
def test_corpus_has_both_kinds_of_rows():
    assert len(corpus_rows("valid")) >= 20 and len(corpus_rows("invalid")) >= 2


def test_fields_of_a_full_task():
    config = load_jobconfig("""\
apiVersion: v2
actions:
  - name: Run locust
    silent: true
    events:
      - name: sh.keptn.event.test.triggered
        jsonpath: {property: $.data.test.teststrategy, match: locust}
    tasks:
      - name: locust
        image: locustio/locust
        imagePullPolicy: Always
        cmd: [locust]
        args: [--host, $(HOST)]
        workingDir: /keptn
        files: [locust/basic.py, /helm]
        env:
          - {name: HOST, value: "$.data.deployment.deploymentURIsLocal[0]", valueFrom: event, as: string}
          - {name: creds, valueFrom: secret}
        resources: {limits: {cpu: 1, memory: 512Mi}, requests: {cpu: 50m}}
        maxPollDuration: 1200
        namespace: keptn
        ttlSecondsAfterFinished: 30
        serviceAccount: sa
        securityContext: {runAsUser: 1000, readOnlyRootFilesystem: false, capabilities: {drop: [ALL]}}
        annotations: {a: b}
""")
    action = config.actions[0]
    task = action.tasks[0]
    assert action.silent and action.events[0].jsonpath.match == "locust"
    assert task.cmd == ["locust"] and task.args == ["--host", "$(HOST)"]
    assert task.env[0].as_ == "string" and task.env[1].valueFrom == "secret"
    assert task.resources.limits.cpu == "1"                 # a YAML number into a Go string field
    assert task.poll_seconds == 1200 and task.ttl_seconds == 60   # JES raises TTLs below 60 s to 60
    assert task.securityContext.to_kubernetes() == {"runAsUser": 1000, "readOnlyRootFilesystem": False,
                                                    "capabilities": {"add": [], "drop": ["ALL"]}}
    assert task.annotations == {"a": "b"}


def test_missing_fields_take_go_zero_values():
    config = load_jobconfig("apiVersion: v2\nactions:\n  - name: a\n    tasks:\n      - name: t\n        files:\n")
    task = config.actions[0].tasks[0]
    assert config.actions[0].events == [] and task.files == [] and task.cmd == [] and task.image == ""
    assert task.poll_seconds == 300 and task.ttl_seconds == 21600


@pytest.mark.parametrize("text, expected", [
    ("actions: []\n", "job/config.yaml:1: field 'apiVersion': apiVersion must be specified"),
    ("apiVersion: v1\nactions: []\n", "job/config.yaml:1: field 'apiVersion': apiVersion 'v1' is not supported, use v2"),
    ("apiVersion: v2\nactions: {}\n", "job/config.yaml:2: field 'actions'"),
    ("apiVersion: v2\nactions:\n  - name: a\n    event: x\n", "job/config.yaml:4: field 'actions.0.event': unknown key"),
    ("apiVersion: v2\nactions:\n  - tasks:\n      - cmd: locust -f x\n", "job/config.yaml:4: field 'actions.0.tasks.0.cmd'"),
    ("apiVersion: v2\nactions:\n  - tasks:\n      - maxPollDuration: '30'\n",
     "job/config.yaml:4: field 'actions.0.tasks.0.maxPollDuration'"),
    ("apiVersion: v2\nactions:\n  - tasks:\n      - annotations:\n          - a: b\n",
     "job/config.yaml:4: field 'actions.0.tasks.0.annotations'"),
    ("apiVersion: v2\nactions:\n  - silent: 'yes'\n", "field 'actions.0.silent'"),
    ("apiVersion: v2\nactions: []\nactions: []\n", "job/config.yaml:3: key 'actions' is set twice"),
    ("apiVersion: v2\nactions: [\n", "job/config.yaml:"),
    ("- just a list\n", "expected a mapping"),
])
def test_strict_parsing_names_file_line_and_field(text, expected):
    with pytest.raises(JobConfigError) as err:
        load_jobconfig(text)
    assert expected in str(err.value)


def test_scalars_decode_into_string_fields_like_go():
    config = load_jobconfig("apiVersion: v2\nactions:\n  - name: 7\n    events:\n      - name: x\n"
                            "        jsonpath: {property: $.a, match: 1}\n")
    assert config.actions[0].name == "7" and config.actions[0].events[0].jsonpath.match == "1"


def test_from_data_is_what_reconciler_validate_calls():
    from pydantic import ValidationError
    assert JobConfig.from_data({"apiVersion": "v2", "actions": []}).actions == []
    with pytest.raises(ValidationError):
        JobConfig.from_data({"apiVersion": "v3", "actions": []})
    with pytest.raises(ValidationError):
        JobConfig.from_data({"apiVersion": "v2", "actions": [{"nope": 1}]})
