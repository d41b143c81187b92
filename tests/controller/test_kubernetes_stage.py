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


BLUE_GREEN_SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: hello}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - {name: deployment, properties: {deploymentstrategy: blue_green_service}}
            - {name: test}
            - {name: release}
        - name: rollback
          triggeredOn: [{event: dev.delivery.finished, selector: {match: {result: fail}}}]
          tasks: [{name: rollback}]
    - name: staging
    - name: production
"""

SERVICE = """apiVersion: v1
kind: Service
metadata: {name: helloservice}
spec:
  selector: {app: helloservice}
  ports: [{port: 80, targetPort: 8080}]
"""


def test_kubernetes_blue_green_release_switches_the_service_and_rollback_drops_the_new_color(
        origin, service_factory, human_factory):
    with FakeKube(rollout_delay=0.02) as kube:
        for ns in ("hello-dev", "hello-jobs"):
            kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        failing = {"2.0.0"}                          # the test job fails for this version
        kube.job_handler = lambda job: JobOutcome(succeeded=not any(v in str(job) for v in failing))
        main = human_factory(origin.url, "main")
        main.write("shipyard.yaml", BLUE_GREEN_SHIPYARD)
        main.write("reconciler.yaml", SETTINGS)
        main.commit("dev on kubernetes, blue/green")
        main.push()
        service = service_factory(origin.url, poll=0.05, executors=BuiltinExecutors(),
                                  environ={"RECONCILER_KUBE_URL": kube.url, "RECONCILER_KUBE_TOKEN": kube.token})
        job = JOB.replace('args: [-fsS, "http://helloservice"]',
                          'args: [-fsS, "$(URL)"], env: [{name: URL, value: "$.data.deployment.deploymentURIsLocal[0]", '
                          'valueFrom: event}, {name: IMAGE, value: "$.data.configurationChange.values.image", '
                          'valueFrom: event}]')

        def ship(version: str, first: bool = False) -> dict:
            dev = human_factory(origin.url, "dev")
            if first:
                dev.write("helloservice/k8s/deployment.yaml", DEPLOYMENT)
                dev.write("helloservice/k8s/service.yaml", SERVICE)
                dev.write("helloservice/job/config.yaml", job)
                dev.delete("helloservice/local.yaml")
            dev.write("helloservice/values.yaml", f"image: registry.example/helloservice:{version}\nreplicaCount: 1\n")
            dev.commit(f"ship {version}")
            dev.push()
            count = 1 + len(shipped)
            shipped.append(version)
            return wait_until(lambda: len(done("delivery")) == count and done("delivery")[0], timeout=60,
                              what=f"the delivery of {version}")

        def done(sequence: str) -> list[dict]:
            return [r for r in service.index.runs(stage="dev", limit=50)
                    if r["sequence"] == sequence and r["state"] == "finished"]

        def color() -> str:
            return kube.get("services", "hello-dev", "helloservice")["spec"]["selector"]["reconciler.sh/color"]

        def image(name: str) -> str:
            return kube.get("deployments", "hello-dev", name)["spec"]["template"]["spec"]["containers"][0]["image"]

        shipped: list[str] = []
        assert ship("1.0.0", first=True)["result"] == "pass"
        assert color() == "blue" and image("helloservice-blue").endswith(":1.0.0")

        failed = ship("2.0.0")                                   # green beside blue; its test fails
        assert failed["result"] == "fail", failed
        rollback = wait_until(lambda: done("rollback"), timeout=30, what="the rollback")[0]
        assert rollback["result"] == "pass", rollback
        assert kube.get("deployments", "hello-dev", "helloservice-green") is None
        assert color() == "blue" and image("helloservice-blue").endswith(":1.0.0")
        preview = kube.get("services", "hello-dev", "helloservice-preview")
        assert preview["spec"]["selector"]["reconciler.sh/color"] == "green"

        assert ship("2.0.1")["result"] == "pass"                 # green again, released this time
        assert color() == "green" and image("helloservice-green").endswith(":2.0.1")
        assert kube.get("deployments", "hello-dev", "helloservice-blue") is None
        released = service.index.events(type_prefix="sh.keptn.event.release.finished")[0]
        assert "switched the Service selector of helloservice in hello-dev to green" in released["data"]["message"]
        service.stop()
