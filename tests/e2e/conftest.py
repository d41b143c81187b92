"""End-to-end delivery on real remotes with the built-in executors, the local target and a
real Prometheus scraping SLIs the test sets (one Prometheus per pytest worker)."""
from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from reconciler.controller.executors import BuiltinExecutors
from reconciler.gitstore.seed import seed_bare_repo
from tests.support.controller import start_service
from tests.support.metrics import GaugeExporter
from tests.support.prometheus import running_prometheus
from tests.support.waiting import wait_until

METRIC = "e2e_response_ms"

SHIPYARD = """apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: PROJECT}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - {name: deployment, properties: {deploymentstrategy: direct}}
            - {name: test, properties: {teststrategy: functional}}
            - name: evaluation
            - name: release
    - name: staging
      sequences:
        - name: delivery
          triggeredOn: [{event: dev.delivery.finished}]
          tasks:
            - name: deployment
            - name: test
            - name: evaluation
            - {name: approval, properties: {pass: automatic, warning: automatic}}
            - name: release
        - name: rollback
          triggeredOn: [{event: staging.delivery.finished, selector: {match: {result: fail}}}]
          tasks: [{name: rollback}]
    - name: production
      sequences:
        - name: delivery
          triggeredOn: [{event: staging.delivery.finished}]
          tasks:
            - {name: approval, properties: {pass: manual, warning: manual}}
            - name: deployment
            - name: release
        - name: rollback
          triggeredOn: [{event: production.delivery.finished, selector: {match: {result: fail}}}]
          tasks: [{name: rollback}]
        - name: remediation
          triggeredOn: [{event: production.remediation.finished, selector: {match: {evaluation.result: fail}}}]
          tasks:
            - name: get-action
            - name: action
            - {name: evaluation, triggeredAfter: "1s", properties: {timeframe: "5s"}}
"""

REMEDIATION = """apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: remediation}
spec:
  remediations:
    - problemType: response_time
      actionsOnOpen:
        - {name: Scale up by one, action: scaling, description: one more replica, value: "1"}
        - {name: Scale up by two, action: scaling, description: two more, value: "2"}
"""

SLO = """spec_version: "1.0"
objectives:
  - sli: response_time
    pass: [{criteria: ["<=500"]}]
total_score: {pass: "90%"}
"""

SLI = f"""spec_version: "1.0"
indicators:
  response_time: max({METRIC}{{project="$PROJECT",stage="$STAGE",service="$SERVICE"}})
"""

LOCAL = "command: [python, -m, reconciler.demo.helloservice]\nhealthPath: /healthz\nstartTimeout: 20s\n"


def job_config(sleep: float) -> str:
    return f"""apiVersion: v2
actions:
  - name: functional tests
    events: [{{name: sh.keptn.event.test.triggered}}]
    tasks:
      - name: smoke
        image: python:3.11-slim
        cmd: [python, -c, "import time; time.sleep({sleep}); print('ok')"]
"""


@pytest.fixture(scope="session")
def sli_source(tmp_path_factory):
    """(exporter, prometheus) shared by this worker's tests; the first scrape is awaited."""
    exporter = GaugeExporter()
    exporter.set(METRIC, {"project": "probe", "stage": "probe", "service": "probe"}, 1)
    config = (f"global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n"
              f"scrape_configs:\n  - job_name: e2e\n    static_configs: [{{targets: ['{exporter.address}']}}]\n")
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), config=config) as prom:
        wait_until(lambda: _value(prom.url, f'{METRIC}{{project="probe"}}') == 1.0, timeout=30,
                   interval=0.2, what="Prometheus to scrape the exporter")
        yield exporter, prom
    exporter.close()


def _value(url: str, query: str) -> float | None:
    qs = urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{qs}", timeout=5) as r:
            result = json.load(r)["data"]["result"]
    except OSError:
        return None
    return float(result[0]["value"][1]) if result else None


class Project:
    """A config repo for one test (its own project name, so SLIs never collide)."""

    def __init__(self, name: str, root: Path, exporter: GaugeExporter, prom_url: str, *,
                 services=("helloservice",), test_sleep: float = 0.1, production_target: str = "local",
                 settings_extra: str = "", version: str = "1.0.0", extra_values: dict[str, str] | None = None,
                 shipyard: str = SHIPYARD, job: str | None = None):
        self.name, self.exporter, self.prom_url = name, exporter, prom_url
        layout = root / "layout"
        (layout / "main").mkdir(parents=True)
        (layout / "main" / "shipyard.yaml").write_text(shipyard.replace("PROJECT", name))
        (layout / "main" / "reconciler.yaml").write_text(
            f"apiVersion: reconciler/v1\nkind: Settings\nmetadata: {{name: {name}}}\n"
            "spec:\n  timeouts: {taskTriggered: 60s, taskStarted: 120s}\n"
            f"  stages: {{production: {{target: {production_target}}}}}\n{settings_extra}")
        for stage, replicas in (("dev", 1), ("staging", 2), ("production", 3)):
            for service in services:
                folder = layout / stage / service
                (folder / "job").mkdir(parents=True)
                (folder / "values.yaml").write_text(
                    f"# {stage} values\nimage: {service}:{version}\nreplicaCount: {replicas}   # {stage}-specific\n"
                    + (extra_values or {}).get(stage, ""))
                (folder / "local.yaml").write_text(LOCAL)
                (folder / "slo.yaml").write_text(SLO)
                (folder / "sli.yaml").write_text(SLI)
                (folder / "job" / "config.yaml").write_text(job or job_config(test_sleep))
                if stage == "production":
                    (folder / "remediation.yaml").write_text(REMEDIATION)
                self.set_sli(stage, service, 100)
        self.origin = root / "config.git"
        seed_bare_repo(self.origin, layout)

    def set_sli(self, stage: str, service: str, value: float) -> None:
        self.exporter.set(METRIC, {"project": self.name, "stage": stage, "service": service}, value)

    def await_sli(self, stage: str, service: str, value: float) -> None:
        query = f'{METRIC}{{project="{self.name}",stage="{stage}",service="{service}"}}'
        wait_until(lambda: _value(self.prom_url, query) == value, timeout=15, interval=0.1,
                   what=f"Prometheus to see {stage}/{service} = {value}")


@pytest.fixture
def project(request, tmp_path, sli_source):
    exporter, prom = sli_source
    marker = request.node.get_closest_marker("project")
    kwargs = dict(marker.kwargs) if marker else {}
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[-30:].strip("-") or "p"
    proj = Project("p-" + name, tmp_path, exporter, prom.url, **kwargs)
    for stage in ("dev", "staging", "production"):
        for service in kwargs.get("services", ("helloservice",)):
            proj.await_sli(stage, service, 100)
    return proj


@pytest.fixture
def e2e_service(tmp_path, sli_source):
    exporter, prom = sli_source
    started = []

    def make(origin: Path, name: str = "work", environ: dict[str, str] | None = None):
        service = start_service(str(origin), tmp_path / name, executors=BuiltinExecutors(), poll=0.05,
                                environ={"RECONCILER_PROMETHEUS_URL": prom.url, **(environ or {})})
        started.append(service)
        return service

    yield make
    for service in started:
        service.stop()
