"""The chart's RBAC is enough and no more: serve, started with the rendered StatefulSet's
arguments, runs with the rendered Roles enforced by the fake API server (tests/support/rbac.py):
it takes the Lease, deploys every kind the chart lets it apply, runs Kubernetes Jobs (files,
a secret, a timeout), scales through remediation and undeploys. No request is forbidden but
the namespace read the target is built to do without, and every granted verb was needed.
A Role missing a verb serve uses makes the same calls fail with 403."""
from __future__ import annotations

import copy
from pathlib import Path

import httpx
import pytest

from reconciler.cli.serve import command as serve_command
from reconciler.controller.executors import BuiltinExecutors
from reconciler.helm import render
from reconciler.runtime.service import ServeOptions, Service
from tests.support.fake_kube import FakeKube, JobOutcome
from tests.support.rbac import Rbac, Request
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "reconciler"
RELEASE_NS = "ops"
VALUES = {"repo": "https://git.example.com/team/config.git", "replicaCount": 2,
          "rbac": {"deployNamespaces": ["hello-dev"], "jobNamespaces": ["hello-jobs"]}}

SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: hello}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks: [{name: deployment}, {name: test}]
        - name: remediation
          tasks: [{name: get-action}, {name: action}]
"""
SETTINGS = """apiVersion: reconciler/v1
kind: Settings
metadata: {name: hello}
spec:
  stages: {dev: {target: kubernetes, kubernetes: {rolloutTimeout: 20s}}}
  jobs: {runner: kubernetes, namespace: hello-jobs}
"""
# One object of every kind the chart lets serve apply (rbac.applyResources), in one service folder.
K8S = """apiVersion: apps/v1
kind: Deployment
metadata: {name: helloservice, labels: {app: helloservice}}
spec:
  replicas: 1
  selector: {matchLabels: {app: helloservice}}
  template:
    metadata: {labels: {app: helloservice}}
    spec: {containers: [{name: helloservice, image: placeholder}]}
---
apiVersion: v1
kind: Service
metadata: {name: helloservice}
spec: {selector: {app: helloservice}, ports: [{port: 80}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: helloservice-cleanup}
spec:
  schedule: "0 * * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: helloservice}
spec: {rules: [{host: hello.example, http: {paths: [{path: /, pathType: Prefix,
        backend: {service: {name: helloservice, port: {number: 80}}}}]}}]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: helloservice}
spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: helloservice}, minReplicas: 1, maxReplicas: 5}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: helloservice}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: helloservice}}}
"""
# A task with a file (ConfigMap) and a secret (read by serve), and one that times out (Job deleted).
JOB = """apiVersion: v2
actions:
  - name: smoke
    events: [{name: sh.keptn.event.test.triggered}]
    tasks:
      - name: smoke
        image: "curlimages/curl:8.5.0"
        files: [job/smoke.sh]
        cmd: [sh]
        args: [/keptn/job/smoke.sh]
        env: [{name: api-creds, valueFrom: secret}]
      - {name: slow, image: "busybox:1.36", cmd: [sleep, "600"], maxPollDuration: 1}
"""
REMEDIATION = """apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: r}
spec:
  remediations:
    - problemType: default
      actionsOnOpen: [{name: scale, action: scaling, description: one more, value: "1"}]
"""


def rendered(values=VALUES):
    return render(CHART, values, release="reconciler", namespace=RELEASE_NS)


def serve_options(objects, origin_url: str, workdir: Path) -> ServeOptions:
    """ServeOptions from the rendered container's arguments, parsed by serve's own CLI; only
    where the process runs changes (repo, work dir, port) and polling is fast for the test."""
    sts = next(o for o in objects if o["kind"] == "StatefulSet")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][-2:] == ["reconciler", "serve"]
    params = serve_command.make_context("serve", list(container["args"])).params
    namespace, _, name = params["lease"].partition("/")
    return ServeOptions(repo=origin_url, workdir=workdir, host="127.0.0.1", port=0, poll_interval=0.05,
                        watch=not params["no_watch"], workers=params["workers"], lease=(namespace, name),
                        identity="reconciler-0")


def cluster(rbac: Rbac) -> FakeKube:
    kube = FakeKube(rollout_delay=0.05).start()
    for ns in (RELEASE_NS, "hello-dev", "hello-jobs"):
        kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    kube.seed({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-creds", "namespace": "hello-jobs"},
               "stringData": {"API_KEY": "s3cr3t-api-key"}})
    kube.job_handler = lambda job: (None if job["metadata"]["labels"]["keptn.sh/jes-task"] == "slow"
                                    else JobOutcome(succeeded=True, logs="smoke ok\n"))
    kube.authorize = rbac.check
    return kube


def test_serve_works_with_the_rendered_rbac_and_uses_all_of_it(origin, human_factory, tmp_path):
    objects = rendered()
    rbac = Rbac(objects, service_account=(RELEASE_NS, "reconciler"))
    kube = cluster(rbac)
    service = None
    try:
        main = human_factory(origin.url, "main")
        main.write("shipyard.yaml", SHIPYARD)
        main.write("reconciler.yaml", SETTINGS)
        main.commit("dev on kubernetes")
        main.push()
        service = Service(serve_options(objects, origin.url, tmp_path / "work"), executors=BuiltinExecutors(),
                          environ={"RECONCILER_API_TOKEN": "test-token", "RECONCILER_KUBE_URL": kube.url,
                                   "RECONCILER_KUBE_TOKEN": kube.token}).start()
        wait_until(lambda: service.elector.is_leader, timeout=20, what="serve to take the Lease")
        dev = human_factory(origin.url, "dev")
        dev.write("helloservice/k8s/all.yaml", K8S)
        dev.write("helloservice/job/config.yaml", JOB)
        dev.write("helloservice/job/smoke.sh", "curl -fsS http://helloservice\n")
        dev.write("helloservice/remediation.yaml", REMEDIATION)
        dev.write("helloservice/values.yaml", "image: registry.example/helloservice:1.4.0\nreplicaCount: 1\n")
        dev.delete("helloservice/local.yaml")
        dev.commit("deploy to kubernetes")
        dev.push()
        run = wait_until(lambda: [r for r in service.index.runs() if r["state"] == "finished"], timeout=60,
                         what="the delivery")[0]
        assert run["result"] == "fail"          # the slow task timed out, as it should
        assert kube.get("cronjobs", "hello-dev", "helloservice-cleanup") is not None
        assert [j["metadata"]["labels"]["keptn.sh/jes-task"] for j in kube.list("jobs", "hello-jobs")] == ["smoke"]
        alert = {"version": "4", "status": "firing", "alerts": [{
            "status": "firing", "fingerprint": "rbac1", "startsAt": "2026-11-21T10:00:00Z",
            "labels": {"alertname": "slow", "stage": "dev", "service": "helloservice"}, "annotations": {}}]}
        assert httpx.post(service.url + "/webhooks/alertmanager", json=alert,
                          headers={"Authorization": "Bearer test-token"}).status_code == 202
        wait_until(lambda: kube.get("deployments", "hello-dev", "helloservice")["spec"]["replicas"] == 2,
                   timeout=30, what="remediation to scale")
        service.targets.for_stage("dev").undeploy("dev", "helloservice")
        assert kube.get("deployments", "hello-dev", "helloservice") is None
    finally:
        if service is not None:
            service.stop()                      # releases the Lease: get + update
        kube.stop()
    # The target reads the namespace and, refused, assumes it exists (namespaced RBAC by design).
    assert {(r.verb, r.resource) for r in rbac.denied} <= {("get", "namespaces")}, rbac.denied
    assert rbac.unused() == []
    used = {(verb, resource) for _, verb, resource in rbac.used}
    assert {("create", "leases"), ("update", "leases"), ("update", "deployments/scale"), ("get", "pods/log"),
            ("delete", "jobs"), ("get", "secrets"), ("patch", "configmaps"), ("list", "cronjobs")} <= used


def without(objects, role_suffix: str, resource: str, verb: str):
    out = copy.deepcopy(objects)
    for obj in out:
        if obj["kind"] == "Role" and obj["metadata"]["name"].endswith(role_suffix):
            for rule in obj["rules"]:
                if resource in rule["resources"]:
                    rule["verbs"] = [v for v in rule["verbs"] if v != verb]
    return out


def test_a_role_without_a_verb_serve_needs_makes_serve_fail(origin, tmp_path):
    objects = without(rendered(), "-lease", "leases", "create")
    rbac = Rbac(objects, service_account=(RELEASE_NS, "reconciler"))
    kube = cluster(rbac)
    service = Service(serve_options(objects, origin.url, tmp_path / "work"),
                      environ={"RECONCILER_API_TOKEN": "t", "RECONCILER_KUBE_URL": kube.url,
                               "RECONCILER_KUBE_TOKEN": kube.token}).start()
    try:
        wait_until(lambda: rbac.denied, timeout=20, what="a forbidden request")
        assert Request("create", "coordination.k8s.io", "leases", RELEASE_NS, None) in rbac.denied
        assert not service.elector.is_leader
        ready = httpx.get(service.url + "/readyz")
        assert ready.status_code == 503
    finally:
        service.stop()
        kube.stop()


@pytest.mark.parametrize("role,resource,verb,call", [
    ("-deploy", "deployments", "patch", "apply"),
    ("-deploy", "deployments/scale", "update", "scale"),
    ("-jobs", "pods/log", "get", "logs"),
])
def test_each_missing_verb_is_a_403_for_the_adapter_call_that_needs_it(role, resource, verb, call):
    from reconciler.kube.apply import apply_object
    from reconciler.kube.client import Kube, KubeAccess, KubeError
    from reconciler.kube.jobs import job_logs
    from reconciler.kube.rollout import scale_deployment
    full = Rbac(rendered(), service_account=(RELEASE_NS, "reconciler"))
    cut = Rbac(without(rendered(), role, resource, verb), service_account=(RELEASE_NS, "reconciler"))
    kube = cluster(full)
    client = Kube.connect(KubeAccess(url=kube.url, token=kube.token), request_timeout=10)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [
                               {"name": "web", "image": "x"}]}}}}
    actions = {
        "apply": lambda: apply_object(client, deployment, namespace="hello-dev", field_manager="reconciler"),
        "scale": lambda: scale_deployment(client, "hello-dev", "web", 3),
        "logs": lambda: job_logs(client, "hello-jobs", "some-job"),
    }
    try:
        apply_object(client, deployment, namespace="hello-dev", field_manager="reconciler")
        kube.seed({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "some-job-x", "namespace": "hello-jobs",
                                                                 "labels": {"job-name": "some-job"}}})
        actions[call]()                      # allowed with the chart's Role
        kube.authorize = cut.check
        with pytest.raises(KubeError) as caught:
            actions[call]()
        assert caught.value.status == 403 and "forbidden" in caught.value.message
    finally:
        client.close()
        kube.stop()


def test_the_fake_authorizer_maps_requests_like_the_api_server_and_reports_unused_verbs():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "a"},
            "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["l"],
                       "verbs": ["get", "update", "watch"]},
                      {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "r", "namespace": "a"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
               "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "a"}]}
    rbac = Rbac([role, binding], service_account=("a", "sa"))
    assert rbac.check("GET", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l") is None
    assert rbac.check("PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l") is None
    assert rbac.check("GET", "/api/v1/namespaces/a/pods/p/log?tailLines=5") is None
    assert "cannot get" in rbac.check("GET", "/apis/coordination.k8s.io/v1/namespaces/a/leases/other")
    assert "cannot create" in rbac.check("POST", "/apis/coordination.k8s.io/v1/namespaces/a/leases")
    assert "cannot list" in rbac.check("GET", "/api/v1/namespaces/a/pods")
    assert "cannot get" in rbac.check("GET", "/api/v1/namespaces/b/pods/p/log")       # other namespace
    assert Rbac([role, binding], service_account=("a", "other")).check("GET", "/api/v1/namespaces/a/pods/p/log")
    assert rbac.unused() == ["Role a/r rule 0: watch ['leases']"]
