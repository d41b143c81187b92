"""Lint: the second validation layer. Each module checks one kind of file for the
mistakes Keptn accepts silently (warnings) or only fails on at run time (errors).

Lint runs on whatever the YAML holds, also when the schema already complained, so every
check reads the data defensively (`reconciler.spec.lint.access`) and never assumes a type.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.spec.findings import Issue
from reconciler.spec.lint import jobconfig, local, remediation, settings, shipyard, sli, slo

LINTERS: dict[str, Callable[[Any], list[Issue]]] = {
    "shipyard": shipyard.lint,
    "slo": slo.lint,
    "sli": sli.lint,
    "remediation": remediation.lint,
    "jobconfig": jobconfig.lint,
    "settings": settings.lint,
    "local": local.lint,
}
