"""The controller's own Prometheus metrics (served at `/metrics`).

Every metric here is listed in docs/operations.md and used by deploy/grafana/reconciler.json
(tests/controller/test_observability.py checks the dashboard against `/metrics`).

A registry per controller (not the global default) so tests can run several controllers in
one process without "duplicated timeseries" errors.
"""
from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.triggers = Counter("reconciler_triggers", "Sequences triggered by pushes", ["stage"], registry=r)
        self.rejected_triggers = Counter("reconciler_triggers_rejected",
                                         "Pushes whose config was invalid (no sequence started)", registry=r)
        self.sequences_finished = Counter("reconciler_sequences_finished", "Sequence runs that ended",
                                          ["stage", "sequence", "result", "status"], registry=r)
        self.events = Counter("reconciler_events", "CloudEvents recorded", ["kind"], registry=r)
        self.batches = Counter("reconciler_batches", "Controller loop batches that changed state", registry=r)
        self.journal_commit_seconds = Histogram(
            "reconciler_journal_commit_seconds", "Time to commit and push one results batch",
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.fetch_seconds = Histogram(
            "reconciler_fetch_seconds", "Time to fetch the config repo",
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.journal_failures = Counter("reconciler_journal_failures",
                                        "Results commits that could not be pushed (retried)", registry=r)
        self.inbox_depth = Gauge("reconciler_inbox_depth", "Inputs waiting for the controller", registry=r)
        self.active_runs = Gauge("reconciler_active_runs", "Sequence runs not yet ended", registry=r)
        self.config_errors = Gauge("reconciler_config_errors", "Errors in the current config", registry=r)
        self.executor_seconds = Histogram(
            "reconciler_executor_seconds", "Time built-in executors take", ["task"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300), registry=r)
        # Operations: gate results, approvals, remediation, the config repo's reachability, build.
        self.evaluations = Counter("reconciler_evaluations", "Evaluations that finished, by result",
                                   ["stage", "service", "result"], registry=r)
        self.evaluation_score = Gauge("reconciler_evaluation_score", "Score of the last evaluation (0-100)",
                                      ["stage", "service"], registry=r)
        self.approvals_waiting = Gauge("reconciler_approvals_waiting", "Approval tasks waiting for a decision",
                                       registry=r)
        self.remediation_actions = Counter("reconciler_remediation_actions", "Remediation actions that finished",
                                           ["stage", "service", "result"], registry=r)
        self.escalations = Counter("reconciler_escalations", "Remediations that ran out of actions",
                                   ["stage", "service"], registry=r)
        self.fetch_errors = Counter("reconciler_fetch_errors", "Fetches of the config repo that failed", registry=r)
        self.last_fetch = Gauge("reconciler_last_successful_fetch_timestamp_seconds",
                                "Unix time of the last successful fetch of the config repo", registry=r)
        self.notifications = Counter("reconciler_notifications", "Chat notifications by target and outcome "
                                     "(delivered, failed, rate_limited, dropped)", ["target", "outcome"], registry=r)
        self.build = Info("reconciler_build", "Version of this controller", registry=r)
        self.build.info({"version": _version(), "python": platform.python_version()})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("reconciler")
    except PackageNotFoundError:
        return "unknown"
