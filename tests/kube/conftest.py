"""Fixtures for the Kubernetes adapter tests: the fake API server and a client bound to it."""
from __future__ import annotations

import pytest

from reconciler.kube.client import Kube, KubeAccess
from tests.support.fake_kube import fake_kube_fixture

fake_kube = fake_kube_fixture()


@pytest.fixture
def kube(fake_kube):
    client = Kube.connect(KubeAccess(url=fake_kube.url, token=fake_kube.token), request_timeout=10)
    yield client
    client.close()


@pytest.fixture
def namespace(fake_kube):
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop-dev"}})
    return "shop-dev"
