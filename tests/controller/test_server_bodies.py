"""Hostile JSON bodies get a 400 with a message on every route that reads JSON, never a 500."""
from __future__ import annotations

import httpx
import pytest

from reconciler.server import jsonbody

DEEP = b"[" * 100_000
NESTED_70 = b'{"a":' * 70 + b"1" + b"}" * 70


@pytest.fixture
def service(origin, service_factory):
    return service_factory(origin.url, poll=0, watch=False)


@pytest.mark.parametrize("path", ["/api/v1/event", "/api/v1/sequences/0123456789abcdef/control",
                                  "/webhooks/alertmanager"])
@pytest.mark.parametrize("body", [DEEP, NESTED_70, b"{not json", b"\xff\xfe"], ids=["deep", "nested70", "broken",
                                                                                   "binary"])
def test_hostile_json_is_a_400_with_a_message(service, path, body):
    r = httpx.post(service.url + path, content=body, headers={"x-token": "test-token"}, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["message"]
    assert httpx.get(service.url + "/healthz").json()["alive"] is True


def test_depth_is_counted_iteratively_and_stops_early():
    assert not jsonbody.depth_exceeds({"a": [1, {"b": [2]}]}, 4)        # object, list, object, list
    assert jsonbody.depth_exceeds({"a": [1, {"b": [2]}]}, 3)
    wide = {str(i): [i] for i in range(100_000)}
    assert not jsonbody.depth_exceeds(wide, 2)
    with pytest.raises(jsonbody.BodyError, match="nested more than 64"):
        jsonbody.loads(NESTED_70)
    with pytest.raises(jsonbody.BodyError, match="nested more than 64"):
        jsonbody.loads(DEEP)
