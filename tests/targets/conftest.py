"""Fixtures for tests that talk to the fake Kubernetes API server (tests/support/fake_kube.py)."""
from tests.support.fake_kube import fake_kube, kube, namespace  # noqa: F401 - fixtures
