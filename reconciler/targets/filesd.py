"""Prometheus file-based service discovery for local replicas.

One JSON file per (stage, service), `<dir>/<stage>-<service>.json`, rewritten atomically on
every deploy, scale and restart, so a Prometheus with
`file_sd_configs: [{files: ['<dir>/*.json']}]` scrapes exactly the replicas that run. The
`job` label is `<service>-<project>-<stage>`, the scrape job name Keptn's prometheus-service
SLI defaults expect; a `job` label from service discovery wins over the scrape config's.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def file_sd_path(directory: Path, stage: str, service: str) -> Path:
    return directory / f"{stage}-{service}.json"


def file_sd_groups(project: str, stage: str, service: str, addresses: Iterable[str],
                   metrics_path: str = "/metrics") -> list[dict]:
    """The file-SD document (pure): one target group, or none when nothing runs."""
    targets = sorted(addresses)
    if not targets:
        return []
    labels = {"job": f"{service}-{project}-{stage}", "project": project, "stage": stage, "service": service}
    if metrics_path != "/metrics":
        labels["__metrics_path__"] = metrics_path
    return [{"targets": targets, "labels": labels}]


def write_json_atomic(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_file_sd(directory: Path, stage: str, service: str, groups: list[dict]) -> Path:
    path = file_sd_path(directory, stage, service)
    write_json_atomic(path, groups)
    return path


def remove_file_sd(directory: Path, stage: str, service: str) -> None:
    try:
        file_sd_path(directory, stage, service).unlink()
    except FileNotFoundError:
        pass
