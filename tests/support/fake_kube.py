"""A fake Kubernetes API server that speaks the REST protocol the official client uses.

No kube-apiserver can be installed here (docs/targets.md), so the Kubernetes adapter is tested
against this: the shared test HTTP server (tests/support/httpserver.py) on 127.0.0.1, port 0,
with TCP_NODELAY (without it every keep-alive call stalls 40 ms on Nagle + delayed ACK),
running in a thread.

What it keeps like the real thing, because the adapter's correctness depends on it:
* resourceVersion on every write (one global counter), 409 Conflict on a stale resourceVersion
  in a replace, 409 AlreadyExists on a duplicate create, 404 for objects and namespaces that do
  not exist, Status objects as error bodies;
* `metadata.generation` bumped only when `spec` changes; `status` only written through the
  `status` subresource (deployments, jobs);
* PATCH as merge-patch, strategic-merge-patch (lists of named items merged by name), JSON
  patch (RFC 6902) and server-side apply (`application/apply-patch+yaml`, needs fieldManager);
* the `scale` subresource of deployments; pod logs; label-selector lists;
* ownerReference garbage collection on delete (a Job's pods, a ConfigMap owned by a Job).

A toy controller thread moves deployment status to the spec after `rollout_delay` seconds
(unless stalled) and completes Jobs as `job_handler` decides, creating a pod with logs.
`requests` records every call; `inject()` makes the next N calls to a path fail.
"""
from __future__ import annotations

import copy
import fnmatch
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.support.httpserver import LocalHTTPServer, QuietHandler
from tests.support.waiting import wait_until


@dataclass(frozen=True)
class Resource:
    group: str          # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", namespaced=False),
    Resource("", "v1", "services", "Service"),
    Resource("", "v1", "configmaps", "ConfigMap"),
    Resource("", "v1", "secrets", "Secret"),
    Resource("", "v1", "pods", "Pod", status_subresource=True),
    Resource("", "v1", "serviceaccounts", "ServiceAccount"),
    Resource("apps", "v1", "deployments", "Deployment", status_subresource=True),
    Resource("apps", "v1", "statefulsets", "StatefulSet", status_subresource=True),
    Resource("batch", "v1", "jobs", "Job", status_subresource=True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress", status_subresource=True),
    Resource("batch", "v1", "cronjobs", "CronJob", status_subresource=True),
    Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", status_subresource=True),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", status_subresource=True),
]
_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: Any


@dataclass
class JobOutcome:
    """What the toy controller does with a Job: succeed or fail, and the pod's log."""
    succeeded: bool = True
    logs: str = ""
    exit_code: int | None = None     # default: 0 when succeeded, else 1


@dataclass
class _Fault:
    method: str | None
    path: str
    status: int
    remaining: int


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> dict:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and value != [] and all(isinstance(v, dict) and "name" in v for v in value)


def strategic_merge(target: Any, patch: Any) -> Any:
    """Merge patch, except that lists of named items (containers, env, ports) merge by name.

    That is the part of Kubernetes' strategic merge the adapter relies on; `$patch`
    directives and other merge keys are not modelled.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif _named_list(value) and _named_list(out.get(key)):
            merged = {item["name"]: item for item in copy.deepcopy(out[key])}
            order = [item["name"] for item in out[key]]
            for item in value:
                if item["name"] in merged:
                    merged[item["name"]] = strategic_merge(merged[item["name"]], item)
                else:
                    merged[item["name"]] = copy.deepcopy(item)
                    order.append(item["name"])
            out[key] = [merged[n] for n in order]
        else:
            out[key] = strategic_merge(out.get(key), value)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for p in parts:
        if isinstance(doc, list):
            doc = doc[int(p)]
        elif isinstance(doc, dict):
            doc = doc[p]
        else:
            raise KeyError(p)
    return doc


def json_patch(doc: Any, ops: list[dict]) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        parts = _pointer(op.get("path", ""))
        try:
            if kind == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise ApiError(422, "Invalid", f"test operation failed at {op['path']}")
                continue
            if kind in ("move", "copy"):
                src = _pointer(op["from"])
                value = copy.deepcopy(_walk(doc, src))
                if kind == "move":
                    parent = _walk(doc, src[:-1])
                    parent.pop(int(src[-1]) if isinstance(parent, list) else src[-1])
                kind, op = "add", {"value": value}
            if not parts:
                if kind in ("add", "replace"):
                    doc = copy.deepcopy(op["value"])
                    continue
                raise ApiError(422, "Invalid", "cannot remove the whole document")
            parent = _walk(doc, parts[:-1])
            last = parts[-1]
            if kind == "add":
                if isinstance(parent, list):
                    parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(op["value"]))
                else:
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "replace":
                if isinstance(parent, list):
                    parent[int(last)] = copy.deepcopy(op["value"])
                else:
                    if last not in parent:
                        raise KeyError(last)
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                if isinstance(parent, list):
                    parent.pop(int(last))
                else:
                    del parent[last]
            else:
                raise ApiError(400, "BadRequest", f"unknown JSON patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, "Invalid", f"JSON patch path {op.get('path')!r} does not exist") from None
    return doc


def _selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Equality-based label selectors (`a=b,c!=d,e`), the kind list calls use."""
    if not selector:
        return True
    for term in selector.split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class FakeKube:
    """The server and its state. Use as a context manager or call start()/stop()."""

    def __init__(self, *, rollout_delay: float = 0.0, job_delay: float = 0.0, tick: float = 0.005,
                 token: str = "fake-token"):
        self.rollout_delay = rollout_delay
        self.job_delay = job_delay
        self.tick = tick
        self.token = token
        self.requests: list[Recorded] = []
        self.job_handler: Callable[[dict], JobOutcome | None] = lambda job: JobOutcome()
        # RBAC: None allows everything; else (method, raw path) -> None or a Forbidden message
        # (see tests/support/rbac.py). Server-side apply that creates an object also needs `create`.
        self.authorize: Callable[[str, str], str | None] | None = None
        self.stalled: set[tuple[str, str]] = set()   # (namespace, deployment) never rolls out
        self.stall_all = False
        self._objects: dict[tuple[str, str, str | None, str], dict] = {}
        self._logs: dict[tuple[str, str], str] = {}
        self._spec_changed: dict[tuple[str, str], float] = {}
        self._job_seen: dict[tuple[str, str], float] = {}
        self._job_outcomes: dict[tuple[str, str], JobOutcome | None] = {}
        self._faults: list[_Fault] = []
        self._rv = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._server: LocalHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return self._server.base_url

    def start(self) -> FakeKube:
        self._server = LocalHTTPServer(_make_handler(self), name="fake-kube-http").start()
        ctrl = threading.Thread(target=self._controller_loop, name="fake-kube-controller", daemon=True)
        self._threads = [ctrl]
        ctrl.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.stop()
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- test helpers ----------------------------------------------------------------------

    def inject(self, path: str, status: int = 409, count: int = 1, method: str | None = None) -> None:
        """The next `count` requests whose path matches `path` (fnmatch) answer `status`."""
        with self._lock:
            self._faults.append(_Fault(method.upper() if method else None, path, status, count))

    def seed(self, obj: dict) -> dict:
        """Create an object directly (namespaces, secrets) as if someone else had."""
        res = self._resource_for_kind(obj["apiVersion"], obj["kind"])
        ns = obj.get("metadata", {}).get("namespace") if res.namespaced else None
        with self._lock:
            return copy.deepcopy(self._create(res, ns, copy.deepcopy(obj)))

    def get(self, plural: str, namespace: str | None, name: str) -> dict | None:
        res = next(r for r in RESOURCES if r.plural == plural)
        with self._lock:
            obj = self._objects.get((res.group, plural, namespace if res.namespaced else None, name))
            return copy.deepcopy(obj) if obj else None

    def list(self, plural: str, namespace: str | None = None) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(o) for (g, p, ns, _), o in sorted(self._objects.items(), key=lambda kv: str(kv[0]))
                    if p == plural and (namespace is None or ns == namespace)]

    def calls(self, method: str | None = None, path_glob: str = "*") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method.upper()) and fnmatch.fnmatchcase(r.path, path_glob)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str | None = None) -> bool:
        """Wait (bounded) until `predicate` holds; fails naming `what` and the last value."""
        return bool(wait_until(predicate, timeout, 0.005, what))

    # ---- request handling ------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        ctype = (headers.get("content-type") or "").split(";")[0].strip() or None
        parsed: Any = None
        if body:
            try:
                parsed = yaml.safe_load(body) if ctype == "application/apply-patch+yaml" else json.loads(body)
            except (ValueError, yaml.YAMLError):
                parsed = None
        with self._lock:
            self.requests.append(Recorded(method, path, query, ctype, copy.deepcopy(parsed)))
            fault = self._take_fault(method, path)
        if fault is not None:
            reason = {409: "Conflict", 500: "InternalError", 503: "ServiceUnavailable",
                      429: "TooManyRequests"}.get(fault, "Error")
            return self._error(ApiError(fault, reason, f"injected {fault} for {path}"))
        if headers.get("authorization") != f"Bearer {self.token}":
            return self._error(ApiError(401, "Unauthorized", "Unauthorized"))
        if self.authorize is not None:           # like the real server: authorization before routing
            denied = self.authorize(method, raw_path)
            if denied is not None:
                return self._error(ApiError(403, "Forbidden", denied))
        try:
            if body and parsed is None:
                raise ApiError(400, "BadRequest", "request body is not valid JSON/YAML")
            if path == "/version":
                return self._json(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake"})
            res, ns, name, sub = self._route(path)
            if self.authorize is not None and method == "PATCH" and ctype == "application/apply-patch+yaml":
                with self._lock:
                    exists = (res.group, res.plural, ns, name) in self._objects
                denied = None if exists else self.authorize("POST", path.rsplit("/", 1)[0])
                if denied is not None:
                    return self._error(ApiError(403, "Forbidden", denied))
            with self._lock:
                code, payload = self._dispatch(method, res, ns, name, sub, query, ctype, parsed)
            if isinstance(payload, str):
                return code, "text/plain; charset=utf-8", payload.encode()
            return self._json(code, payload)
        except ApiError as exc:
            return self._error(exc)

    def _take_fault(self, method: str, path: str) -> int | None:
        for fault in self._faults:
            if fault.remaining > 0 and (fault.method in (None, method)) and fnmatch.fnmatchcase(path, fault.path):
                fault.remaining -= 1
                return fault.status
        return None

    @staticmethod
    def _json(code: int, payload: Any) -> tuple[int, str, bytes]:
        return code, "application/json", json.dumps(payload).encode()

    def _error(self, exc: ApiError) -> tuple[int, str, bytes]:
        return self._json(exc.code, exc.status())

    def _route(self, path: str) -> tuple[Resource, str | None, str | None, str | None]:
        segs = [s for s in path.split("/") if s]
        if segs[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", segs[2:]
        elif len(segs) >= 3 and segs[0] == "apis":
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in _BY_PATH:
            ns, rest = rest[1], rest[2:]      # /namespaces/{ns}/{plural}/...
        if not rest or (group, version, rest[0]) not in _BY_PATH:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
        res = _BY_PATH[(group, version, rest[0])]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3 or (res.namespaced and ns is None and name is not None):
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
        return res, ns, name, sub

    def _dispatch(self, method, res, ns, name, sub, query, ctype, body):
        if name is None:
            if method == "GET":
                return 200, self._list(res, ns, query.get("labelSelector"))
            if method == "POST":
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "body must be an object")
                self._check_kind(res, body)
                return 201, self._create(res, ns, body)
            raise ApiError(405, "MethodNotAllowed", f"{method} not allowed on a collection")
        key = (res.group, res.plural, ns, name)
        if sub == "log":
            if res.plural != "pods" or method != "GET":
                raise ApiError(404, "NotFound", "no such subresource")
            self._must_get(res, key)
            text = self._logs.get((ns, name), "")
            if query.get("tailLines"):
                lines = text.splitlines(keepends=True)
                text = "".join(lines[-int(query["tailLines"]):])
            if query.get("limitBytes"):           # the real server keeps the first bytes
                text = text.encode()[:int(query["limitBytes"])].decode("utf-8", "ignore")
            return 200, text
        if sub == "scale":
            if res.plural not in ("deployments", "statefulsets"):
                raise ApiError(404, "NotFound", "no such subresource")
            return self._scale(method, res, key, ctype, body, query)
        if sub not in (None, "status"):
            raise ApiError(404, "NotFound", f"no subresource {sub!r}")
        if method == "GET":
            return 200, copy.deepcopy(self._must_get(res, key))
        if method == "DELETE":
            obj = self._must_get(res, key)
            self._delete(key)
            if res.plural in ("jobs",):
                return 200, copy.deepcopy(obj)
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "details": {"name": name, "kind": res.plural, "uid": obj["metadata"]["uid"]}}
        if method == "PUT":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "body must be an object")
            self._check_kind(res, body)
            if (body.get("metadata") or {}).get("name") != name:
                raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
            current = self._must_get(res, key)
            self._check_rv(res, current, body)
            return 200, self._update(res, key, current, body, status_only=(sub == "status"))
        if method == "PATCH":
            if ctype == "application/apply-patch+yaml":
                return self._apply(res, ns, name, key, body, query)
            current = self._must_get(res, key)
            patched = self._patched(current, ctype, body)
            if (patched.get("metadata") or {}).get("resourceVersion") not in (None, current["metadata"]["resourceVersion"]):
                self._check_rv(res, current, patched)
            return 200, self._update(res, key, current, patched, status_only=(sub == "status"))
        raise ApiError(405, "MethodNotAllowed", f"{method} not allowed")

    def _patched(self, current: dict, ctype: str | None, body: Any) -> dict:
        if ctype == "application/merge-patch+json":
            return merge_patch(current, body)
        if ctype == "application/strategic-merge-patch+json":
            return strategic_merge(current, body)
        if ctype == "application/json-patch+json":
            if not isinstance(body, list):
                raise ApiError(400, "BadRequest", "JSON patch body must be a list")
            return json_patch(current, body)
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {ctype}")

    def _apply(self, res, ns, name, key, body, query):
        manager = query.get("fieldManager")
        if not manager:
            raise ApiError(400, "BadRequest", "PATCH is not supported with apply: fieldManager is required")
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "apply body must be an object")
        self._check_kind(res, body)
        if (body.get("metadata") or {}).get("name") != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        current = self._objects.get(key)
        if current is None:
            obj = self._create(res, ns, copy.deepcopy(body), manager=manager)
            return 201, obj
        merged = strategic_merge(current, {k: v for k, v in body.items() if k != "status"})
        merged["metadata"]["managedFields"] = self._managed(current, manager)
        return 200, self._update(res, key, current, merged, status_only=False)

    @staticmethod
    def _managed(current: dict | None, manager: str) -> list[dict]:
        entries = [m for m in (current or {}).get("metadata", {}).get("managedFields", []) if m.get("manager") != manager]
        entries.append({"manager": manager, "operation": "Apply", "apiVersion": "v1", "time": _now()})
        return entries

    def _scale(self, method, res, key, ctype, body, query):
        dep = self._must_get(res, key)
        if method == "GET":
            return 200, self._scale_of(dep)
        if method not in ("PUT", "PATCH"):
            raise ApiError(405, "MethodNotAllowed", f"{method} not allowed on scale")
        if method == "PUT":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "body must be a Scale")
            self._check_rv(res, dep, body)
            new = body
        else:
            new = self._patched(self._scale_of(dep), ctype, body)
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", "spec.replicas must be a non-negative integer")
        updated = copy.deepcopy(dep)
        updated["spec"]["replicas"] = replicas
        self._update(res, key, dep, updated, status_only=False)
        return 200, self._scale_of(self._objects[key])

    @staticmethod
    def _scale_of(dep: dict) -> dict:
        meta = dep["metadata"]
        labels = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
                "spec": {"replicas": dep["spec"].get("replicas", 1)},
                "status": {"replicas": (dep.get("status") or {}).get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))}}

    # ---- storage ---------------------------------------------------------------------------

    def _resource_for_kind(self, api_version: str, kind: str) -> Resource:
        for r in RESOURCES:
            if r.kind == kind and r.api_version == api_version:
                return r
        raise ValueError(f"unknown kind {api_version}/{kind}")

    @staticmethod
    def _check_kind(res: Resource, body: dict) -> None:
        kind, api = body.get("kind"), body.get("apiVersion")
        if kind is not None and kind != res.kind or api is not None and api != res.api_version:
            raise ApiError(400, "BadRequest", f"the API version in the data ({api}) does not match the expected "
                                              f"API version ({res.api_version}) or kind {kind} != {res.kind}")

    def _must_get(self, res: Resource, key) -> dict:
        obj = self._objects.get(key)
        if obj is None:
            group = f".{res.group}" if res.group else ""
            raise ApiError(404, "NotFound", f'{res.plural}{group} "{key[3]}" not found')
        return obj

    @staticmethod
    def _check_rv(res: Resource, current: dict, body: dict) -> None:
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            group = f".{res.group}" if res.group else ""
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.plural}{group} '
                                            f'"{current["metadata"]["name"]}": the object has been modified; '
                                            f"please apply your changes to the latest version and try again")

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _list(self, res: Resource, ns: str | None, selector: str | None) -> dict:
        items = [copy.deepcopy(o) for (g, p, n, _), o in sorted(self._objects.items(), key=lambda kv: str(kv[0]))
                 if g == res.group and p == res.plural and (ns is None or n == ns)
                 and _selector_matches(selector, (o.get("metadata") or {}).get("labels") or {})]
        for item in items:   # list items carry no kind/apiVersion in the real API either
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(self._rv)}, "items": items}

    def _create(self, res: Resource, ns: str | None, body: dict, manager: str | None = None) -> dict:
        meta = body.setdefault("metadata", {}) or {}
        body["metadata"] = meta
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise ApiError(422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value")
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", meta["name"]) or len(meta["name"]) > 253:
            raise ApiError(422, "Invalid", f"{res.kind} {meta['name']!r} is invalid: metadata.name must be a DNS subdomain")
        if res.namespaced:
            if meta.get("namespace") not in (None, ns):
                raise ApiError(400, "BadRequest", "the namespace of the object does not match the namespace on the URL")
            if ns is None:
                raise ApiError(400, "BadRequest", "a namespaced resource needs a namespace")
            if ("", "namespaces", None, ns) not in self._objects:
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found')
            meta["namespace"] = ns
        key = (res.group, res.plural, ns if res.namespaced else None, meta["name"])
        if key in self._objects:
            group = f".{res.group}" if res.group else ""
            raise ApiError(409, "AlreadyExists", f'{res.plural}{group} "{meta["name"]}" already exists')
        body["kind"], body["apiVersion"] = res.kind, res.api_version
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["resourceVersion"] = self._next_rv()
        if manager:
            meta["managedFields"] = self._managed(None, manager)
        if "spec" in body or res.plural in ("deployments", "jobs"):
            meta["generation"] = 1
        if res.plural == "deployments":
            body.setdefault("spec", {}).setdefault("replicas", 1)
        if res.status_subresource:
            body["status"] = {}
        if res.plural == "namespaces":
            body["status"] = {"phase": "Active"}
        self._objects[key] = body
        if res.plural in ("deployments", "statefulsets"):
            self._spec_changed[(ns, meta["name"])] = time.monotonic()
        if res.plural == "jobs":
            self._job_seen[(ns, meta["name"])] = time.monotonic()
            self._job_outcomes.pop((ns, meta["name"]), None)
        return copy.deepcopy(body)

    def _update(self, res: Resource, key, current: dict, new: dict, *, status_only: bool) -> dict:
        new = copy.deepcopy(new)
        if status_only:
            obj = copy.deepcopy(current)
            obj["status"] = new.get("status") or {}
        else:
            obj = new
            if res.status_subresource:
                obj["status"] = copy.deepcopy(current.get("status") or {})
            keep = current["metadata"]
            meta = obj.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "namespace", "name"):
                if k in keep:
                    meta[k] = keep[k]
            if "managedFields" not in meta and "managedFields" in keep:
                meta["managedFields"] = keep["managedFields"]
            if "generation" in keep:
                spec_changed = obj.get("spec") != current.get("spec")
                meta["generation"] = keep["generation"] + (1 if spec_changed else 0)
                if spec_changed and res.plural in ("deployments", "statefulsets"):
                    self._spec_changed[(key[2], key[3])] = time.monotonic()
            else:
                meta.pop("generation", None)
        obj["kind"], obj["apiVersion"] = res.kind, res.api_version
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._objects[key] = obj
        return copy.deepcopy(obj)

    def _delete(self, key) -> None:
        obj = self._objects.pop(key, None)
        if obj is None:
            return
        if key[1] == "namespaces":
            for other in [k for k in self._objects if k[2] == key[3]]:
                self._objects.pop(other, None)
        uid = obj["metadata"]["uid"]
        for other_key, other in list(self._objects.items()):
            owners = (other.get("metadata") or {}).get("ownerReferences") or []
            if any(o.get("uid") == uid for o in owners):
                self._delete(other_key)
        self._logs.pop((key[2], key[3]), None)

    # ---- toy controller --------------------------------------------------------------------

    def _controller_loop(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                now = time.monotonic()
                for key, obj in list(self._objects.items()):
                    if key[1] in ("deployments", "statefulsets"):
                        self._reconcile_deployment(key, obj, now)
                    elif key[1] == "jobs":
                        self._reconcile_job(key, obj, now)

    def _reconcile_deployment(self, key, obj, now: float) -> None:
        ns, name = key[2], key[3]
        if self.stall_all or (ns, name) in self.stalled:
            return
        if now - self._spec_changed.get((ns, name), 0.0) < self.rollout_delay:
            return
        replicas = obj["spec"].get("replicas", 1)
        status = obj.get("status") or {}
        want = {"observedGeneration": obj["metadata"].get("generation", 1), "replicas": replicas,
                "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
        if all(status.get(k) == v for k, v in want.items()):
            return
        status = {**status, **want, "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
        obj["status"] = status
        obj["metadata"]["resourceVersion"] = self._next_rv()

    def _reconcile_job(self, key, obj, now: float) -> None:
        ns, name = key[2], key[3]
        status = obj.get("status") or {}
        if status.get("conditions") or now - self._job_seen.get((ns, name), now) < self.job_delay:
            return
        if "startTime" not in status:
            status["startTime"] = _now()
            status["active"] = 1
            obj["status"] = status
        if (ns, name) not in self._job_outcomes:      # the handler decides once per job
            self._job_outcomes[(ns, name)] = self.job_handler(copy.deepcopy(obj))
        outcome = self._job_outcomes[(ns, name)]
        if outcome is None:            # the job runs until its deadline (or forever)
            deadline = (obj.get("spec") or {}).get("activeDeadlineSeconds")
            if deadline is not None and now - self._job_seen[(ns, name)] >= deadline:
                obj["status"] = {"startTime": status["startTime"], "failed": 1, "conditions": [
                    {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                     "message": "Job was active longer than specified deadline"}]}
                obj["metadata"]["resourceVersion"] = self._next_rv()
            return
        pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
        template = ((obj.get("spec") or {}).get("template") or {})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pod_name, "namespace": ns,
                            "labels": {**((template.get("metadata") or {}).get("labels") or {}),
                                       "job-name": name, "batch.kubernetes.io/job-name": name,
                                       "controller-uid": obj["metadata"]["uid"]},
                            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                                 "uid": obj["metadata"]["uid"], "controller": True}]},
               "spec": copy.deepcopy(template.get("spec") or {})}
        self._create(_BY_PATH[("", "v1", "pods")], ns, pod)
        code = outcome.exit_code if outcome.exit_code is not None else (0 if outcome.succeeded else 1)
        containers = (pod["spec"].get("containers") or [{"name": "main"}])
        self._objects[("", "pods", ns, pod_name)]["status"] = {
            "phase": "Succeeded" if outcome.succeeded else "Failed",
            "containerStatuses": [{"name": containers[0].get("name", "main"), "ready": False, "restartCount": 0,
                                   "image": containers[0].get("image", ""), "imageID": "",
                                   "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0
                                                            else "Error"}}}]}
        self._logs[(ns, pod_name)] = outcome.logs
        done = {"startTime": status["startTime"], "completionTime": _now()}
        if outcome.succeeded:
            done.update({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
        else:
            done.update({"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                                                      "reason": "BackoffLimitExceeded",
                                                      "message": "Job has reached the specified backoff limit"}]})
        obj["status"] = done
        obj["metadata"]["resourceVersion"] = self._next_rv()


def _make_handler(fake: FakeKube):
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.read_body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            code, ctype, payload = fake.handle(self.command, self.path, headers, body)
            self.reply(code, payload, ctype)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
