"""Where a kind lives in the REST API (`/api/v1/...` or `/apis/<group>/<version>/...`).

A static table of the kinds a service folder usually holds, instead of API discovery: one
request fewer per deploy and no discovery endpoint to fake. A kind not in the table falls
back to Kubernetes' own plural rule (lower case + `s`/`es`/`ies`) and is assumed namespaced.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def base(self) -> str:
        return f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"

    def collection(self, namespace: str | None) -> str:
        if self.namespaced:
            if not namespace:
                raise ValueError(f"{self.kind} is namespaced; a namespace is required")
            return f"{self.base}/namespaces/{namespace}/{self.plural}"
        return f"{self.base}/{self.plural}"

    def path(self, namespace: str | None, name: str, subresource: str | None = None) -> str:
        out = f"{self.collection(namespace)}/{name}"
        return f"{out}/{subresource}" if subresource else out


_TABLE = [
    Kind("v1", "Namespace", "namespaces", namespaced=False),
    Kind("v1", "Service", "services"),
    Kind("v1", "ConfigMap", "configmaps"),
    Kind("v1", "Secret", "secrets"),
    Kind("v1", "Pod", "pods"),
    Kind("v1", "ServiceAccount", "serviceaccounts"),
    Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    Kind("apps/v1", "Deployment", "deployments"),
    Kind("apps/v1", "StatefulSet", "statefulsets"),
    Kind("apps/v1", "DaemonSet", "daemonsets"),
    Kind("batch/v1", "Job", "jobs"),
    Kind("batch/v1", "CronJob", "cronjobs"),
    Kind("coordination.k8s.io/v1", "Lease", "leases"),
    Kind("networking.k8s.io/v1", "Ingress", "ingresses"),
    Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
    Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    Kind("rbac.authorization.k8s.io/v1", "Role", "roles"),
    Kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    Kind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    Kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
]
_BY_KIND = {(k.api_version, k.kind): k for k in _TABLE}

NAMESPACE = _BY_KIND[("v1", "Namespace")]
DEPLOYMENT = _BY_KIND[("apps/v1", "Deployment")]
SERVICE = _BY_KIND[("v1", "Service")]
CONFIGMAP = _BY_KIND[("v1", "ConfigMap")]
SECRET = _BY_KIND[("v1", "Secret")]
POD = _BY_KIND[("v1", "Pod")]
JOB = _BY_KIND[("batch/v1", "Job")]
LEASE = _BY_KIND[("coordination.k8s.io/v1", "Lease")]


def plural_of(kind: str) -> str:
    low = kind.lower()
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and low[-2:-1] not in ("a", "e", "i", "o", "u"):
        return low[:-1] + "ies"
    return low + "s"


def kind_of(api_version: str, kind: str) -> Kind:
    """The REST location of (apiVersion, kind); unknown kinds are guessed as namespaced."""
    known = _BY_KIND.get((api_version, kind))
    return known or Kind(api_version, kind, plural_of(kind))


def known_namespaced_kinds() -> list[Kind]:
    return [k for k in _TABLE if k.namespaced]
