"""Connecting to a cluster with the official client, and talking REST in plain dicts.

Connection order (`connect`): an explicit API URL (+ token) — what tests and out-of-cluster
setups use — then the in-cluster service account when running in a pod, then kubeconfig.
Credentials only ever come from arguments or the environment:
`RECONCILER_KUBE_URL`, `RECONCILER_KUBE_TOKEN`, `RECONCILER_KUBE_CA_FILE`,
`RECONCILER_KUBE_INSECURE=1`, `KUBECONFIG`.

`Kube` sends requests through the official `ApiClient` (its auth, TLS and connection pool)
but takes and returns plain dicts: the reconciler applies arbitrary manifests from a config
repo, and dicts keep that honest without a generated model per kind. API errors become
`KubeError` subclasses that carry the HTTP status and Kubernetes' reason.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


class KubeError(Exception):
    """An API call failed; `status` is the HTTP status (0: no answer), `reason` Kubernetes' reason."""

    def __init__(self, status: int, reason: str, message: str, method: str = "", path: str = ""):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.method, self.path = method, path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        return f"{where}{self.status} {self.reason}: {self.message}"


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    """409 because the object changed since it was read (stale resourceVersion): re-read and retry."""


class AlreadyExists(KubeError):
    """409 on create: an object of that name exists."""


def error_for(status: int, body: Any, method: str = "", path: str = "") -> KubeError:
    reason, message = "", ""
    if isinstance(body, dict):
        reason = str(body.get("reason") or "")
        message = str(body.get("message") or "")
    message = message or (body if isinstance(body, str) else "") or f"HTTP {status}"
    if status == 404:
        return NotFound(status, reason or "NotFound", message, method, path)
    if status == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
        return cls(status, reason or "Conflict", message, method, path)
    return KubeError(status, reason or "Error", message, method, path)


@dataclass(frozen=True)
class KubeAccess:
    """Where the API server is. All fields optional; see `connect` for the order."""

    url: str | None = None
    token: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    kubeconfig: str | None = None
    context: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> KubeAccess:
        return cls(url=environ.get("RECONCILER_KUBE_URL") or None,
                   token=environ.get("RECONCILER_KUBE_TOKEN") or None,
                   ca_file=environ.get("RECONCILER_KUBE_CA_FILE") or None,
                   insecure=environ.get("RECONCILER_KUBE_INSECURE") == "1",
                   kubeconfig=environ.get("KUBECONFIG") or None)


def connect(access: KubeAccess | None = None, environ: Mapping[str, str] = os.environ):
    """An official `kubernetes.client.ApiClient` for `access` (default: from the environment)."""
    from kubernetes import client, config

    access = access or KubeAccess.from_env(environ)
    if access.url:
        conf = client.Configuration()
        conf.host = access.url.rstrip("/")
        if access.token:
            conf.api_key = {"BearerToken": access.token}
            conf.api_key_prefix = {"BearerToken": "Bearer"}
        if access.ca_file:
            conf.ssl_ca_cert = access.ca_file
        conf.verify_ssl = not access.insecure
        return client.ApiClient(conf)
    if environ.get("KUBERNETES_SERVICE_HOST") and IN_CLUSTER_TOKEN.exists():
        conf = client.Configuration()
        config.load_incluster_config(client_configuration=conf)
        return client.ApiClient(conf)
    try:
        return config.new_client_from_config(config_file=access.kubeconfig, context=access.context)
    except (config.ConfigException, OSError) as exc:
        raise KubeError(0, "NoConfiguration",
                        f"no Kubernetes cluster configured ({exc}); set RECONCILER_KUBE_URL and "
                        "RECONCILER_KUBE_TOKEN, run in a pod, or provide a kubeconfig") from None


class Kube:
    """REST calls on dicts through an official ApiClient (thread-safe: urllib3 pool)."""

    def __init__(self, api_client, *, request_timeout: float = 30.0):
        self.api_client = api_client
        self.request_timeout = request_timeout

    @classmethod
    def connect(cls, access: KubeAccess | None = None, **kwargs) -> Kube:
        return cls(connect(access), **kwargs)

    def close(self) -> None:
        self.api_client.close()

    def request(self, method: str, path: str, *, body: Any = None, query: Mapping[str, Any] | None = None,
                content_type: str = "application/json", accept: str = "application/json") -> Any:
        """One call; returns the decoded JSON (or text), raises KubeError on a non-2xx answer."""
        import urllib3

        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        params = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        method_, url, headers_, body_, post = self.api_client.param_serialize(
            method=method, resource_path=path, query_params=params, header_params=headers,
            body=body, auth_settings=["BearerToken"])
        try:
            resp = self.api_client.call_api(method_, url, headers_, body_, post,
                                            _request_timeout=self.request_timeout)
            raw = resp.read()
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError(0, "Unavailable", f"cannot reach the API server: {exc}", method, path) from None
        text = raw.decode("utf-8", "replace") if raw else ""
        ctype = (resp.headers.get("content-type") or "").lower()
        try:
            data: Any = json.loads(text) if text and "json" in ctype else text
        except ValueError:
            data = text
        if not 200 <= resp.status <= 299:
            raise error_for(resp.status, data, method, path)
        return data

    def get(self, path: str) -> dict:
        return self.request("GET", path)

    def list(self, path: str, label_selector: str | None = None) -> list[dict]:
        return list(self.request("GET", path, query={"labelSelector": label_selector}).get("items") or [])

    def create(self, path: str, body: dict) -> dict:
        return self.request("POST", path, body=body)

    def replace(self, path: str, body: dict) -> dict:
        return self.request("PUT", path, body=body)

    def patch(self, path: str, body: Any, content_type: str = "application/merge-patch+json") -> dict:
        return self.request("PATCH", path, body=body, content_type=content_type)

    def apply(self, path: str, body: dict, *, field_manager: str, force: bool = True) -> dict:
        """Server-side apply (JSON is valid YAML, so the body goes as JSON)."""
        return self.request("PATCH", path, body=body, content_type="application/apply-patch+yaml",
                            query={"fieldManager": field_manager, "force": force})

    def delete(self, path: str, *, propagation: str | None = "Background") -> Any:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation} if propagation else None
        return self.request("DELETE", path, body=body)

    def text(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        data = self.request("GET", path, query=query, accept="*/*")
        return data if isinstance(data, str) else json.dumps(data)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
