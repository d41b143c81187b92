"""Kubernetes RBAC, enforced by the fake API server from Role/ClusterRole objects.

`Rbac(objects, service_account=(namespace, name))` collects the rules bound to that service
account by RoleBindings (in their namespace) and ClusterRoleBindings (everywhere) among
`objects` (e.g. a rendered chart), and answers the API server's question for a request:
which verb on which resource (`pods/log`, `deployments/scale`), in which namespace, on which
name. It is what the real authorizer does for the rule forms charts use: apiGroups,
resources (with subresources), verbs, resourceNames, `*`. `used` records which rule allowed
each request, so a test can show that every rule was needed.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

READ_METHODS = {"GET": "get", "HEAD": "get"}
WRITE_METHODS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str          # with the subresource: "pods/log"
    namespace: str | None
    name: str | None


@dataclass(frozen=True)
class Grant:
    """One rule of one role, as bound: `namespace` None means every namespace (cluster-wide)."""
    role: str              # "Role ns/name" or "ClusterRole name"
    index: int
    namespace: str | None
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    names: tuple[str, ...]

    def allows(self, req: Request) -> bool:
        if self.namespace is not None and req.namespace != self.namespace:
            return False
        if "*" not in self.groups and req.group not in self.groups:
            return False
        if "*" not in self.resources and req.resource not in self.resources:
            return False
        if "*" not in self.verbs and req.verb not in self.verbs:
            return False
        return not self.names or (req.name is not None and req.name in self.names)


def request_of(method: str, raw_path: str) -> Request | None:
    """The RBAC attributes of a REST call; None for non-resource URLs (/version, /healthz)."""
    parts = urlsplit(raw_path)
    query = parse_qs(parts.query)
    segs = [s for s in parts.path.split("/") if s]
    if segs[:2] == ["api", "v1"]:
        group, rest = "", segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        group, rest = segs[1], segs[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    elif len(rest) == 2 and rest[0] == "namespaces":     # the Namespace object itself
        return Request(_verb(method, True, query), "", "namespaces", None, rest[1])
    if not rest:
        return None
    resource, name = rest[0], rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    return Request(_verb(method, name is not None, query), group, resource, namespace, name)


def _verb(method: str, named: bool, query: dict) -> str:
    if method in READ_METHODS:
        if named:
            return "get"
        return "watch" if query.get("watch", ["false"])[-1] in ("true", "1") else "list"
    if method == "DELETE" and not named:
        return "deletecollection"
    return WRITE_METHODS.get(method, method.lower())


class Rbac:
    def __init__(self, objects: list[dict], *, service_account: tuple[str, str]):
        self.namespace, self.name = service_account
        self.user = f"system:serviceaccount:{self.namespace}:{self.name}"
        roles = {(o["kind"], o["metadata"].get("namespace") if o["kind"] == "Role" else None,
                  o["metadata"]["name"]): o for o in objects if o.get("kind") in ("Role", "ClusterRole")}
        self.grants: list[Grant] = []
        for binding in objects:
            if binding.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
                continue
            if not any(s.get("kind") == "ServiceAccount" and s.get("name") == self.name
                       and s.get("namespace") == self.namespace for s in binding.get("subjects") or []):
                continue
            scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
            ref = binding["roleRef"]
            role = roles.get((ref["kind"], scope if ref["kind"] == "Role" else None, ref["name"]))
            if role is None:
                continue          # a binding to a missing role grants nothing (as in a cluster)
            label = f"{ref['kind']} {scope + '/' if ref['kind'] == 'Role' else ''}{ref['name']}"
            for index, rule in enumerate(role.get("rules") or []):
                self.grants.append(Grant(label, index, scope, tuple(rule.get("apiGroups") or ()),
                                         tuple(rule.get("resources") or ()), tuple(rule.get("verbs") or ()),
                                         tuple(rule.get("resourceNames") or ())))
        self.used: set[tuple[Grant, str, str]] = set()      # (grant, verb, resource)
        self.denied: list[Request] = []
        self._lock = threading.Lock()

    def check(self, method: str, raw_path: str) -> str | None:
        """None if allowed, else the API server's Forbidden message."""
        req = request_of(method, raw_path)
        if req is None:
            return None
        return self.check_request(req)

    def check_request(self, req: Request) -> str | None:
        for grant in self.grants:
            if grant.allows(req):
                with self._lock:
                    self.used.add((grant, req.verb, req.resource))
                return None
        with self._lock:
            self.denied.append(req)
        what = f'{req.resource}{"." + req.group if req.group else ""}'
        named = f' "{req.name}"' if req.name else ""
        scope = f' in the namespace "{req.namespace}"' if req.namespace else " at the cluster scope"
        return (f'{what}{named} is forbidden: User "{self.user}" cannot {req.verb} resource '
                f'"{req.resource}" in API group "{req.group}"{scope}')

    def unused(self) -> list[str]:
        """Verbs a rule grants that no request needed (a verb unused on every resource of the rule)."""
        out = []
        for grant in self.grants:
            for verb in grant.verbs:
                if not any(g == grant and v == verb for g, v, _ in self.used):
                    out.append(f"{grant.role} rule {grant.index}: {verb} {list(grant.resources)}")
        return out
