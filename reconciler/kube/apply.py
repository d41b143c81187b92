"""Server-side apply of manifests, and the namespace they go into.

Server-side apply (`fieldManager`, `force`) makes a deploy idempotent without our keeping the
last-applied state: the API server merges what we own and leaves fields other managers set
(an HPA's replicas, a mesh's injected sidecar) alone. `force` takes ownership of fields a
human changed with kubectl, which is what GitOps means: the repository wins.
"""
from __future__ import annotations

from reconciler.kube import resources
from reconciler.kube.client import Kube, KubeError, NotFound
from reconciler.kube.conflict import with_retries


def apply_object(kube: Kube, obj: dict, *, namespace: str | None, field_manager: str,
                 force: bool = True) -> dict:
    """Apply one object (its namespace set to `namespace` if the kind is namespaced)."""
    kind = resources.kind_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    name = str((obj.get("metadata") or {}).get("name", ""))
    ns = namespace if kind.namespaced else None
    body = dict(obj)
    if kind.namespaced:
        body["metadata"] = {**(obj.get("metadata") or {}), "namespace": ns}
    path = kind.path(ns, name)
    return with_retries(lambda: kube.apply(path, body, field_manager=field_manager, force=force))


def ensure_namespace(kube: Kube, name: str, *, field_manager: str) -> bool:
    """Create the namespace if it is missing; True if it was created.

    A 403 on the read means we may not look at namespaces; then we assume it exists (a
    cluster admin created it) and let the first namespaced write tell the truth.
    """
    try:
        with_retries(lambda: kube.get(resources.NAMESPACE.path(None, name)))
        return False
    except NotFound:
        pass
    except KubeError as exc:
        if exc.status == 403:
            return False
        raise
    apply_object(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                 namespace=None, field_manager=field_manager)
    return True
