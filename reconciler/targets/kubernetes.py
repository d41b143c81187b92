"""The `kubernetes` target: server-side apply of `<service>/k8s/*.yaml`, rollout wait, scale.

Namespace per stage: `spec.stages.<stage>.kubernetes.namespace` in reconciler.yaml, else
`<project>-<stage>` (Keptn's convention), created when missing. Every object is applied with
`fieldManager: reconciler` (or the stage's `fieldManager`) and force, after `manifests.prepare`
put the image and replicaCount from values.yaml into the service's Deployment. Then every
applied Deployment must finish its rollout within `rolloutTimeout`.

Objects carry `reconciler.sh/service=<service>` labels, which is how scale, status and
undeploy find them again without any state on our side. Scaling goes through the Deployment's
`scale` subresource, read-modify-replace with the resourceVersion, retried on 409.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from reconciler.kube import resources
from reconciler.kube.apply import apply_object, ensure_namespace
from reconciler.kube.client import Kube, KubeAccess, KubeError, NotFound
from reconciler.kube.conflict import with_retries
from reconciler.kube.rollout import RolloutFailed, RolloutTimeout, rollout_state, scale_deployment, wait_for_rollout
from reconciler.spec.settings import Settings
from reconciler.targets import bluegreen, inventory
from reconciler.targets.base import (
    BLUE_GREEN,
    DeploymentFailed,
    DeployRequest,
    DeployResult,
    FailureKind,
    ReplicaStatus,
    ServiceStatus,
    TargetBase,
    TargetContext,
)
from reconciler.targets.charts import chart_manifests, find_chart
from reconciler.targets.manifests import (
    LABEL_PROJECT,
    LABEL_SERVICE,
    LABEL_STAGE,
    MANAGED_BY,
    load_manifests,
    prepare,
    service_urls,
)

UNDEPLOY_KINDS = ("Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "Ingress",
                  "ServiceAccount", "Job", "CronJob", "HorizontalPodAutoscaler", "PodDisruptionBudget")


class KubernetesTarget(TargetBase):
    def __init__(self, kube: Kube, settings: Settings | None = None, *, poll_interval: float = 0.5,
                 attempts: int = 5):
        self.kube = kube
        self.settings = settings or Settings()
        self.poll_interval = poll_interval
        self.attempts = attempts
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def configure(self, settings: Settings) -> None:
        """Take a new reconciler.yaml (namespaces and timeouts apply from the next call)."""
        self.settings = settings

    def namespace(self, stage: str, project: str | None = None) -> str:
        return self.settings.stage(stage).kubernetes.namespace or f"{project or self.settings.project}-{stage}"

    def _lock(self, stage: str, service: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((stage, service), threading.Lock())

    # ---- the DeploymentTarget protocol -----------------------------------------------------

    def deploy(self, request: DeployRequest) -> DeployResult:
        conf = self.settings.stage(request.stage).kubernetes
        namespace = self.namespace(request.stage, request.project)
        chart = find_chart(request.service_dir, request.service)
        if chart is not None:       # a Keptn service's Helm chart: its templates place image and replicas
            manifests = chart_manifests(request.service_dir, request.service, request.values, namespace=namespace,
                                        chart=chart)
            image, replicas = None, None
        else:
            manifests = load_manifests(request.service_dir, request.service)
            image = request.image
            replicas = request.replica_count if "replicaCount" in request.values else None
        prepared = prepare(manifests, namespace=namespace, project=request.project, stage=request.stage,
                           service=request.service, commit=request.commit, image=image, replicas=replicas)
        if request.strategy == BLUE_GREEN:
            return self._deploy_beside(request, namespace, prepared)
        with self._lock(request.stage, request.service):
            self._api(lambda: ensure_namespace(self.kube, namespace, field_manager=conf.fieldManager),
                      f"namespace {namespace}")
            applied = []
            for manifest, obj in prepared:
                applied.append(self._api(
                    lambda obj=obj: apply_object(self.kube, obj, namespace=namespace, field_manager=conf.fieldManager),
                    manifest.where))
            deployments = [o for o in applied if o.get("kind") == "Deployment"]
            for dep in deployments:
                self._wait(namespace, dep["metadata"]["name"], conf.rolloutTimeout)
            pruned = self._prune_and_record(request, namespace, applied, conf.fieldManager)
        names = [d["metadata"]["name"] for d in deployments]
        desired = sum(rollout_state(d).desired for d in deployments)
        return DeployResult(
            deployment_uris_local=service_urls(applied, namespace),
            deployment_names=names,
            message=(f"applied {len(applied)} object(s) of {request.service} at {request.commit[:8]} into "
                     f"namespace {namespace}; rollout of {', '.join(names) or 'no deployment'} complete"
                     + (f"; pruned {', '.join(pruned)} (no longer in the manifests)" if pruned else "")),
            commit=request.commit, replicas=desired)

    def release(self, stage: str, service: str) -> str | None:
        """Blue/green: point the service's Services at the new color, delete the other
        Deployments. Returns what happened, None when nothing runs beside the released version."""
        namespace = self.namespace(stage)
        with self._lock(stage, service):
            services = self._services(namespace, service)
            live = bluegreen.live_color(services, service)
            candidates = [d for d in self._api(lambda: self._deployments(namespace, service), "listing deployments")
                          if (d["metadata"].get("labels") or {}).get(bluegreen.LABEL_COLOR) not in (None, live)]
            if not candidates:
                return None
            color = candidates[0]["metadata"]["labels"][bluegreen.LABEL_COLOR]
            self._switch(namespace, services, service, color)
            removed = self._delete_other_deployments(namespace, service, color)
        return (f"switched the Service selector of {service} in {namespace} to {color}; deleted "
                f"{', '.join(removed) or 'no other deployment'}")

    def discard(self, stage: str, service: str) -> bool:
        """Blue/green: delete the new Deployment beside the released one (rollback)."""
        namespace = self.namespace(stage)
        with self._lock(stage, service):
            live = bluegreen.live_color(self._services(namespace, service), service)
            if live is None:
                return False
            deps = self._api(lambda: self._deployments(namespace, service), "listing deployments")
            candidates = [d for d in deps if (d["metadata"].get("labels") or {}).get(bluegreen.LABEL_COLOR)
                          not in (None, live)]
            for dep in candidates:
                self._delete(resources.DEPLOYMENT.path(namespace, dep["metadata"]["name"]))
        return bool(candidates)

    def scale(self, stage: str, service: str, replicas: int) -> ServiceStatus:
        if replicas < 0:
            raise DeploymentFailed("manifest-invalid", f"cannot scale {service} in {stage} to {replicas} replicas")
        namespace = self.namespace(stage)
        with self._lock(stage, service):
            name = self._service_deployment(namespace, stage, service)
            self._api(lambda: scale_deployment(self.kube, namespace, name, replicas, attempts=self.attempts),
                      f"scale of deployment {name} in namespace {namespace}")
            self._wait(namespace, name, self.settings.stage(stage).kubernetes.rolloutTimeout)
        return self.status(stage, service)

    def undeploy(self, stage: str, service: str) -> None:
        namespace = self.namespace(stage)
        selector = f"{LABEL_SERVICE}={service},{MANAGED_BY}=reconciler"
        with self._lock(stage, service):
            for kind in resources.known_namespaced_kinds():
                if kind.kind not in UNDEPLOY_KINDS:
                    continue
                try:
                    # B023 here and below: with_retries calls the lambda at once, inside this iteration
                    items = with_retries(lambda: self.kube.list(kind.collection(namespace), selector))  # noqa: B023
                except NotFound:
                    continue
                except KubeError as exc:
                    raise DeploymentFailed("api-error", f"listing {kind.plural} in {namespace}: {exc}") from None
                for item in items:
                    path = kind.path(namespace, item["metadata"]["name"])
                    try:
                        with_retries(lambda: self.kube.delete(path))  # noqa: B023
                    except NotFound:
                        pass
                    except KubeError as exc:
                        raise DeploymentFailed("api-error", f"deleting {path}: {exc}") from None

    def status(self, stage: str, service: str) -> ServiceStatus:
        namespace = self.namespace(stage)
        try:
            deps = self._deployments(namespace, service)
        except NotFound:
            deps = []
        if not deps:
            return ServiceStatus(stage, service, deployed=False, message=f"no deployment in {namespace}")
        dep = next((d for d in deps if d["metadata"]["name"] == service), deps[0])
        state = rollout_state(dep)
        annotations = dep["metadata"].get("annotations") or {}
        containers = (((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
        container = next((c for c in containers if c.get("name") == service), containers[0])
        return ServiceStatus(
            stage, service, deployed=True, commit=annotations.get("reconciler.sh/commit", ""),
            image=container.get("image"), desired=state.desired, ready=state.available,
            replicas=[ReplicaStatus(name=f"{state.name}", ready=state.done)],
            message=state.describe())

    def close(self) -> None:
        self.kube.close()

    # ---- internals -------------------------------------------------------------------------

    def _deploy_beside(self, request: DeployRequest, namespace: str, prepared) -> DeployResult:
        conf = self.settings.stage(request.stage).kubernetes
        with self._lock(request.stage, request.service):
            self._api(lambda: ensure_namespace(self.kube, namespace, field_manager=conf.fieldManager),
                      f"namespace {namespace}")
            live = bluegreen.live_color(self._services(namespace, request.service), request.service)
            color = bluegreen.next_color(live)
            # a version left beside the live one by an earlier run is replaced, never kept
            for dep in self._api(lambda: self._deployments(namespace, request.service), "listing deployments"):
                if (dep["metadata"].get("labels") or {}).get(bluegreen.LABEL_COLOR) == color:
                    self._delete(resources.DEPLOYMENT.path(namespace, dep["metadata"]["name"]))
            applied = []
            for manifest, obj in bluegreen.colored(prepared, request.service, color, live):
                applied.append(self._api(
                    lambda obj=obj: apply_object(self.kube, obj, namespace=namespace, field_manager=conf.fieldManager),
                    manifest.where))
            deployments = [o for o in applied if o.get("kind") == "Deployment"]
            for dep in deployments:
                self._wait(namespace, dep["metadata"]["name"], conf.rolloutTimeout)
            if live is None:       # the first blue/green deployment: nothing to keep beside, released at once
                self._delete_other_deployments(namespace, request.service, color)
            # the colors' Deployments come and go through release and rollback, not the inventory
            self._prune_and_record(request, namespace, applied, conf.fieldManager, keep_colored=True)
        names = [d["metadata"]["name"] for d in deployments]
        preview = [o for o in applied if o["metadata"]["name"] == f"{request.service}{bluegreen.PREVIEW_SUFFIX}"]
        public = [o for o in applied if o.get("kind") == "Service" and o not in preview]
        where = f"beside {live}" if live else "released at once (nothing ran before)"
        return DeployResult(
            deployment_uris_local=service_urls(preview, namespace) or service_urls(applied, namespace),
            deployment_uris_public=service_urls(public, namespace),
            deployment_names=names,
            message=(f"applied {len(applied)} object(s) of {request.service} at {request.commit[:8]} into namespace "
                     f"{namespace} as color {color}, {where} (blue/green); rollout of {', '.join(names)} complete"),
            commit=request.commit, replicas=sum(rollout_state(d).desired for d in deployments))

    def _prune_and_record(self, request: DeployRequest, namespace: str, applied: list[dict], field_manager: str,
                          *, keep_colored: bool = False) -> list[str]:
        """Delete what the previous version applied and this one did not, then record this one."""
        path = resources.CONFIGMAP.path(namespace, inventory.name_for(request.service))
        try:
            previous = inventory.entries_of(with_retries(lambda: self.kube.get(path)))
        except NotFound:
            previous = []
        except KubeError as exc:
            raise DeploymentFailed("api-error", f"reading the inventory {path}: {exc}") from None
        current = []
        for obj in applied:
            kind = resources.kind_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            current.append(inventory.entry(obj, namespace if kind.namespaced else None))
        pruned = []
        for stale in inventory.stale(previous, current):
            api_version, kind_name, ns, name = inventory.parse(stale)
            if keep_colored and kind_name == "Deployment" and name.endswith(
                    tuple(f"-{c}" for c in bluegreen.COLORS)):
                current.append(stale)
                continue
            self._delete(resources.kind_of(api_version, kind_name).path(ns, name))
            pruned.append(f"{kind_name} {name}")
        labels = {MANAGED_BY: "reconciler", LABEL_PROJECT: request.project, LABEL_STAGE: request.stage,
                  LABEL_SERVICE: request.service}
        self._api(lambda: apply_object(self.kube, inventory.document(request.service, namespace, current, labels),
                                       namespace=namespace, field_manager=field_manager),
                  f"recording the inventory {path}")
        return pruned

    def _services(self, namespace: str, service: str) -> list[dict]:
        selector = f"{LABEL_SERVICE}={service},{MANAGED_BY}=reconciler"
        try:
            return with_retries(lambda: self.kube.list(resources.SERVICE.collection(namespace), selector))
        except NotFound:
            return []
        except KubeError as exc:
            raise DeploymentFailed("api-error", f"listing services in {namespace}: {exc}") from None

    def _switch(self, namespace: str, services: list[dict], service: str, color: str) -> None:
        for svc in services:
            name = svc["metadata"]["name"]
            selector = (svc.get("spec") or {}).get("selector") or {}
            if name == f"{service}{bluegreen.PREVIEW_SUFFIX}" or bluegreen.LABEL_COLOR not in selector:
                continue
            path = resources.SERVICE.path(namespace, name)
            body = {"spec": {"selector": {bluegreen.LABEL_COLOR: color}}}
            self._api(lambda path=path, body=body: with_retries(lambda: self.kube.patch(path, body)),
                      f"switching Service {name} to {color}")

    def _delete_other_deployments(self, namespace: str, service: str, color: str) -> list[str]:
        removed = []
        for dep in self._api(lambda: self._deployments(namespace, service), "listing deployments"):
            if (dep["metadata"].get("labels") or {}).get(bluegreen.LABEL_COLOR) != color:
                self._delete(resources.DEPLOYMENT.path(namespace, dep["metadata"]["name"]))
                removed.append(dep["metadata"]["name"])
        return removed

    def _delete(self, path: str) -> None:
        try:
            with_retries(lambda: self.kube.delete(path))
        except NotFound:
            pass
        except KubeError as exc:
            raise DeploymentFailed("api-error", f"deleting {path}: {exc}") from None

    def _deployments(self, namespace: str, service: str) -> list[dict]:
        selector = f"{LABEL_SERVICE}={service},{MANAGED_BY}=reconciler"
        return with_retries(lambda: self.kube.list(resources.DEPLOYMENT.collection(namespace), selector))

    def _service_deployment(self, namespace: str, stage: str, service: str) -> str:
        try:
            deps = self._deployments(namespace, service)
        except KubeError as exc:
            raise DeploymentFailed("api-error", f"listing deployments in {namespace}: {exc}") from None
        names = [d["metadata"]["name"] for d in deps]
        if service in names:
            return service
        if len(names) == 1:
            return names[0]
        if not names:
            raise DeploymentFailed("not-deployed", f"{service} has no deployment in namespace {namespace} "
                                                   f"(stage {stage}); deploy it first")
        raise DeploymentFailed("manifest-invalid", f"{service} has several deployments in {namespace} "
                                                   f"({', '.join(names)}) and none is named {service!r}")

    def _wait(self, namespace: str, name: str, timeout: float) -> None:
        try:
            wait_for_rollout(self.kube, namespace, name, timeout, interval=self.poll_interval)
        except RolloutTimeout as exc:
            raise DeploymentFailed("rollout-timeout", str(exc)) from None
        except RolloutFailed as exc:
            raise DeploymentFailed("rollout-failed", str(exc)) from None
        except KubeError as exc:
            raise DeploymentFailed("api-error", f"waiting for deployment {name} in {namespace}: {exc}") from None

    def _api(self, call: Callable, what: str):
        try:
            return call()
        except KubeError as exc:
            kind: FailureKind = "manifest-invalid" if exc.status in (400, 422) else "api-error"
            raise DeploymentFailed(kind, f"{what}: {exc}") from None


def create(context: TargetContext) -> KubernetesTarget:
    """`target: kubernetes`: the cluster of the environment's kubeconfig or service account."""
    return KubernetesTarget(Kube.connect(KubeAccess.from_env(context.environ)), context.settings())
