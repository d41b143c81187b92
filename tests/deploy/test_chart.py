"""The install chart renders with the real Helm engine, every object is valid for Kubernetes,
its command is one serve accepts, and the plain manifests are its rendering."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from reconciler.cli.serve import command as serve_command
from reconciler.helm import ChartError, render

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "reconciler"
REPO = "https://git.example.com/team/config.git"
# The oldest Kubernetes we support and the newest the schemas know (kubernetes-validate ships both).
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

# ServiceMonitor is the Prometheus Operator's CRD, not in Kubernetes' OpenAPI: the fields we
# set, as the operator's API reference describes them.
SERVICE_MONITOR = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "spec": {"type": "object", "required": ["selector", "endpoints"], "additionalProperties": False, "properties": {
            "selector": {"type": "object", "properties": {
                "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
            "endpoints": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "properties": {
                    "port": {"type": "string"}, "path": {"type": "string"},
                    "interval": {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?"
                                                              "(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}}}}}}}}

EVERYTHING = {"repo": REPO, "replicaCount": 3, "ingress": {"enabled": True, "className": "nginx",
              "tlsSecretName": "reconciler-tls"}, "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
              "podDisruptionBudget": {"enabled": True}, "secrets": {"existingSecret": "reconciler-secrets",
              "env": [{"name": "RECONCILER_GIT_SSH_KEY", "secretName": "git-ssh", "key": "id_ed25519"}],
              "files": [{"name": "RECONCILER_FORGE_TOKEN", "secretName": "forge", "key": "token"},
                        {"name": "RECONCILER_ALERTMANAGER_TOKEN", "secretName": "forge", "key": "alerts"}]},
              "extraEnv": [{"name": "RECONCILER_PROMETHEUS_URL", "value": "http://prometheus:9090"}],
              "rbac": {"deployNamespaces": ["shop-dev", "shop-prod"], "jobNamespaces": ["shop-jobs"]}}


def validate(obj: dict) -> None:
    if obj["kind"] == "ServiceMonitor":
        jsonschema.validate(obj, SERVICE_MONITOR)
        return
    for version in VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


@pytest.mark.parametrize("values", [{"repo": REPO}, EVERYTHING, {"repo": REPO, "persistence": {"enabled": False},
                                                                 "rbac": {"clusterWide": True}}],
                         ids=["defaults", "everything", "cluster-wide"])
def test_every_rendered_object_is_valid_for_kubernetes(values):
    objects = render(CHART, values, release="reconciler", namespace="ops")
    assert objects
    for obj in objects:
        validate(obj)


def test_the_validator_catches_a_wrong_field():
    sts = by_kind(render(CHART, {"repo": REPO}, release="r", namespace="ops"), "StatefulSet")[0]
    sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pth"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(sts)


def test_defaults_one_replica_work_dir_on_a_volume_probes_and_no_lease():
    objects = render(CHART, {"repo": REPO}, release="reconciler", namespace="ops")
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == ["Role", "RoleBinding", "Service", "ServiceAccount", "StatefulSet"]
    sts = by_kind(objects, "StatefulSet")[0]
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["/usr/bin/tini", "--", "reconciler", "serve"]
    assert "--lease" not in container["args"]
    assert {"name": "work", "mountPath": "/var/lib/reconciler"} in container["volumeMounts"]
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "work"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["serviceAccountName"] == "reconciler"
    assert not by_kind(objects, "ClusterRole") and not by_kind(objects, "ClusterRoleBinding")
    assert {r["metadata"]["namespace"] for r in by_kind(objects, "Role")} == {"ops"}     # namespaced by default


def test_replicas_above_one_run_with_the_lease_and_secrets_come_from_existing_secrets():
    objects = render(CHART, EVERYTHING, release="reconciler", namespace="ops")
    container = by_kind(objects, "StatefulSet")[0]["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--lease") + 1] == "ops/reconciler"
    lease_role = next(r for r in by_kind(objects, "Role") if r["metadata"]["name"] == "reconciler-lease")
    assert lease_role["metadata"]["namespace"] == "ops"
    assert container["envFrom"] == [{"secretRef": {"name": "reconciler-secrets"}}]
    assert container["env"][0]["valueFrom"] == {"secretKeyRef": {"name": "git-ssh", "key": "id_ed25519"}}
    # Secrets as files: RECONCILER_<NAME>_FILE points into one read-only mount per Secret
    assert {"name": "RECONCILER_FORGE_TOKEN_FILE", "value": "/var/run/secrets/reconciler/forge/token"} in container["env"]
    pod = by_kind(objects, "StatefulSet")[0]["spec"]["template"]["spec"]
    assert [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v] == ["forge"]
    assert {"name": "secret-forge", "mountPath": "/var/run/secrets/reconciler/forge", "readOnly": True} \
        in container["volumeMounts"]
    assert {(r["metadata"]["name"], r["metadata"]["namespace"]) for r in by_kind(objects, "Role")} == {
        ("reconciler-lease", "ops"), ("reconciler-deploy", "shop-dev"), ("reconciler-deploy", "shop-prod"),
        ("reconciler-jobs", "shop-jobs")}
    assert by_kind(objects, "PodDisruptionBudget")[0]["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert by_kind(objects, "Ingress")[0]["spec"]["tls"][0]["secretName"] == "reconciler-tls"
    assert not any("value" in e and "TOKEN" in e["name"] and not e["name"].endswith("_FILE")
               for e in container["env"])                        # no secret values inline


def test_the_rendered_command_is_one_serve_accepts():
    objects = render(CHART, EVERYTHING, release="reconciler", namespace="ops")
    args = by_kind(objects, "StatefulSet")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    ctx = serve_command.make_context("serve", list(args))
    assert ctx.params["repo"] == REPO and ctx.params["lease"] == "ops/reconciler"
    assert ctx.params["log_format"] == "json" and str(ctx.params["workdir"]) == "/var/lib/reconciler"


def test_a_missing_repo_is_an_error_naming_the_template_line():
    with pytest.raises(ChartError) as caught:
        render(CHART, {}, release="r", namespace="ops")
    assert caught.value.file == str(CHART / "templates" / "statefulset.yaml")
    line = (CHART / "templates" / "statefulset.yaml").read_text().splitlines()[caught.value.line - 1]
    assert "required" in line and "repo is required" in str(caught.value)


def test_plain_manifests_are_the_charts_rendering():
    spec = importlib.util.spec_from_file_location("render_manifests", ROOT / "deploy" / "render_manifests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "deploy" / "manifests" / "reconciler.yaml").read_text()
    assert committed == module.rendered(), "deploy/manifests/reconciler.yaml is stale: run `make manifests`"
    for obj in yaml.safe_load_all(committed):
        validate(obj)


def test_helms_own_linter_finds_nothing_but_information():
    import helm_python
    report = helm_python.lint(str(CHART), {"repo": REPO}, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []     # 1 = info ("icon is recommended")
