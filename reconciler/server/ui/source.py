"""Where the UI's data comes from: the SQLite index (runs, events, evaluation rows), the
results branch (lane and evidence documents, read by path), the stage branches (versions,
commits a context wrote) and the config in force. Reads only; built once per server."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reconciler import contract
from reconciler.controller.index import Index
from reconciler.server.ui.versions import StageVersions

RESULTS = contract.RESULTS_BRANCH
COMMIT_SCAN = 300        # newest commits per stage branch searched for a context's trailer


class UiSource:
    def __init__(self, index: Index, mirror: Any = None, config: Callable[[], Any] | None = None):
        self.index = index
        self.mirror = mirror
        self._config = config
        self.versions = StageVersions(mirror) if mirror is not None else None

    # -- config in force ----------------------------------------------------------------
    def config_state(self) -> Any:
        return self._config() if self._config else None

    def project(self) -> str:
        state = self.config_state()
        try:
            return state.settings.project if state is not None and state.shipyard is not None else ""
        except Exception:  # noqa: BLE001 - the name is decoration
            return ""

    def stage_names(self) -> list[str]:
        state = self.config_state()
        if state is not None and getattr(state, "shipyard", None) is not None:
            return list(state.shipyard.stage_names)
        return []

    def stages_in_force(self) -> list[dict[str, Any]]:
        state = self.config_state()
        if state is None or state.shipyard is None:
            return []
        out = []
        for stage in state.shipyard.stages:
            out.append({"name": stage.name, "target": state.settings.stage(stage.name).target,
                        "sequences": [s.name for s in stage.sequences],
                        "tip": self.mirror.tip(stage.name) if self.mirror is not None else None})
        return out

    def commit_url(self) -> Callable[[str], str] | None:
        state = self.config_state()
        if state is None or self.mirror is None:
            return None
        return commit_url_builder(state.settings.spec.forge, getattr(self.mirror, "url", ""))

    # -- stage branches -------------------------------------------------------------------
    def stage_versions(self, stages: list[str]) -> dict[str, dict[str, Any]]:
        if self.versions is None:
            return {}
        return {stage: self.versions.stage(stage) for stage in stages}

    def branches(self) -> dict[str, str]:
        return dict(self.mirror.tips()) if self.mirror is not None else {}

    def ignored_branches(self) -> dict[str, str]:
        state = self.config_state()
        known = set(self.stage_names())
        default = getattr(state, "default_branch", None) if state is not None else None
        out = {}
        for branch, tip in self.branches().items():
            if branch in known or branch in (default, RESULTS) or branch.startswith(contract.APPROVAL_PREFIX):
                continue
            out[branch] = tip
        return out

    def commits_of(self, context: str, stages: list[str]) -> list[dict[str, Any]]:
        if self.mirror is None:
            return []
        from reconciler.tasks.common import commits_carrying
        out = []
        for stage in stages:
            tip = self.mirror.tip(stage)
            if tip is None:
                continue
            for c in commits_carrying(self.mirror, tip, contract.TRAILER_CONTEXT, context, limit=COMMIT_SCAN):
                out.append({"branch": stage, "oid": c.oid, "message": c.message})
        return out

    # -- results branch -------------------------------------------------------------------
    def read_results(self, path: str) -> dict[str, Any] | None:
        if self.mirror is None:
            return None
        tip = self.mirror.tip(RESULTS)
        raw = self.mirror.read(tip, path) if tip else None
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    def context_runs(self, context: str) -> list[dict[str, Any]]:
        """The full run dicts (tasks and answers) of a context, from its lane files."""
        paths = sorted({r["path"] for r in self.index.runs(context=context, limit=1000)})
        runs = []
        for path in paths:
            doc = self.read_results(path)
            for run in (doc or {}).get("runs") or []:
                if isinstance(run, dict) and run.get("context") == context:
                    runs.append(run)
        return runs

    def evaluation_docs(self, stage: str, service: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
        rows = self.index.evaluation_rows(stage=stage, service=service, limit=limit)
        out = []
        for row in rows:
            doc = self.read_results(row["path"])
            if doc is not None:
                out.append((row["path"], doc))
        return out

    def pending_approvals(self) -> list[dict[str, Any]]:
        out = []
        for run in self.index.runs(states=("waitingForApproval",), limit=1000):
            info: dict[str, Any] = {"context": run["context"], "stage": run["stage"], "service": run["service"],
                                    "since": run.get("started_at") or run.get("triggered_at"),
                                    "branch": contract.approval_branch(run["stage"], run["service"], run["context"])}
            for event in self.index.events(context=run["context"], stage=run["stage"], service=run["service"],
                                           type_prefix="sh.keptn.event.approval.started", limit=20):
                approval = (event.get("data") or {}).get("approval") or {}
                if approval.get("branch"):
                    info["branch"] = approval["branch"]
                    info["pullRequest"] = approval.get("pullRequest") or {}
                    break
            evaluations = self.index.evaluation_rows(context=run["context"], limit=20)
            info["evaluation"] = evaluations[0] if evaluations else None
            out.append(info)
        return out


def commit_url_builder(forge: Any, repo_url: str) -> Callable[[str], str] | None:
    """A function oid → the forge's web page of that commit, when a forge is configured."""
    kind = getattr(forge, "kind", "none")
    if kind == "none":
        return None
    from reconciler.tasks.forges.base import repository_from_url
    host, path = repository_from_url(repo_url)
    repository = getattr(forge, "repository", None) or path
    if not repository:
        return None
    if kind == "github":
        base = "https://github.com" if not forge.url or "api.github.com" in forge.url else forge.url.rstrip("/")
        return lambda oid: f"{base}/{repository}/commit/{oid}"
    web = (forge.url or host or "").rstrip("/")
    for suffix in ("/api/v1", "/api/v4"):
        if web.endswith(suffix):
            web = web[: -len(suffix)]
    if not web:
        return None
    sep = "/-/commit/" if kind == "gitlab" else "/commit/"
    return lambda oid: f"{web}/{repository}{sep}{oid}"
