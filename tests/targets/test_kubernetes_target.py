"""The kubernetes target against the fake API server."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from reconciler.spec.settings import Settings
from reconciler.targets.base import DeploymentFailed, DeploymentTarget, DeployRequest
from reconciler.targets.kubernetes import KubernetesTarget

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  labels: {app: hello}
spec:
  replicas: 1
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
        - name: hello
          image: placeholder
          ports: [{containerPort: 8080}]
        - name: sidecar
          image: proxy:1
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: hello-config}
data: {greeting: hi}
"""


def settings(**stage) -> Settings:
    stage.setdefault("rolloutTimeout", "10s")
    return Settings.from_data({"metadata": {"name": "shop"},
                               "spec": {"stages": {"dev": {"target": "kubernetes", "kubernetes": stage}}}})


def service_folder(root: Path, files: dict[str, str] | None = None) -> Path:
    folder = root / "hello"
    (folder / "k8s").mkdir(parents=True)
    for name, text in (files or {"deployment.yaml": DEPLOYMENT, "service.yaml": SERVICE}).items():
        (folder / "k8s" / name).write_text(text)
    return folder


def request(folder: Path, commit="a" * 40, **values) -> DeployRequest:
    values.setdefault("image", "hello:1")
    values.setdefault("replicaCount", 2)
    return DeployRequest("shop", "dev", "hello", commit, folder, values)


@pytest.fixture
def target(kube):
    t = KubernetesTarget(kube, settings(), poll_interval=0.02)
    yield t


def test_is_a_deployment_target(target):
    assert isinstance(target, DeploymentTarget)


def test_deploy_applies_manifests_with_image_and_replicas_and_waits_for_rollout(fake_kube, target, tmp_path):
    fake_kube.rollout_delay = 0.05
    result = target.deploy(request(service_folder(tmp_path)))

    dep = fake_kube.get("deployments", "shop-dev", "hello")
    containers = {c["name"]: c["image"] for c in dep["spec"]["template"]["spec"]["containers"]}
    assert containers == {"hello": "hello:1", "sidecar": "proxy:1"}
    assert dep["spec"]["replicas"] == 2
    assert dep["status"]["availableReplicas"] == 2                  # deploy returned after the rollout
    labels = dep["metadata"]["labels"]
    assert labels["app"] == "hello" and labels["reconciler.sh/service"] == "hello"
    assert labels["app.kubernetes.io/managed-by"] == "reconciler"
    assert dep["metadata"]["annotations"]["reconciler.sh/commit"] == "a" * 40
    assert fake_kube.get("configmaps", "shop-dev", "hello-config")["data"] == {"greeting": "hi"}
    assert fake_kube.get("namespaces", None, "shop-dev") is not None
    assert result.deployment_uris_local == ["http://hello.shop-dev:80"]
    assert result.deployment_names == ["hello"] and result.replicas == 2
    applies = fake_kube.calls("PATCH", "/apis/apps/v1/namespaces/shop-dev/deployments/hello")
    assert applies and applies[0].content_type == "application/apply-patch+yaml"
    assert applies[0].query["fieldManager"] == "reconciler" and applies[0].query["force"] == "true"


def test_redeploy_of_a_new_image_rolls_out_a_new_generation(fake_kube, target, tmp_path):
    folder = service_folder(tmp_path)
    target.deploy(request(folder))
    target.deploy(request(folder, commit="b" * 40, image="hello:2"))
    dep = fake_kube.get("deployments", "shop-dev", "hello")
    assert dep["metadata"]["generation"] == 2 and dep["status"]["observedGeneration"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "hello:2"
    status = target.status("dev", "hello")
    assert status.commit == "b" * 40 and status.image == "hello:2" and status.ready == 2


def test_namespace_and_field_manager_come_from_settings(fake_kube, kube, tmp_path):
    target = KubernetesTarget(kube, settings(namespace="team-a", fieldManager="gitops"), poll_interval=0.02)
    target.deploy(request(service_folder(tmp_path)))
    assert fake_kube.get("deployments", "team-a", "hello") is not None
    assert fake_kube.calls("PATCH", "*/team-a/deployments/hello")[0].query["fieldManager"] == "gitops"


def test_scale_uses_the_scale_subresource_and_retries_conflicts(fake_kube, target, tmp_path):
    target.deploy(request(service_folder(tmp_path)))
    scale_path = "/apis/apps/v1/namespaces/shop-dev/deployments/hello/scale"
    fake_kube.inject(scale_path, status=409, count=2, method="PUT")

    status = target.scale("dev", "hello", 4)

    assert status.desired == 4 and status.ready == 4
    assert fake_kube.get("deployments", "shop-dev", "hello")["spec"]["replicas"] == 4
    assert [r.method for r in fake_kube.calls(path_glob=scale_path)] == ["GET", "PUT"] * 3


def test_rollout_timeout_is_a_deployment_failure_naming_the_deployment(fake_kube, kube, tmp_path):
    target = KubernetesTarget(kube, settings(rolloutTimeout="300ms"), poll_interval=0.02)
    fake_kube.stalled.add(("shop-dev", "hello"))
    with pytest.raises(DeploymentFailed) as err:
        target.deploy(request(service_folder(tmp_path)))
    assert err.value.kind == "rollout-timeout"
    assert "deployment hello in namespace shop-dev did not finish within 0.3s" in str(err.value)


def test_scale_of_a_service_that_is_not_deployed(target, fake_kube):
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop-dev"}})
    with pytest.raises(DeploymentFailed) as err:
        target.scale("dev", "hello", 3)
    assert err.value.kind == "not-deployed"
    assert not target.status("dev", "hello").deployed


def test_undeploy_deletes_only_what_the_reconciler_applied_for_the_service(fake_kube, target, tmp_path):
    target.deploy(request(service_folder(tmp_path)))
    fake_kube.seed({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "shop-dev"}})
    target.undeploy("dev", "hello")
    assert fake_kube.list("deployments", "shop-dev") == []
    assert fake_kube.list("services", "shop-dev") == []
    assert [c["metadata"]["name"] for c in fake_kube.list("configmaps", "shop-dev")] == ["other"]


@pytest.mark.parametrize("files, message", [
    ({}, "hello/k8s/ has no *.yaml manifests"),
    ({"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\nkind: Service\nmetadata: {name: y}\n"},
     "hello/k8s/a.yaml:5 (document 2): field 'apiVersion' is required"),
    ({"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n"},
     "hello/k8s/a.yaml:1 (document 1): field 'metadata.name' is required"),
    ({"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: elsewhere}\n"},
     "metadata.namespace is 'elsewhere' but stage dev deploys into 'shop-dev'"),
    ({"a.yaml": DEPLOYMENT.replace("name: hello\n          image", "name: web\n          image")},
     "containers web, sidecar; name one 'hello'"),
    ({"a.yaml": "key: [unclosed\n"}, "hello/k8s/a.yaml:2"),
])
def test_invalid_manifests_are_rejected_before_anything_is_applied(fake_kube, target, tmp_path, files, message):
    folder = tmp_path / "hello"
    (folder / "k8s").mkdir(parents=True)
    for name, text in files.items():
        (folder / "k8s" / name).write_text(text)
    with pytest.raises(DeploymentFailed) as err:
        target.deploy(request(folder))
    assert err.value.kind == "manifest-invalid"
    assert message in str(err.value)
    assert fake_kube.calls("PATCH") == []


def test_api_rejections_are_reported_with_the_manifest(fake_kube, target, tmp_path):
    folder = service_folder(tmp_path, {"bad.yaml": textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: Not_Valid}
        """)})
    with pytest.raises(DeploymentFailed) as err:
        target.deploy(request(folder, replicaCount=1))
    assert err.value.kind == "manifest-invalid"
    assert "hello/k8s/bad.yaml:1 (ConfigMap Not_Valid)" in str(err.value) and "422" in str(err.value)


# -- blue/green ----------------------------------------------------------------------------------

def bg_request(folder: Path, commit: str, image: str) -> DeployRequest:
    from reconciler.targets.base import BLUE_GREEN
    return DeployRequest("shop", "dev", "hello", commit, folder, {"image": image, "replicaCount": 1},
                         strategy=BLUE_GREEN)


def image_of(fake_kube, name: str) -> str:
    dep = fake_kube.get("deployments", "shop-dev", name)
    return {c["name"]: c["image"] for c in dep["spec"]["template"]["spec"]["containers"]}["hello"]


def test_blue_green_on_kubernetes_two_deployments_and_a_selector_switch(fake_kube, target, tmp_path):
    folder = service_folder(tmp_path)
    target.deploy(request(folder, commit="1" * 40, image="hello:1"))       # direct: Deployment `hello`

    first = target.deploy(bg_request(folder, "2" * 40, "hello:2"))        # nothing colored live: released at once
    assert "released at once" in first.message
    assert fake_kube.get("services", "shop-dev", "hello")["spec"]["selector"] == {"app": "hello",
                                                                               "reconciler.sh/color": "blue"}
    assert fake_kube.get("deployments", "shop-dev", "hello") is None         # the direct one is gone
    assert image_of(fake_kube, "hello-blue") == "hello:2"

    second = target.deploy(bg_request(folder, "3" * 40, "hello:3"))       # beside blue
    assert image_of(fake_kube, "hello-green") == "hello:3" and image_of(fake_kube, "hello-blue") == "hello:2"
    assert fake_kube.get("services", "shop-dev", "hello")["spec"]["selector"]["reconciler.sh/color"] == "blue"
    preview = fake_kube.get("services", "shop-dev", "hello-preview")
    assert preview["spec"]["selector"] == {"app": "hello", "reconciler.sh/color": "green"}
    assert second.deployment_uris_local == ["http://hello-preview.shop-dev:80"]
    assert second.deployment_uris_public == ["http://hello.shop-dev:80"]

    message = target.release("dev", "hello")
    assert message.startswith("switched the Service selector of hello in shop-dev to green; deleted hello-blue")
    assert fake_kube.get("services", "shop-dev", "hello")["spec"]["selector"]["reconciler.sh/color"] == "green"
    assert fake_kube.get("deployments", "shop-dev", "hello-blue") is None
    assert target.release("dev", "hello") is None

    target.deploy(bg_request(folder, "4" * 40, "hello:4"))                # beside green, then rolled back
    assert image_of(fake_kube, "hello-blue") == "hello:4"
    assert target.discard("dev", "hello") is True
    assert fake_kube.get("deployments", "shop-dev", "hello-blue") is None
    assert image_of(fake_kube, "hello-green") == "hello:3"
    assert fake_kube.get("services", "shop-dev", "hello")["spec"]["selector"]["reconciler.sh/color"] == "green"
    assert target.discard("dev", "hello") is False


def test_objects_removed_from_the_manifests_are_pruned_through_the_inventory(fake_kube, target, tmp_path):
    folder = service_folder(tmp_path)
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop-dev"}})
    fake_kube.seed({"apiVersion": "v1", "kind": "ConfigMap",          # not ours: never pruned, whatever its labels
                    "metadata": {"name": "hand-made", "namespace": "shop-dev",
                                 "labels": {"reconciler.sh/service": "hello",
                                            "app.kubernetes.io/managed-by": "reconciler"}}})
    target.deploy(request(folder, commit="1" * 40))
    inventory = fake_kube.get("configmaps", "shop-dev", "hello-reconciler-inventory")
    assert json.loads(inventory["data"]["entries"]) == [
        "apps/v1|Deployment|shop-dev|hello", "v1|ConfigMap|shop-dev|hello-config", "v1|Service|shop-dev|hello"]

    (folder / "k8s" / "service.yaml").write_text(SERVICE.split("---")[0])   # the ConfigMap is gone from Git
    second = target.deploy(request(folder, commit="2" * 40))

    assert fake_kube.get("configmaps", "shop-dev", "hello-config") is None
    assert "pruned ConfigMap hello-config (no longer in the manifests)" in second.message
    assert fake_kube.get("configmaps", "shop-dev", "hand-made") is not None
    assert fake_kube.get("services", "shop-dev", "hello") is not None
    inventory = fake_kube.get("configmaps", "shop-dev", "hello-reconciler-inventory")
    assert json.loads(inventory["data"]["entries"]) == ["apps/v1|Deployment|shop-dev|hello", "v1|Service|shop-dev|hello"]


# -- Helm charts (Keptn's helm/<service>/) -----------------------------------------------------------

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
    "values.yaml": "image: {repository: registry.example/hello, tag: '1.0'}\nreplicaCount: 1\n"
                   "extraConfig: true\nports: [8080]\n",
    "templates/_helpers.tpl": '{{- define "hello.labels" -}}\napp: {{ .Release.Name }}\n'
                              'chart: {{ .Chart.Name }}-{{ .Chart.Version }}\n{{- end }}\n',
    "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {{- include "hello.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata:
      labels: {{- include "hello.labels" . | nindent 8 }}
    spec:
      containers:
        - name: hello
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default "latest" }}"
          ports:
          {{- range .Values.ports }}
            - containerPort: {{ . }}
          {{- end }}
""",
    "templates/service.yaml": """apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{port: 80, targetPort: {{ first .Values.ports }}}]
""",
    "templates/configmap.yaml": """{{- if .Values.extraConfig }}
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-extra}
data: {level: {{ .Values.level | default "info" | quote }}}
{{- end }}
""",
}


def chart_folder(root: Path) -> Path:
    folder = root / "hello"
    for rel, text in CHART.items():
        path = folder / "helm" / "hello" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def test_a_helm_chart_is_rendered_with_the_stage_values_applied_and_pruned(fake_kube, target, tmp_path):
    folder = chart_folder(tmp_path)
    first = target.deploy(DeployRequest("shop", "dev", "hello", "1" * 40, folder,
                                        {"image": {"tag": "2.0"}, "replicaCount": 2}))
    dep = fake_kube.get("deployments", "shop-dev", "hello")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/hello:2.0"
    assert dep["spec"]["replicas"] == 2 and dep["metadata"]["labels"]["chart"] == "hello-0.1.0"
    assert fake_kube.get("configmaps", "shop-dev", "hello-extra")["data"] == {"level": "info"}
    assert first.deployment_uris_local == ["http://hello.shop-dev:80"]

    second = target.deploy(DeployRequest("shop", "dev", "hello", "2" * 40, folder,   # the stage turns it off
                                         {"image": {"tag": "2.1"}, "extraConfig": False}))
    assert fake_kube.get("configmaps", "shop-dev", "hello-extra") is None
    assert "pruned ConfigMap hello-extra" in second.message
    assert fake_kube.get("deployments", "shop-dev", "hello")["spec"]["replicas"] == 1     # the chart's default


def test_a_chart_rendering_error_names_the_chart_file(target, tmp_path):
    folder = chart_folder(tmp_path)
    (folder / "helm" / "hello" / "templates" / "service.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ required \"service.name is required\" .Values.service.name }}\n")
    with pytest.raises(DeploymentFailed) as info:
        target.deploy(DeployRequest("shop", "dev", "hello", "1" * 40, folder, {}))
    assert info.value.kind == "manifest-invalid"
    assert "hello/helm/hello/templates/service.yaml" in str(info.value)
    assert str(tmp_path) not in str(info.value)
