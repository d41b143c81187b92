"""The job executor with the Kubernetes runner, against the fake API server."""
from __future__ import annotations

import base64
import json
import textwrap

import pytest

from reconciler.engine.events import CloudEvent
from reconciler.kube.client import Kube, KubeAccess
from reconciler.kube.expansion import expand
from reconciler.spec.jobconfig import load_jobconfig
from reconciler.spec.settings import JobSettings
from reconciler.tasks.jobs import run_job
from reconciler.tasks.jobs.kube_runner import KubernetesJobRunner
from tests.support.fake_kube import JobOutcome

SECRET = "pa55-w0rd-in-cluster"


@pytest.fixture
def kube(fake_kube):
    client = Kube.connect(KubeAccess(url=fake_kube.url, token=fake_kube.token))
    yield client
    client.close()


@pytest.fixture
def runner(kube, fake_kube):
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jobs"}})
    fake_kube.seed({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-creds", "namespace": "jobs"},
                    "data": {"TOKEN": base64.b64encode(SECRET.encode()).decode()}})
    return KubernetesJobRunner(kube, namespace="jobs", poll_interval=0.02)


@pytest.fixture
def service_dir(tmp_path):
    folder = tmp_path / "carts"
    (folder / "locust").mkdir(parents=True)
    (folder / "locust" / "basic.py").write_text("print('locust')\n")
    return folder


def event(**data):
    base = {"project": "shop", "stage": "dev", "service": "carts", "labels": {"build-id": "17"}}
    base.update(data)
    return CloudEvent(type="sh.keptn.event.test.triggered", data=base, shkeptncontext="ctx-1", id="ev-1",
                      time="2026-01-01T00:00:00.000Z").to_dict()


def config(tasks: str):
    return load_jobconfig("apiVersion: v2\nactions:\n  - name: tests\n    events:\n"
                          "      - name: sh.keptn.event.test.triggered\n    tasks:\n"
                          + textwrap.indent(textwrap.dedent(tasks), "      "))


LOCUST = """\
- name: locust
  image: locustio/locust
  files: [locust/basic.py]
  cmd: [locust]
  args: ["-f", "/keptn/locust/basic.py", "--host", "$(HOST)", "--token=$(TOKEN)"]
  env:
    - {name: HOST, value: "$.data.host", valueFrom: event}
    - {name: api-creds, valueFrom: secret}
  maxPollDuration: 30
  ttlSecondsAfterFinished: 120
  annotations: {team: carts}
"""


def test_a_task_runs_as_a_job_with_files_env_and_secret_references(fake_kube, runner, service_dir):
    fake_kube.job_handler = lambda job: JobOutcome(succeeded=True, logs=f"users: 10\ntoken was {SECRET}\n")
    [result] = run_job(config(LOCUST), event(host="$(TOKEN) http://carts"), service_dir, runner)

    assert result.status == "succeeded" and result.result == "pass"
    assert result.tasks[0].output == "users: 10\ntoken was ***\n" and result.tasks[0].exit_code == 0
    assert SECRET not in json.dumps(result.event_data())
    [job] = fake_kube.list("jobs", "jobs")
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 60 and spec["ttlSecondsAfterFinished"] == 120
    assert container["command"] == ["locust"]
    # the event value is escaped so the kubelet keeps it literal; the secret key is left to the kubelet
    assert container["args"] == ["-f", "/keptn/locust/basic.py", "--host", "$$(TOKEN) http://carts", "--token=$(TOKEN)"]
    kubelet_view = [expand(a, {"TOKEN": "<from secret>"}) for a in container["args"]]
    assert kubelet_view[3] == "$(TOKEN) http://carts" and kubelet_view[4] == "--token=<from secret>"
    assert container["envFrom"] == [{"secretRef": {"name": "api-creds"}}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["HOST"] == "$$(TOKEN) http://carts" and env["KEPTN_PROJECT"] == "shop" and env["LABELS_BUILD_ID"] == "17"
    assert SECRET not in json.dumps(job)
    assert job["metadata"]["labels"]["keptn.sh/context"] == "ctx-1" and job["metadata"]["annotations"] == {"team": "carts"}
    volume = spec["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["items"] == [{"key": "f0", "path": "locust/basic.py"}]
    files = fake_kube.get("configmaps", "jobs", volume["configMap"]["name"])
    assert base64.b64decode(files["binaryData"]["f0"]) == b"print('locust')\n"
    assert files["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]


def test_a_failed_job_fails_the_action_with_its_logs(fake_kube, runner, service_dir):
    fake_kube.job_handler = lambda job: JobOutcome(succeeded=False, logs="AssertionError: 3 failures\n", exit_code=2)
    [result] = run_job(config("- {name: t, image: alpine, cmd: [sh, -c, 'exit 2']}\n"), event(), service_dir, runner)
    assert result.status == "errored" and result.result == "fail"
    assert "BackoffLimitExceeded" in result.message and "3 failures" in result.message
    assert result.tasks[0].exit_code == 2


def test_a_job_that_outlives_max_poll_duration_is_deleted(fake_kube, runner, service_dir):
    fake_kube.job_handler = lambda job: None
    [result] = run_job(config("- {name: t, image: alpine, cmd: [sleep, '999'], maxPollDuration: 1}\n"),
                       event(), service_dir, runner)
    assert result.status == "errored" and result.tasks[0].timed_out
    assert fake_kube.list("jobs", "jobs") == []


def test_the_same_event_again_waits_for_the_existing_job(fake_kube, runner, service_dir):
    cfg = config("- {name: t, image: alpine, cmd: ['true']}\n")
    run_job(cfg, event(), service_dir, runner)
    [again] = run_job(cfg, event(), service_dir, runner)
    assert again.status == "succeeded"
    assert len(fake_kube.calls("POST", "/apis/batch/v1/namespaces/jobs/jobs")) == 2
    assert len(fake_kube.list("jobs", "jobs")) == 1


def test_missing_secret_missing_image_and_injection_fail_before_any_job(fake_kube, runner, service_dir):
    cases = [
        ("- {name: t, image: a, cmd: ['true'], env: [{name: nope, valueFrom: secret}]}\n",
         "secret 'nope' not found in namespace jobs"),
        ("- {name: t, cmd: ['true']}\n", "image is required"),
        ("- {name: t, image: a, securityContext: {privileged: true}}\n", "privileged containers are not allowed"),
        ("- {name: t, image: a, cmd: [sh, -c, 'echo $(X)'], env: [{name: X, value: $.data.x, valueFrom: event}]}\n",
         "refused: $(X) comes from the event"),
    ]
    for tasks, message in cases:
        [result] = run_job(config(tasks), event(x="; rm -rf /"), service_dir, runner)
        assert result.status == "errored" and message in result.message
    assert fake_kube.calls("POST", "*/jobs") == []


def test_pod_logs_are_bounded(fake_kube, runner, service_dir):
    fake_kube.job_handler = lambda job: JobOutcome(logs="".join(f"line {i}\n" for i in range(5000)) + "done\n")
    [result] = run_job(config("- {name: t, image: a}\n"), event(), service_dir, runner, JobSettings(maxOutputBytes=1024))
    assert result.tasks[0].truncated and result.tasks[0].output.endswith("done\n")
    assert len(result.tasks[0].output.encode()) < 1024 + 100
    log_calls = fake_kube.calls("GET", "/api/v1/namespaces/jobs/pods/*/log")
    assert log_calls and log_calls[0].query == {"tailLines": "200"}     # the end of the log, bounded
