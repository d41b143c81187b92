"""Issue 6: secret values given to jobs never reach commits, events or logs."""
from __future__ import annotations

import logging
import subprocess

from reconciler.controller.executors import BuiltinExecutors
from tests.support.waiting import wait_until

SECRET = "s3cr3t-value-7c1e"

SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: hello}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: test}]
    - name: staging
    - name: production
"""

JOB = """apiVersion: v2
actions:
  - name: uses a secret
    events: [{name: sh.keptn.event.test.triggered}]
    tasks:
      - name: leak attempt
        image: python:3.11-slim
        cmd: [python, -c, "import os, sys; print('token is', os.environ['API_TOKEN']); print(os.environ['API_TOKEN'], file=sys.stderr); sys.exit(1)"]
        env:
          - {name: deploy-credentials, valueFrom: secret}
"""  # noqa: E501 - the job's one-line python command


def test_a_secret_printed_by_a_job_is_in_no_commit_event_or_log(origin, service_factory, human_factory, caplog):
    caplog.set_level(logging.DEBUG)
    human_factory(origin.url, "main").change("shipyard.yaml", SHIPYARD, "a test-only delivery")
    service = service_factory(origin.url, poll=0.05, executors=BuiltinExecutors(),
                              environ={"RECONCILER_SECRET_DEPLOY_CREDENTIALS_API_TOKEN": SECRET})
    dev = human_factory(origin.url, "dev")
    dev.write("helloservice/job/config.yaml", JOB)
    dev.write("helloservice/values.yaml", "image: helloservice:8.0.0\n")
    dev.commit("job that prints a secret")
    dev.push()
    run = wait_until(lambda: [r for r in service.index.runs() if r["state"] == "finished"], timeout=60,
                     what="the delivery")[0]
    assert run["result"] == "fail"                                   # the job exited 1
    finished = [e for e in service.index.events(context=run["context"]) if e["type"] == "sh.keptn.event.test.finished"]
    assert finished and "***" in str(finished[0]["data"])             # the output is there, redacted
    # every object of every branch of the remote, and every log line of the controller
    everything = subprocess.run(["git", "log", "--all", "-p", "--format=%B"], cwd=origin.path,
                                capture_output=True, text=True, check=True).stdout
    assert "token is" in everything                                  # the output was recorded…
    assert SECRET not in everything                                  # …without the secret
    assert SECRET not in caplog.text
    assert SECRET not in str(service.index.dump())
