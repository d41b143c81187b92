"""reconciler.kube against the fake API server: apply, rollout, scale, conflicts, jobs."""
from __future__ import annotations

import pytest

from reconciler.kube import resources
from reconciler.kube.apply import apply_object, ensure_namespace
from reconciler.kube.client import AlreadyExists, Conflict, Kube, KubeAccess, KubeError, NotFound, connect
from reconciler.kube.conflict import with_retries
from reconciler.kube.jobs import create_job, delete_job, job_logs, job_state, wait_for_job
from reconciler.kube.rollout import (
    RolloutFailed,
    RolloutTimeout,
    read_scale,
    rollout_state,
    scale_deployment,
    wait_for_rollout,
)
from tests.support.fake_kube import JobOutcome


def deployment(name="hello", replicas=2, image="hello:1"):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}}}}


def test_server_side_apply_is_idempotent_and_bumps_generation_only_on_change(fake_kube, kube, namespace):
    first = apply_object(kube, deployment(), namespace=namespace, field_manager="reconciler")
    again = apply_object(kube, deployment(), namespace=namespace, field_manager="reconciler")
    changed = apply_object(kube, deployment(image="hello:2"), namespace=namespace, field_manager="reconciler")

    assert first["metadata"]["generation"] == again["metadata"]["generation"] == 1
    assert changed["metadata"]["generation"] == 2
    applies = fake_kube.calls("PATCH", "/apis/apps/v1/namespaces/shop-dev/deployments/hello")
    assert len(applies) == 3
    assert {a.content_type for a in applies} == {"application/apply-patch+yaml"}
    assert applies[0].query == {"fieldManager": "reconciler", "force": "true"}
    assert applies[0].body["metadata"]["namespace"] == "shop-dev"
    assert changed["metadata"]["managedFields"][0]["manager"] == "reconciler"


def test_ensure_namespace_creates_only_when_missing(fake_kube, kube):
    assert ensure_namespace(kube, "shop-prod", field_manager="reconciler") is True
    assert ensure_namespace(kube, "shop-prod", field_manager="reconciler") is False
    assert fake_kube.get("namespaces", None, "shop-prod") is not None


def test_scale_retries_conflicts_with_a_fresh_read(fake_kube, kube, namespace):
    apply_object(kube, deployment(), namespace=namespace, field_manager="reconciler")
    scale_path = "/apis/apps/v1/namespaces/shop-dev/deployments/hello/scale"
    fake_kube.inject(scale_path, status=409, count=2, method="PUT")

    scale_deployment(kube, namespace, "hello", 5)

    assert read_scale(kube, namespace, "hello") == 5
    methods = [r.method for r in fake_kube.calls(path_glob=scale_path)]
    assert methods[:6] == ["GET", "PUT", "GET", "PUT", "GET", "PUT"]     # each retry reads again
    assert fake_kube.get("deployments", namespace, "hello")["spec"]["replicas"] == 5


def test_conflict_retries_are_bounded(fake_kube, kube, namespace):
    apply_object(kube, deployment(), namespace=namespace, field_manager="reconciler")
    scale_path = "/apis/apps/v1/namespaces/shop-dev/deployments/hello/scale"
    fake_kube.inject(scale_path, status=409, count=100, method="PUT")
    with pytest.raises(Conflict):
        scale_deployment(kube, namespace, "hello", 5, attempts=3)
    assert len(fake_kube.calls("PUT", scale_path)) == 3
    assert fake_kube.get("deployments", namespace, "hello")["spec"]["replicas"] == 2


def test_transient_errors_are_retried_but_already_exists_is_not(fake_kube, kube, namespace):
    fake_kube.inject("/api/v1/namespaces/shop-dev/configmaps", status=503, count=1)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    path = resources.CONFIGMAP.collection(namespace)
    with_retries(lambda: kube.create(path, body), sleep=lambda s: None)
    calls = []

    def create():
        calls.append(1)
        return kube.create(path, body)

    with pytest.raises(AlreadyExists):
        with_retries(create, sleep=lambda s: None)
    assert len(calls) == 1


def test_rollout_wait_returns_once_the_controller_caught_up(fake_kube, kube, namespace):
    fake_kube.rollout_delay = 0.1
    apply_object(kube, deployment(replicas=3), namespace=namespace, field_manager="reconciler")
    state = wait_for_rollout(kube, namespace, "hello", timeout=10, interval=0.02)
    assert state.done and state.available == 3 and state.observed_generation == 1


def test_rollout_wait_times_out_on_a_stalled_rollout(fake_kube, kube, namespace):
    fake_kube.stalled.add((namespace, "hello"))
    apply_object(kube, deployment(replicas=3), namespace=namespace, field_manager="reconciler")
    with pytest.raises(RolloutTimeout) as err:
        wait_for_rollout(kube, namespace, "hello", timeout=0.2, interval=0.02)
    assert "did not finish within 0.2s" in str(err.value)
    assert "updated 0/3, available 0/3" in str(err.value)


def test_progress_deadline_exceeded_fails_the_rollout_early(fake_kube, kube, namespace):
    fake_kube.stall_all = True
    apply_object(kube, deployment(), namespace=namespace, field_manager="reconciler")
    kube.patch(resources.DEPLOYMENT.path(namespace, "hello", "status"), {"status": {"conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}})
    with pytest.raises(RolloutFailed):
        wait_for_rollout(kube, namespace, "hello", timeout=30, interval=0.02)


def test_rollout_state_is_read_like_kubectl_rollout_status():
    dep = deployment(replicas=2)
    dep["metadata"]["generation"] = 3
    dep["status"] = {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}
    assert not rollout_state(dep).done                  # an old replica is still there
    dep["status"]["replicas"] = 2
    assert rollout_state(dep).done
    dep["status"]["observedGeneration"] = 2
    assert not rollout_state(dep).done


def test_jobs_run_to_completion_with_logs_and_are_deleted(fake_kube, kube, namespace):
    fake_kube.job_handler = lambda job: JobOutcome(succeeded=True, logs="all good\n")
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "t1"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}
    create_job(kube, namespace, body)
    state = wait_for_job(kube, namespace, "t1", timeout=10, interval=0.02)
    assert state.finished and state.succeeded
    assert job_logs(kube, namespace, "t1") == "all good\n"
    assert delete_job(kube, namespace, "t1") is True
    assert delete_job(kube, namespace, "t1") is False


def test_job_wait_reports_timeouts_and_failures(fake_kube, kube, namespace):
    fake_kube.job_handler = lambda job: None            # never finishes
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "slow"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}
    create_job(kube, namespace, body)
    state = wait_for_job(kube, namespace, "slow", timeout=0.1, interval=0.02)
    assert not state.finished and state.reason == "Timeout"
    assert job_state({"metadata": {"name": "x"}, "status": {"conditions": [
        {"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}}).reason == "DeadlineExceeded"


def test_errors_are_typed_and_name_the_call(kube, namespace):
    with pytest.raises(NotFound) as err:
        kube.get(resources.DEPLOYMENT.path(namespace, "nope"))
    assert "GET /apis/apps/v1/namespaces/shop-dev/deployments/nope: 404" in str(err.value)


def test_unreachable_server_is_a_kube_error_not_a_traceback():
    kube = Kube.connect(KubeAccess(url="http://127.0.0.1:9", token="t"), request_timeout=2)
    kube.api_client.configuration.retries = 0
    try:
        with pytest.raises(KubeError) as err:
            kube.get("/version")
        assert err.value.status == 0
    finally:
        kube.close()


def test_connection_settings_come_from_the_environment(tmp_path):
    access = KubeAccess.from_env({"RECONCILER_KUBE_URL": "https://k:6443", "RECONCILER_KUBE_TOKEN": "tok",
                                  "RECONCILER_KUBE_INSECURE": "1"})
    assert (access.url, access.token, access.insecure) == ("https://k:6443", "tok", True)
    api = connect(access)
    try:
        assert api.configuration.host == "https://k:6443" and api.configuration.verify_ssl is False
        assert api.configuration.auth_settings()["BearerToken"]["value"] == "Bearer tok"
    finally:
        api.close()
    with pytest.raises(KubeError) as err:
        connect(KubeAccess(kubeconfig=str(tmp_path / "missing")), environ={})
    assert "RECONCILER_KUBE_URL" in str(err.value)


def test_kind_paths():
    assert resources.kind_of("apps/v1", "Deployment").path("ns", "d", "scale") == \
        "/apis/apps/v1/namespaces/ns/deployments/d/scale"
    assert resources.kind_of("v1", "Namespace").path(None, "ns") == "/api/v1/namespaces/ns"
    assert resources.kind_of("example.com/v1", "Policy").collection("ns") == "/apis/example.com/v1/namespaces/ns/policies"
    assert resources.plural_of("Ingress") == "ingresses"
