"""`<service>/k8s/*.yaml` read and prepared for server-side apply (pure).

Preparing means: every object goes into the stage's namespace (a manifest that names another
namespace is an error, not silently moved), gets the labels that let the reconciler find it
again (`app.kubernetes.io/managed-by: reconciler`, `reconciler.sh/{project,stage,service}`)
and the deployed commit as an annotation, and the service's Deployment receives the image and
replica count from values.yaml. The service's Deployment is the one named like the service,
or the only one; its container is the one named like the service, or the only one.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.spec import yamltext
from reconciler.targets.base import DeploymentFailed

MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PROJECT = "reconciler.sh/project"
LABEL_STAGE = "reconciler.sh/stage"
LABEL_SERVICE = "reconciler.sh/service"
ANNOTATION_COMMIT = "reconciler.sh/commit"


@dataclass(frozen=True)
class Manifest:
    file: str          # e.g. `hello/k8s/deployment.yaml`
    index: int         # document number in the file, from 1
    line: int | None   # where the document starts
    obj: dict

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))

    @property
    def where(self) -> str:
        line = f":{self.line}" if self.line else ""
        return f"{self.file}{line} ({self.kind} {self.name})"


def _document_lines(text: str) -> list[int | None]:
    lines: list[int | None] = []
    try:
        for node in yaml.compose_all(text, Loader=yamltext.Loader):
            lines.append(node.start_mark.line + 1 if node is not None else None)
    except yaml.YAMLError:
        pass
    return lines


def load_manifests(service_dir: Path, service: str) -> list[Manifest]:
    """Every document of `k8s/*.yaml|*.yml` in file-name order; DeploymentFailed on anything
    that is not a Kubernetes object with apiVersion, kind and metadata.name."""
    folder = service_dir / "k8s"
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    if not files:
        raise DeploymentFailed("manifest-invalid",
                               f"{service}/k8s/ has no *.yaml manifests: the kubernetes target applies them "
                               f"(see docs/targets.md)")
    out: list[Manifest] = []
    for path in files:
        shown = f"{service}/k8s/{path.name}"
        text = path.read_text(encoding="utf-8")
        try:
            docs = yamltext.load_all(text)
        except yamltext.YamlError as exc:
            line = f":{exc.line}" if exc.line else ""
            raise DeploymentFailed("manifest-invalid", f"{shown}{line}: {exc.message}") from None
        lines = _document_lines(text)
        number = 0
        for doc in docs:
            if doc is None:
                continue
            first_line = lines[number] if number < len(lines) else None
            number += 1
            where = f"{shown}{f':{first_line}' if first_line else ''} (document {number})"
            if not isinstance(doc, dict):
                raise DeploymentFailed("manifest-invalid", f"{where}: a manifest must be a mapping")
            for field in ("apiVersion", "kind"):
                if not isinstance(doc.get(field), str) or not doc[field]:
                    raise DeploymentFailed("manifest-invalid", f"{where}: field '{field}' is required")
            meta = doc.get("metadata")
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
                raise DeploymentFailed("manifest-invalid", f"{where}: field 'metadata.name' is required")
            out.append(Manifest(shown, number, first_line, doc))
    return out


def _service_deployment(manifests: list[Manifest], service: str) -> Manifest | None:
    deployments = [m for m in manifests if m.kind == "Deployment"]
    named = [m for m in deployments if m.name == service]
    if named:
        return named[0]
    if len(deployments) == 1:
        return deployments[0]
    if deployments:
        names = ", ".join(m.name for m in deployments)
        raise DeploymentFailed("manifest-invalid",
                               f"{service}/k8s/ has several Deployments ({names}) and none is named {service!r}: "
                               f"name the one that gets the image and replicaCount from values.yaml {service!r}")
    return None


def _set_image(dep: dict, where: str, service: str, image: str) -> None:
    containers = (((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers:
        raise DeploymentFailed("manifest-invalid", f"{where}: field 'spec.template.spec.containers' is required")
    named = [c for c in containers if isinstance(c, dict) and c.get("name") == service]
    if named:
        named[0]["image"] = image
    elif len(containers) == 1 and isinstance(containers[0], dict):
        containers[0]["image"] = image
    else:
        names = ", ".join(str(c.get("name")) for c in containers if isinstance(c, dict))
        raise DeploymentFailed("manifest-invalid",
                               f"{where}: containers {names}; name one {service!r} so the image from "
                               f"values.yaml has a place")


def prepare(manifests: list[Manifest], *, namespace: str, project: str, stage: str, service: str,
            commit: str, image: str | None, replicas: int | None) -> list[tuple[Manifest, dict]]:
    """The objects to apply, each with the manifest it came from."""
    primary = _service_deployment(manifests, service) if image or replicas is not None else None
    out = []
    for m in manifests:
        obj: dict[str, Any] = copy.deepcopy(m.obj)
        meta = obj["metadata"]
        if meta.get("namespace") not in (None, "", namespace) and m.kind != "Namespace":
            raise DeploymentFailed("manifest-invalid",
                                   f"{m.where}: metadata.namespace is {meta['namespace']!r} but stage {stage} "
                                   f"deploys into {namespace!r}; remove the field or set "
                                   f"spec.stages.{stage}.kubernetes.namespace in reconciler.yaml")
        meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY: "reconciler", LABEL_PROJECT: project,
                          LABEL_STAGE: stage, LABEL_SERVICE: service}
        meta["annotations"] = {**(meta.get("annotations") or {}), ANNOTATION_COMMIT: commit}
        if m is primary:
            if image:
                _set_image(obj, m.where, service, image)
            if replicas is not None:
                obj.setdefault("spec", {})["replicas"] = replicas
        out.append((m, obj))
    return out


def service_urls(objects: list[dict], namespace: str) -> list[str]:
    """`http://<service>.<namespace>:<port>` for every Service object (first port)."""
    urls = []
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        ports = (obj.get("spec") or {}).get("ports") or []
        port = ports[0].get("port") if ports and isinstance(ports[0], dict) else None
        name = obj["metadata"]["name"]
        urls.append(f"http://{name}.{namespace}:{port}" if port else f"http://{name}.{namespace}")
    return urls
