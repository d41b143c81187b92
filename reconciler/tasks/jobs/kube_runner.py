"""Run a job task as a Kubernetes Job (what the job-executor-service does).

One Job per task, named from (context, event id, action, task) so a controller that restarts
and runs the same event again finds the Job it already created and waits for it instead of
starting a second one. `backoffLimit: 0`, `ttlSecondsAfterFinished` as JES (default 6 h, at
least 60 s), so finished Jobs are deleted by the cluster; a Job that outlives `maxPollDuration`
is deleted by us, and `activeDeadlineSeconds` (that timeout + 30 s) backs this up when the
reconciler is gone. `files` travel in a ConfigMap owned by the Job, mounted read-only at
`/keptn` (JES copies them into a writable emptyDir with an init container; no init image is
needed here).

Secrets are real Secrets: `valueFrom: secret` becomes `envFrom: secretRef`, and `$(KEY)` of a
secret key in cmd/args is left for the kubelet, so secret values never appear in the Job
object. The runner reads the Secret (as JES does) to fail early when it is missing and to know
the values it must redact from the pod logs. Everything else is expanded here and escaped for
the kubelet, so both runners expand `$(VAR)` identically.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
import time
from pathlib import Path
from typing import Any

from reconciler.engine.events import iso_time
from reconciler.kube import resources
from reconciler.kube.client import AlreadyExists, Kube, KubeError, NotFound
from reconciler.kube.conflict import with_retries
from reconciler.kube.jobs import delete_job, job_logs, wait_for_job
from reconciler.tasks.jobs.files import FilesError, collect_files
from reconciler.tasks.jobs.output import capture
from reconciler.tasks.jobs.plan import (
    TAINTED_SOURCES,
    PlanError,
    TaskPlan,
    check_kubelet_injection,
    kube_env_value,
    render_kubelet,
)
from reconciler.tasks.jobs.redact import Redactor
from reconciler.tasks.jobs.result import TaskOutcome

log = logging.getLogger("reconciler.tasks.jobs")

FILES_MOUNT = "/keptn"
MAX_FILES_BYTES = 900 * 1024        # a ConfigMap holds at most 1 MiB
DEADLINE_GRACE = 30                 # the cluster's own deadline backs ours up, if we are gone


def job_name(plan: TaskPlan) -> str:
    digest = hashlib.sha1(f"{plan.context}/{plan.event_id}/{plan.action_index}".encode()).hexdigest()[:12]
    return f"reconciler-job-{digest}-{plan.task_index}"


def tail_lines(max_output_bytes: int) -> int:
    """How many log lines to fetch: enough to fill the output bound with short lines."""
    return max(200, max_output_bytes // 20)


def label_value(text: str) -> str:
    return re.sub(r"[^-A-Za-z0-9_.]+", "_", text)[:63].strip("-_.")


class KubernetesJobRunner:
    def __init__(self, kube: Kube, *, namespace: str = "default", poll_interval: float = 1.0,
                 service_account: str | None = None, allow_privileged: bool = False):
        self.kube = kube
        self.namespace = namespace
        self.poll_interval = poll_interval
        self.service_account = service_account
        self.allow_privileged = allow_privileged     # JES: privileged jobs are refused unless allowed

    def run(self, plan: TaskPlan, service_dir: Path) -> TaskOutcome:
        started = iso_time(time.time())
        namespace = plan.namespace or self.namespace
        redactor = Redactor()
        try:
            secrets = {name: self._secret(namespace, name) for name in plan.secrets}
            redactor = Redactor(v for keys in secrets.values() for v in keys.values())
            if not plan.image:
                raise PlanError("image is required to run a task as a Kubernetes Job")
            if plan.security_context.get("privileged") and not self.allow_privileged:
                raise PlanError("privileged containers are not allowed (securityContext.privileged: true)")
            plain: dict[str, str] = {}
            sources: dict[str, str] = {}
            for e in plan.env:
                if e.source != "secret":
                    plain.pop(e.name, None)             # keep the final value, in its final position
                    plain[e.name], sources[e.name] = e.value, e.source
            secret_keys = frozenset(k for keys in secrets.values() for k in keys if k not in plain)
            values = {**{k: v for keys in secrets.values() for k, v in keys.items()}, **plain}
            tainted = frozenset(n for n, s in sources.items() if s in TAINTED_SOURCES)
            check_kubelet_injection(plan.cmd, plan.args, values, tainted)
            files = collect_files(service_dir, plan.files)
            body, config_map = self._manifests(plan, namespace, plain, secret_keys, files)
        except (PlanError, FilesError, KubeError) as exc:
            return self._refused(plan, redactor.text(str(exc)), started)

        name = body["metadata"]["name"]
        try:
            self._create(namespace, body, config_map)
        except KubeError as exc:
            return self._refused(plan, redactor.text(f"could not create job {name} in {namespace}: {exc}"), started)
        log.info("job %r task %r: kubernetes job %s/%s", plan.action, plan.task, namespace, name)
        try:
            state = wait_for_job(self.kube, namespace, name, plan.timeout, interval=self.poll_interval)
            try:
                logs = job_logs(self.kube, namespace, name, tail_lines=tail_lines(plan.max_output_bytes))
            except KubeError as exc:
                logs = f"(pod logs unavailable: {exc})"
            exit_code = self._exit_code(namespace, name)
        except KubeError as exc:
            return self._refused(plan, redactor.text(f"lost track of job {name}: {exc}"), started)
        output, truncated = capture(logs, plan.max_output_bytes, redactor)
        timed_out = not state.finished or state.reason == "DeadlineExceeded"
        if not state.finished:
            delete_job(self.kube, namespace, name)
            message = (f"task {plan.task!r} (job {name}) timed out after {plan.timeout:g}s (maxPollDuration); "
                       "job deleted")
        elif state.succeeded:
            message = f"task {plan.task!r} (job {name}) completed"
        else:
            message = f"task {plan.task!r} (job {name}) failed: {state.reason} {state.message}".rstrip()
        return TaskOutcome(plan.task, succeeded=state.succeeded, exit_code=exit_code, output=output,
                           message=redactor.text(message), started=started, finished=iso_time(time.time()),
                           timed_out=timed_out, truncated=truncated)

    # ---- internals -------------------------------------------------------------------------

    def _secret(self, namespace: str, name: str) -> dict[str, str]:
        try:
            secret = with_retries(lambda: self.kube.get(resources.SECRET.path(namespace, name)))
        except NotFound:
            raise PlanError(f"secret {name!r} not found in namespace {namespace}") from None
        out = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (secret.get("data") or {}).items()}
        out.update({k: str(v) for k, v in (secret.get("stringData") or {}).items()})
        return out

    def _manifests(self, plan: TaskPlan, namespace: str, plain: dict[str, str], secret_keys: frozenset[str],
                   files: list[tuple[str, Path]]) -> tuple[dict, dict | None]:
        name = job_name(plan)
        labels = {
            "app.kubernetes.io/managed-by": "reconciler",
            "keptn.sh/context": label_value(plan.context),
            "keptn.sh/event-id": label_value(plan.event_id),
            "keptn.sh/jes-action": label_value(plan.action),
            "keptn.sh/jes-task": label_value(plan.task),
            "keptn.sh/jes-action-index": str(plan.action_index),
            "keptn.sh/jes-task-index": str(plan.task_index),
        }
        container: dict[str, Any] = {
            "name": "task",
            "image": plan.image,
            "env": [{"name": k, "value": kube_env_value(v)} for k, v in plain.items()],
            "volumeMounts": [{"name": "keptn-files", "mountPath": FILES_MOUNT}],
        }
        if plan.cmd:
            container["command"] = render_kubelet(plan.cmd, plain, secret_keys)
        if plan.args:
            container["args"] = render_kubelet(plan.args, plain, secret_keys)
        if plan.secrets:
            container["envFrom"] = [{"secretRef": {"name": s}} for s in dict.fromkeys(plan.secrets)]
        if plan.working_dir:
            container["workingDir"] = plan.working_dir
        if plan.image_pull_policy:
            container["imagePullPolicy"] = plan.image_pull_policy
        if plan.security_context:
            container["securityContext"] = dict(plan.security_context)
        if plan.resources is not None:
            container["resources"] = {part: {k: v for k, v in (plan.resources.get(part) or {}).items() if v}
                                      for part in ("limits", "requests")}
        config_map = None
        if files:
            total = sum(src.stat().st_size for _, src in files)
            if total > MAX_FILES_BYTES:
                raise PlanError(f"files of task {plan.task!r} are {total} bytes; a Kubernetes Job can receive at "
                                f"most {MAX_FILES_BYTES} (they travel in a ConfigMap)")
            config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": f"{name}-files", "labels": labels},
                          "binaryData": {f"f{i}": base64.b64encode(src.read_bytes()).decode()
                                         for i, (_, src) in enumerate(files)}}
            volume = {"name": "keptn-files", "configMap": {
                "name": f"{name}-files", "items": [{"key": f"f{i}", "path": rel} for i, (rel, _) in enumerate(files)]}}
        else:
            volume = {"name": "keptn-files", "emptyDir": {}}
        pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container], "volumes": [volume]}
        account = plan.service_account or self.service_account
        if account:
            pod_spec["serviceAccountName"] = account
        body = {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": name, "namespace": namespace, "labels": labels,
                             "annotations": dict(plan.annotations)},
                "spec": {"backoffLimit": 0, "activeDeadlineSeconds": math.ceil(plan.timeout) + DEADLINE_GRACE,
                         "ttlSecondsAfterFinished": plan.ttl_seconds,
                         "template": {"metadata": {"labels": {"app.kubernetes.io/managed-by": "reconciler",
                                                              "keptn.sh/context": labels["keptn.sh/context"]}},
                                      "spec": pod_spec}}}
        return body, config_map

    def _create(self, namespace: str, body: dict, config_map: dict | None) -> None:
        if config_map is not None:
            try:
                with_retries(lambda: self.kube.create(resources.CONFIGMAP.collection(namespace), config_map))
            except AlreadyExists:
                pass                         # same name, same content: from an earlier attempt
        try:
            job = with_retries(lambda: self.kube.create(resources.JOB.collection(namespace), body))
        except AlreadyExists:
            log.info("job %s/%s exists already; waiting for it", namespace, body["metadata"]["name"])
            return
        if config_map is not None:           # let the cluster delete the files with the Job
            owner = [{"apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"],
                      "uid": job["metadata"]["uid"], "blockOwnerDeletion": False}]
            with_retries(lambda: self.kube.patch(resources.CONFIGMAP.path(namespace, config_map["metadata"]["name"]),
                                                 {"metadata": {"ownerReferences": owner}}))

    def _exit_code(self, namespace: str, name: str) -> int | None:
        try:
            pods = self.kube.list(resources.POD.collection(namespace), f"job-name={name}")
        except KubeError:
            return None
        for pod in pods:
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                terminated = (status.get("state") or {}).get("terminated") or {}
                if "exitCode" in terminated:
                    return int(terminated["exitCode"])
        return None

    @staticmethod
    def _refused(plan: TaskPlan, message: str, started: str) -> TaskOutcome:
        log.warning("job %r task %r not run: %s", plan.action, plan.task, message)
        return TaskOutcome(plan.task, succeeded=False, exit_code=None, output="", message=message,
                           started=started, finished=iso_time(time.time()))
