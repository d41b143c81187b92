"""A Keptn project's Helm chart (`<service>/helm/<service>/` on every stage branch) delivered
dev → staging → production on the kubernetes target, through the controller, against the
fake API server: the changed chart values are promoted as state (staging's own replicaCount
stays), a resource the chart no longer renders (its `extra` value removed) is pruned on every
stage, and a remediation scales the release by a commit to the chart's values."""
from __future__ import annotations

import httpx

from reconciler.controller.executors import BuiltinExecutors
from tests.support.controller import seeded_origin
from tests.support.fake_kube import FakeKube
from tests.support.remotes import git_out
from tests.support.waiting import wait_until

SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: shop}
spec:
  stages:
    - name: dev
      sequences:
        - {name: delivery, tasks: [{name: deployment}, {name: release}]}
    - name: staging
      sequences:
        - {name: delivery, triggeredOn: [{event: dev.delivery.finished}], tasks: [{name: deployment}, {name: release}]}
    - name: production
      sequences:
        - {name: delivery, triggeredOn: [{event: staging.delivery.finished}],
           tasks: [{name: deployment}, {name: release}]}
        - {name: remediation, tasks: [{name: get-action}, {name: action}]}
"""

SETTINGS = """apiVersion: reconciler/v1
kind: Settings
spec:
  stages:
    dev: {target: kubernetes, kubernetes: {rolloutTimeout: 20s}}
    staging: {target: kubernetes, kubernetes: {rolloutTimeout: 20s}}
    production: {target: kubernetes, kubernetes: {rolloutTimeout: 20s}}
"""

REMEDIATION = """apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: r}
spec:
  remediations:
    - problemType: default
      actionsOnOpen: [{name: scale, action: scaling, description: two more, value: "2"}]
"""

TEMPLATES = {
    "Chart.yaml": "apiVersion: v2\nname: carts\nversion: 0.1.0\n",
    "templates/_helpers.tpl": '{{- define "carts.labels" -}}\napp: {{ .Release.Name }}\n{{- end }}\n',
    "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}, labels: {{ include "carts.labels" . | fromYaml | toJson }}}
spec:
  replicas: {{ .Values.replicaCount | default 1 }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers: [{name: carts, image: "{{ .Values.image }}"}]
""",
    "templates/service.yaml": """apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}}
spec: {selector: {app: {{ .Release.Name }}}, ports: [{port: 80}]}
""",
    "templates/configmap.yaml": """{{- if .Values.extra }}
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-extra}
data: {a: "1"}
{{- end }}
""",
}


def chart(replicas: int, comment: str) -> dict[str, str]:
    files = {f"carts/helm/carts/{rel}": text for rel, text in TEMPLATES.items()}
    files["carts/helm/carts/values.yaml"] = (f"image: registry.example/carts:1.0.0\n"
                                             f"replicaCount: {replicas}   # {comment}\nextra: true\n")
    files["carts/remediation.yaml"] = REMEDIATION
    return files


def test_a_helm_chart_travels_dev_staging_production_with_prune_and_scaling(tmp_path, service_factory,
                                                                             human_factory):
    layout = tmp_path / "layout"
    for branch, files in {"main": {"shipyard.yaml": SHIPYARD, "reconciler.yaml": SETTINGS},
                          "dev": chart(1, "dev"), "staging": chart(3, "staging only"),
                          "production": chart(2, "production")}.items():
        for rel, text in files.items():
            (layout / branch / rel).parent.mkdir(parents=True, exist_ok=True)
            (layout / branch / rel).write_text(text)
    origin = seeded_origin(tmp_path / "shop.git", layout)
    with FakeKube(rollout_delay=0.02) as kube:
        service = service_factory(origin.as_uri(), poll=0.05, executors=BuiltinExecutors(),
                                  environ={"RECONCILER_KUBE_URL": kube.url, "RECONCILER_KUBE_TOKEN": kube.token})
        dev = human_factory(str(origin), "dev")
        dev.write("carts/helm/carts/values.yaml", "image: registry.example/carts:2.0.0\nreplicaCount: 1   # dev\n")
        dev.commit("carts 2.0.0, no extra config")        # `extra` gone: the chart renders no ConfigMap
        dev.push()

        def finished(stage: str) -> list[dict]:
            return [r for r in service.index.runs(stage=stage, limit=20)
                    if r["sequence"] == "delivery" and r["state"] == "finished"]
        production = wait_until(lambda: finished("production"), timeout=90, what="the production delivery")[0]
        assert production["result"] == "pass", production
        for stage, replicas in (("dev", 1), ("staging", 3), ("production", 2)):
            dep = kube.get("deployments", f"shop-{stage}", "carts")
            assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/carts:2.0.0", stage
            assert dep["spec"]["replicas"] == replicas, stage
            assert kube.get("configmaps", f"shop-{stage}", "carts-extra") is None, stage    # pruned everywhere
        staging_values = git_out("show", "staging:carts/helm/carts/values.yaml", cwd=origin)
        assert "image: registry.example/carts:2.0.0" in staging_values
        assert "replicaCount: 3   # staging only" in staging_values            # the stage's own value stayed
        assert "extra:" not in staging_values                 # dev's change removed the key: so did promotion
        assert not kube.list("configmaps", "shop-staging") or all(
            c["metadata"]["name"] != "carts-extra" for c in kube.list("configmaps", "shop-staging"))

        alert = {"version": "4", "status": "firing", "alerts": [{
            "status": "firing", "fingerprint": "helm1", "startsAt": "2026-11-21T10:00:00Z",
            "labels": {"alertname": "slow", "stage": "production", "service": "carts"},
            "annotations": {"summary": "slow"}}]}
        assert httpx.post(service.url + "/webhooks/alertmanager", json=alert,
                          headers={"Authorization": "Bearer test-token"}, timeout=10).status_code == 202
        wait_until(lambda: kube.get("deployments", "shop-production", "carts")["spec"]["replicas"] == 4,
                   timeout=30, what="the Helm release scaled by its chart values")
        assert "replicaCount: 4   # production" in git_out("show", "production:carts/helm/carts/values.yaml",
                                                             cwd=origin)
        service.stop()
