"""The fake API server answers the official client the way a real API server does.

These run the official typed client (not our adapter) against the fake, so the adapter's
tests rest on a fake that is checked against the client's own expectations.
"""
from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support.fake_kube import JobOutcome, json_patch, merge_patch, strategic_merge
from tests.support.waiting import wait_until


def deployment(name="hello", replicas=2, image="hello:1"):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}}}}


@pytest.fixture
def apps(kube):
    return client.AppsV1Api(kube.api_client)


@pytest.fixture
def core(kube):
    return client.CoreV1Api(kube.api_client)


def test_crud_with_resource_versions_generation_and_404(fake_kube, apps, namespace):
    created = apps.create_namespaced_deployment(namespace, deployment())
    assert created.metadata.generation == 1 and created.metadata.resource_version
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(namespace, deployment())
    assert err.value.status == 409 and "already exists" in err.value.body

    # the toy controller writes status (a new resourceVersion, as in Kubernetes): let it settle
    # first, or the replace below races it and rightly gets a 409
    read = wait_until(lambda: (d := apps.read_namespaced_deployment("hello", namespace)).status
                      and d.status.observed_generation == 1 and d, what="the deployment's status settles")
    read.metadata.labels = {"x": "y"}
    same_spec = apps.replace_namespaced_deployment("hello", namespace, read)
    assert same_spec.metadata.generation == 1                     # metadata change: no new generation
    assert int(same_spec.metadata.resource_version) > int(read.metadata.resource_version)

    read.spec.replicas = 5                                         # `read` now carries a stale version
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("hello", namespace, read)
    assert err.value.status == 409 and "the object has been modified" in err.value.body

    fresh = apps.read_namespaced_deployment("hello", namespace)
    fresh.spec.replicas = 5
    assert apps.replace_namespaced_deployment("hello", namespace, fresh).metadata.generation == 2

    assert [d.metadata.name for d in apps.list_namespaced_deployment(namespace, label_selector="x=y").items] == ["hello"]
    assert apps.list_namespaced_deployment(namespace, label_selector="x=z").items == []
    apps.delete_namespaced_deployment("hello", namespace)
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("hello", namespace)
    assert err.value.status == 404


def test_create_in_a_missing_namespace_is_404(apps):
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment("nowhere", deployment())
    assert err.value.status == 404
    assert json.loads(err.value.body)["message"] == 'namespaces "nowhere" not found'


def test_scale_subresource_and_toy_controller(fake_kube, apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment(replicas=2))
    assert fake_kube.wait_for(lambda: (fake_kube.get("deployments", namespace, "hello")["status"] or {})
                              .get("availableReplicas") == 2)
    scale = apps.read_namespaced_deployment_scale("hello", namespace)
    assert scale.spec.replicas == 2 and scale.status.selector == "app=hello"

    apps.patch_namespaced_deployment_scale("hello", namespace, {"spec": {"replicas": 4}})
    dep = apps.read_namespaced_deployment("hello", namespace)
    assert dep.spec.replicas == 4 and dep.metadata.generation == 2
    assert fake_kube.wait_for(lambda: (fake_kube.get("deployments", namespace, "hello")["status"] or {})
                              .get("observedGeneration") == 2)

    stale = apps.read_namespaced_deployment_scale("hello", namespace)
    apps.patch_namespaced_deployment("hello", namespace, {"metadata": {"labels": {"touch": "1"}}})
    stale.spec.replicas = 1
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment_scale("hello", namespace, stale)
    assert err.value.status == 409


def test_status_only_changes_through_the_status_subresource(fake_kube, apps, namespace):
    fake_kube.stall_all = True
    apps.create_namespaced_deployment(namespace, deployment())
    apps.patch_namespaced_deployment("hello", namespace, {"status": {"readyReplicas": 9}})
    assert (fake_kube.get("deployments", namespace, "hello")["status"] or {}).get("readyReplicas") is None
    apps.patch_namespaced_deployment_status("hello", namespace, {"status": {"readyReplicas": 9}})
    assert fake_kube.get("deployments", namespace, "hello")["status"]["readyReplicas"] == 9


def test_patch_flavours(apps, namespace, fake_kube):
    apps.create_namespaced_deployment(namespace, deployment())
    # strategic merge (dict body): containers merge by name
    apps.patch_namespaced_deployment("hello", namespace, {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "side:1"}]}}}})
    names = [c["name"] for c in fake_kube.get("deployments", namespace, "hello")["spec"]["template"]["spec"]["containers"]]
    assert names == ["hello", "sidecar"]
    assert fake_kube.requests[-1].content_type == "application/strategic-merge-patch+json"
    # JSON patch (list body)
    apps.patch_namespaced_deployment("hello", namespace, [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "hello:2"}])
    assert fake_kube.requests[-1].content_type == "application/json-patch+json"
    assert fake_kube.get("deployments", namespace, "hello")["spec"]["template"]["spec"]["containers"][0]["image"] == "hello:2"
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment("hello", namespace, [{"op": "replace", "path": "/nope/x", "value": 1}])
    assert err.value.status == 422


def test_jobs_complete_with_pod_logs_and_duplicate_names_conflict(fake_kube, kube, namespace):
    batch, core = client.BatchV1Api(kube.api_client), client.CoreV1Api(kube.api_client)
    fake_kube.job_handler = lambda job: JobOutcome(succeeded=False, logs="boom\n")
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j1"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}
    batch.create_namespaced_job(namespace, body)
    with pytest.raises(ApiException) as err:
        batch.create_namespaced_job(namespace, body)
    assert err.value.status == 409
    assert fake_kube.wait_for(lambda: (fake_kube.get("jobs", namespace, "j1")["status"] or {}).get("failed") == 1)
    job = batch.read_namespaced_job("j1", namespace)
    assert job.status.conditions[0].type == "Failed"
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=j1").items
    assert len(pods) == 1
    assert core.read_namespaced_pod_log(pods[0].metadata.name, namespace) == "boom\n"
    batch.delete_namespaced_job("j1", namespace, propagation_policy="Background")
    with pytest.raises(ApiException) as err:
        batch.read_namespaced_job("j1", namespace)
    assert err.value.status == 404
    assert core.list_namespaced_pod(namespace).items == []      # owned pods are garbage-collected


def test_leases_use_optimistic_concurrency(kube, namespace):
    coord = client.CoordinationV1Api(kube.api_client)
    coord.create_namespaced_lease(namespace, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                              "metadata": {"name": "lock"}, "spec": {"holderIdentity": "a"}})
    first = coord.read_namespaced_lease("lock", namespace)
    second = coord.read_namespaced_lease("lock", namespace)
    first.spec.holder_identity = "b"
    coord.replace_namespaced_lease("lock", namespace, first)
    second.spec.holder_identity = "c"
    with pytest.raises(ApiException) as err:
        coord.replace_namespaced_lease("lock", namespace, second)
    assert err.value.status == 409
    assert coord.read_namespaced_lease("lock", namespace).spec.holder_identity == "b"


def test_faults_and_auth_and_request_log(fake_kube, kube, core, namespace):
    fake_kube.inject("/api/v1/namespaces/shop-dev/configmaps", status=500, count=1)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(namespace, body)
    assert err.value.status == 500
    core.create_namespaced_config_map(namespace, body)            # the fault was for one request only
    assert [r.method for r in fake_kube.calls(path_glob="*/configmaps")] == ["POST", "POST"]
    assert fake_kube.calls("POST", "*/configmaps")[-1].body["data"] == {"a": "1"}

    anonymous = client.CoreV1Api(client.ApiClient(client.Configuration(host=fake_kube.url)))
    with pytest.raises(ApiException) as err:
        anonymous.read_namespaced_config_map("c", namespace)
    assert err.value.status == 401


def test_patch_helpers_follow_their_rfcs():
    assert merge_patch({"a": 1, "b": {"c": 2}}, {"b": {"c": None, "d": 3}}) == {"a": 1, "b": {"d": 3}}
    assert strategic_merge({"l": [{"name": "x", "v": 1}]}, {"l": [{"name": "x", "v": 2}, {"name": "y"}]}) == \
        {"l": [{"name": "x", "v": 2}, {"name": "y"}]}
    assert strategic_merge({"l": [1, 2]}, {"l": [3]}) == {"l": [3]}
    assert json_patch({"a": [1, 2]}, [{"op": "add", "path": "/a/-", "value": 3},
                                      {"op": "move", "from": "/a/0", "path": "/b"}]) == {"a": [2, 3], "b": 1}
