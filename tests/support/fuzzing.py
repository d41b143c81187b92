"""Hostile inputs for the HTTP routes and the YAML readers, from a seeded RNG (repeatable).

Used by tests/test_fuzz.py (a few hundred inputs on every `make test`) and by
bench/fuzz_bench.py (10,000 and more, with the peak RSS of the `serve` process). The verdict
is the same for both: no 5xx answer, no traceback in the log, no exception out of a reader
other than its own error type.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CONTEXT = "0f1e2d3c-4b5a-4968-8776-655443322110"
POST_ROUTES = ["/api/v1/event", "/api/v1/events", f"/api/v1/sequences/{CONTEXT}/control",
               "/api/v1/sequences/abcdef/control", "/webhooks/alertmanager", "/webhooks/github",
               "/webhooks/gitlab", "/webhooks/gitea", "/webhooks/generic",
               "/api/controlPlane/v1/uniform/registration", "/api/controlPlane/v1/log",
               "/login", "/ui/actions/approve", "/ui/actions/control", "/ui/actions/invalidate"]
GET_ROUTES = ["/api/v1/events", "/api/v1/events/triggered/sh.keptn.event.deployment.triggered",
              "/api/v1/sequences", f"/api/v1/sequences/{CONTEXT}", "/api/v1/status", "/healthz", "/readyz",
              "/metrics", "/", "/sequences", f"/sequences/{CONTEXT}", "/evaluations", "/evaluation",
              "/approvals", "/problems", "/config", "/status",
              "/api/controlPlane/v1/event/triggered/sh.keptn.event.test.triggered",
              "/api/controlPlane/v1/uniform/registration",
              "/api/resource-service/v1/project/p/stage/dev/service/helloservice/resource/slo.yaml"]
QUERY_KEYS = ["context", "stage", "service", "type", "limit", "pageSize", "nextPageKey", "eventID", "token",
              "state", "sequence", "path", "project", "since"]
WEBHOOK_SECRET = "fuzz-webhook-secret"


def _nested(rng: random.Random, depth: int) -> str:
    opener = rng.choice(["[", '{"a":'])
    closer = "]" if opener == "[" else "}"
    return opener * depth + "1" + closer * depth


def _random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 2**63, 1e308, -0.0, 3.5])
    if kind in (2, 3, 4):
        return rng.choice(["", "x" * rng.randrange(200), "sh.keptn.event.dev.delivery.triggered", "../../etc/passwd",
                           "\u0000\u202e", "$(touch /tmp/x)", '"}) or vector(1) #', CONTEXT, "dev", "helloservice"])
    if kind in (5, 6):
        return {rng.choice(["type", "data", "shkeptncontext", "triggeredid", "id", "source", "alerts", "status",
                            "labels", "state", "stage", "ref", "commits", "name", "metadata", "subscriptions",
                            "specversion", "time", "x"]): _random_json(rng, depth + 1)
                for _ in range(rng.randrange(6))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randrange(5))]


def hostile_body(rng: random.Random) -> bytes:
    kind = rng.randrange(10)
    if kind == 0:
        return _nested(rng, rng.choice([65, 1_000, 100_000])).encode()
    if kind == 1:
        return rng.randbytes(rng.randrange(1, 2048))
    if kind == 2:
        return b"{" * rng.randrange(1, 50) + b'"' * rng.randrange(5)
    if kind == 3:
        return b""
    if kind == 4:
        return json.dumps("x" * rng.randrange(1, 100_000)).encode()
    if kind == 5:                                   # an Alertmanager-shaped body with odd fields
        return json.dumps({"version": "4", "status": rng.choice(["firing", "resolved", 7]),
                           "alerts": [{"status": rng.choice(["firing", "resolved", None]),
                                       "labels": _random_json(rng, 2), "annotations": _random_json(rng, 3),
                                       "startsAt": rng.choice(["", "2026-01-01T00:00:00Z", "yesterday", 5]),
                                       "fingerprint": rng.choice(["", "abc", None])}
                                      for _ in range(rng.randrange(4))]}).encode()
    if kind == 6:                                   # a CloudEvent-shaped body with odd fields
        return json.dumps({"specversion": "1.0", "type": rng.choice(
            ["sh.keptn.event.deployment.finished", "sh.keptn.event.dev.delivery.triggered", "x", ""]),
            "source": "fuzz", "shkeptncontext": rng.choice([CONTEXT, "", "nope", None]),
            "triggeredid": rng.choice(["", "123", None]), "data": _random_json(rng, 2)}).encode()
    return json.dumps(_random_json(rng)).encode()


def headers_for(route: str, body: bytes, token: str, rng: random.Random) -> dict[str, str]:
    headers = {"Content-Type": rng.choice(["application/json", "text/plain", "application/x-www-form-urlencoded"])}
    if rng.random() < 0.8:
        headers["x-token"] = token
    if route.startswith("/webhooks/") and rng.random() < 0.7:
        digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers.update({"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push",
                        "X-Gitlab-Token": WEBHOOK_SECRET, "X-Gitea-Signature": digest,
                        "X-Reconciler-Signature": f"sha256={digest}"})
    return headers


@dataclass
class HttpReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fuzz_http(base_url: str, token: str, count: int, seed: int = 1, budget_seconds: float = 600.0,
              alive: Callable[[], bool] | None = None) -> HttpReport:
    """`count` hostile requests (bounded by `budget_seconds`); every 5xx is remembered."""
    rng = random.Random(seed)
    report = HttpReport()
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        for _ in range(count):
            if time.monotonic() - started > budget_seconds:
                break
            if rng.random() < 0.6:
                route = rng.choice(POST_ROUTES)
                body = hostile_body(rng)
                answer = client.post(route, content=body, headers=headers_for(route, body, token, rng))
            else:
                route = rng.choice(GET_ROUTES)
                params = {rng.choice(QUERY_KEYS): str(_random_json(rng, 3))[:300] for _ in range(rng.randrange(4))}
                answer = client.get(route, params=params, headers={"x-token": token} if rng.random() < 0.8 else {})
            report.requests += 1
            report.statuses[answer.status_code] += 1
            if answer.status_code >= 500:
                report.server_errors.append(f"{answer.request.method} {route} -> {answer.status_code}: "
                                            f"{answer.text[:200]}")
            if alive is not None and not alive():
                report.server_errors.append(f"the server died after {report.requests} requests")
                break
    report.seconds = time.monotonic() - started
    return report


def mutated_yaml(rng: random.Random, seeds: list[bytes]) -> Iterator[bytes]:
    """Endless mutations of real config files: flips, cuts, splices, alias bombs, nesting."""
    while True:
        base = bytearray(rng.choice(seeds))
        kind = rng.randrange(8)
        if kind == 0 and base:
            for _ in range(rng.randrange(1, 8)):
                base[rng.randrange(len(base))] = rng.randrange(256)
        elif kind == 1 and base:
            del base[rng.randrange(len(base)):]
        elif kind == 2:
            other = rng.choice(seeds)
            cut = rng.randrange(len(other) + 1)
            base = bytearray(other[:cut]) + base[cut:]
        elif kind == 3:
            base += b"\nbomb0: &b0 [x, x, x, x, x, x, x, x, x]\n" + b"".join(
                b"bomb%d: &b%d [*b%d, *b%d, *b%d, *b%d, *b%d, *b%d, *b%d, *b%d, *b%d]\n" % ((i, i) + (i - 1,) * 9)
                for i in range(1, rng.randrange(2, 9)))
        elif kind == 4:
            base = bytearray(_nested(rng, rng.choice([10, 500, 5_000])).encode())
        elif kind == 5:
            base = base.replace(b": ", b": &a ", 1) + b"\nx: *a\ny: *nope\n"
        elif kind == 6:
            base = bytearray(b"- " * rng.randrange(1, 3000) + b"x")
        else:
            base = bytearray(rng.choice(seeds)) * rng.randrange(1, 4)
        yield bytes(base)


@dataclass
class YamlReport:
    documents: int = 0
    rejected: int = 0
    unexpected: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fuzz_yaml(count: int, seeds: list[bytes], seed: int = 1, budget_seconds: float = 600.0) -> YamlReport:
    """Every YAML reader over `count` mutations: its own error type is fine, anything else is not."""
    from reconciler.quality.sli import SliFileError, parse_sli
    from reconciler.spec import yamltext
    from reconciler.spec.validate import check_document
    from reconciler.spec.valuesfile import ValuesEditError, set_values

    rng = random.Random(seed)
    report = YamlReport()
    started = time.monotonic()
    readers: list[tuple[str, Callable[[bytes], object], tuple[type[BaseException], ...]]] = [
        ("yamltext.load", yamltext.load, (yamltext.YamlError,)),
        ("yamltext.load_all", yamltext.load_all, (yamltext.YamlError,)),
        ("yamltext.load_document", yamltext.load_document, (yamltext.YamlError,)),
        ("validate", lambda t: check_document(t), ()),
        ("parse_sli", lambda t: parse_sli(t, "sli.yaml"), (SliFileError,)),
        ("set_values", lambda t: set_values(t.decode("utf-8", "replace"), {"image": "x:1"}),
         (ValuesEditError, yamltext.YamlError)),
    ]
    for text in mutated_yaml(rng, seeds):
        if report.documents >= count or time.monotonic() - started > budget_seconds:
            break
        report.documents += 1
        for name, read, expected in readers:
            try:
                read(text)
            except expected:
                report.rejected += 1
            except Exception as exc:  # noqa: BLE001 - the point: anything else is a finding
                report.unexpected.append(f"{name}: {type(exc).__name__}: {str(exc)[:150]} "
                                         f"(input sha1 {hashlib.sha1(text).hexdigest()[:12]})")
    report.seconds = time.monotonic() - started
    return report


def corpus_seeds(shared: Path, example: Path) -> list[bytes]:
    files = sorted(p for p in [*shared.rglob("*.yaml"), *example.rglob("*.yaml")] if p.is_file())
    return [p.read_bytes() for p in files if p.stat().st_size < 200_000]
