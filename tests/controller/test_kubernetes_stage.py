"""A stage on the `kubernetes` target, through the controller, against the fake API server
(no real cluster can run here): delivery applies and waits for the rollout, the test job runs
as a Kubernetes Job, remediation scales through the scale subresource."""
from __future__ import annotations

from reconciler.controller.executors import BuiltinExecutors
from tests.support.fake_kube import FakeKube, JobOutcome
from tests.support.remotes import git_out
from tests.support.waiting import wait_until

SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: hello}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: deployment}, {name: test}, {name: release}]
        - name: remediation
          tasks: [{name: get-action}, {name: action}]
    - name: staging
    - name: production
"""

SETTINGS = """apiVersion: reconciler/v1
kind: Settings
metadata: {name: hello}
spec:
  stages: {dev: {target: kubernetes, kubernetes: {rolloutTimeout: 20s}}}
  jobs: {runner: kubernetes, namespace: hello-jobs}
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: helloservice, labels: {app: helloservice}}
spec:
  replicas: 1
  selector: {matchLabels: {app: helloservice}}
  template:
    metadata: {labels: {app: helloservice}}
    spec:
      containers: [{name: helloservice, image: placeholder}]
"""

JOB = """apiVersion: v2
actions:
  - name: smoke
    events: [{name: sh.keptn.event.test.triggered}]
    tasks:
      - {name: smoke, image: "curlimages/curl:8.5.0", cmd: [curl], args: [-fsS, "http://helloservice"]}
"""

REMEDIATION = """apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: r}
spec:
  remediations:
    - problemType: default
      actionsOnOpen: [{name: scale, action: scaling, description: one more, value: "2"}]
"""


def test_kubernetes_stage_deploys_runs_jobs_and_scales(origin, service_factory, human_factory):
    with FakeKube(rollout_delay=0.05) as kube:
        for ns in ("hello-dev", "hello-jobs"):
            kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        kube.job_handler = lambda job: JobOutcome(succeeded=True, logs="smoke ok\n")
        main = human_factory(origin.url, "main")
        main.write("shipyard.yaml", SHIPYARD)
        main.write("reconciler.yaml", SETTINGS)
        main.commit("dev on kubernetes")
        main.push()
        service = service_factory(origin.url, poll=0.05, executors=BuiltinExecutors(),
                                  environ={"RECONCILER_KUBE_URL": kube.url, "RECONCILER_KUBE_TOKEN": kube.token})
        dev = human_factory(origin.url, "dev")
        dev.write("helloservice/k8s/deployment.yaml", DEPLOYMENT)
        dev.write("helloservice/job/config.yaml", JOB)
        dev.write("helloservice/remediation.yaml", REMEDIATION)
        dev.write("helloservice/values.yaml", "image: registry.example/helloservice:1.4.0\nreplicaCount: 2\n")
        dev.delete("helloservice/local.yaml")
        dev.commit("deploy to kubernetes")
        dev.push()

        run = wait_until(lambda: [r for r in service.index.runs() if r["state"] == "finished"], timeout=60,
                         what="the delivery")[0]
        assert (run["result"], run["status"]) == ("pass", "succeeded"), run
        deployment = kube.get("deployments", "hello-dev", "helloservice")
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/helloservice:1.4.0"
        assert deployment["spec"]["replicas"] == 2
        jobs = kube.list("jobs", "hello-jobs")
        assert len(jobs) == 1 and jobs[0]["spec"]["template"]["spec"]["containers"][0]["args"] == \
            ["-fsS", "http://helloservice"]
        test_finished = [e for e in service.index.events(context=run["context"])
                         if e["type"] == "sh.keptn.event.test.finished"]
        assert "smoke ok" in str(test_finished[0]["data"])

        # remediation: the scaling action commits replicaCount and scales the Deployment
        alert = {"version": "4", "status": "firing", "alerts": [{
            "status": "firing", "fingerprint": "k8s1", "startsAt": "2026-11-21T10:00:00Z",
            "labels": {"alertname": "slow", "stage": "dev", "service": "helloservice"},
            "annotations": {"summary": "slow"}}]}
        import httpx
        assert httpx.post(service.url + "/webhooks/alertmanager", json=alert,
                          headers={"Authorization": "Bearer test-token"}).status_code == 202
        wait_until(lambda: kube.get("deployments", "hello-dev", "helloservice")["spec"]["replicas"] == 4,
                   timeout=30, what="the scale subresource")
        assert "replicaCount: 4" in git_out("show", "dev:helloservice/values.yaml", cwd=origin.path)
        assert kube.calls("PATCH", "*/deployments/helloservice/scale") or kube.calls("PUT", "*/scale")
        remediation = wait_until(lambda: [r for r in service.index.runs() if r["sequence"] == "remediation"
                                          and r["state"] == "finished"], timeout=30, what="the remediation")[0]
        assert remediation["result"] == "pass", remediation
        service.stop()                      # before the fake API server goes away
