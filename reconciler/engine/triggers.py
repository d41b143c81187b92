"""Which pushed commits start which sequences (DESIGN §2; Keptn never started on a push).

Input per updated branch: the new commits, oldest first, as plain facts (the gitstore adapter
reads them). Rules:

* A commit with a `Reconciler-Context` trailer, or authored by the reconciler, belongs to
  that context and never triggers; so does a merge commit that merges such a commit (an
  approval branch being merged is the approval, not a new change).
* On a stage branch, a change under `<service>/` that touches a deployable file triggers that
  stage's `delivery` for that service. `Reconciler-Sequence: <name>` picks another sequence,
  `Reconciler-Skip: true` suppresses it. Which file is deployable is `reconciler.layout`'s
  table: quality-gate files (`slo.yaml`, `sli.yaml`, `<provider>/sli.yaml`, `remediation.yaml`),
  integration config (`job/**`, `webhook/**`, `dynatrace/**`, `metadata.yaml`) and test
  material (`jmeter/**`, `locust/**`) are not.
* A change that touches only such files or only stage-level files is a "config changed,
  validate" notice: it takes effect at the next task that reads them.
* One trigger per (stage, service) per push, carrying the newest triggering commit; its
  context is `context_uuid("<stage>:<service>:<commit>")`, so processing the same push twice
  lands on the same context (and the same trigger event id).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler import contract, layout
from reconciler.engine.events import SOURCE, CloudEvent, context_uuid, derived_id, iso_time, sequence_type

DEFAULT_SEQUENCE = "delivery"
SERVICE_NAME = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
SEQUENCE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TRUE = frozenset({"true", "yes", "1", "on"})


@dataclass(frozen=True, slots=True)
class CommitFacts:
    """One commit as the classifier needs it.

    `paths`: files changed against the first parent. `merged_trailers`: for a merge commit,
    one trailers mapping per commit it merged in (the tips of the other parents); empty for
    an ordinary commit.
    """

    oid: str
    author_email: str = ""
    trailers: Mapping[str, str] = field(default_factory=dict)
    paths: tuple[str, ...] = ()
    merged_trailers: tuple[Mapping[str, str], ...] = ()

    @property
    def is_merge(self) -> bool:
        return bool(self.merged_trailers)


@dataclass(frozen=True, slots=True)
class BranchUpdate:
    """A branch moved from `old` to `new` (None = created / deleted) through `commits`.

    `services`: the service folders at the new tip when the adapter knows them; without it a
    top-level folder is a service unless the layout calls it stage-level (`layout.split_service`).
    """

    branch: str
    old: str | None
    new: str | None
    commits: tuple[CommitFacts, ...] = ()
    services: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    """Start `<stage>.<sequence>` for `service` at `commit` (the newest triggering commit)."""

    stage: str
    service: str
    sequence: str
    commit: str
    base: str | None              # the branch tip before the push: the change is base..commit
    context: str
    commits: tuple[str, ...]      # every triggering commit of this service in the push, oldest first

    def event(self, project: str, now: float, change: Mapping[str, Any] | None = None) -> CloudEvent:
        """The `<stage>.<sequence>.triggered` CloudEvent, with an id derived from the context.

        `change` is `data.configurationChange` as the adapter computed it from the commit
        (Keptn's `values`, our `files`: engine.changeset); `commit`/`base` always name the
        context's change. Promotion into later stages sets that change as state.
        """
        data_change: dict[str, Any] = dict(change or {})
        data_change["commit"] = self.commit
        data_change.pop("base", None)
        if self.base:
            data_change["base"] = self.base
        return CloudEvent(
            type=sequence_type(self.stage, self.sequence, "triggered"),
            data={"project": project, "stage": self.stage, "service": self.service,
                  "configurationChange": data_change},
            shkeptncontext=self.context, id=derived_id(self.context, "trigger"), source=SOURCE,
            time=iso_time(now), gitcommitid=self.commit,
        )


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a push did that is not a trigger. kinds: `config-changed` (validate, takes
    effect at the next evaluation), `skipped` (Reconciler-Skip), `ignored` (not a valid
    service or sequence name)."""

    branch: str
    commit: str
    kind: str
    message: str
    service: str | None = None


@dataclass(frozen=True, slots=True)
class OwnedCommit:
    """A commit that belongs to a running context (ours, or a merged approval branch)."""

    branch: str
    commit: str
    context: str | None           # None: authored by the reconciler without a context trailer
    merge: bool


@dataclass(frozen=True, slots=True)
class PushReport:
    triggers: tuple[Trigger, ...]
    notices: tuple[Notice, ...]
    owned: tuple[OwnedCommit, ...]
    changed_services: Mapping[str, tuple[str, ...]]   # stage branch → services whose files changed
    stage_files_changed: tuple[str, ...]              # stage branches whose stage-level files changed
    shipyard_changed: bool                            # shipyard.yaml on the default branch
    settings_changed: bool                            # reconciler.yaml on the default branch


def trailer(trailers: Mapping[str, str], name: str) -> str | None:
    """Trailer value by case-insensitive key (Git trailer keys are matched that way)."""
    if name in trailers:
        return trailers[name]
    lowered = name.lower()
    for key, value in trailers.items():
        if key.lower() == lowered:
            return value
    return None


def owning_context(commit: CommitFacts) -> tuple[bool, str | None]:
    """(belongs to a context, which one) for a commit the reconciler must not trigger on."""
    own = trailer(commit.trailers, contract.TRAILER_CONTEXT)
    if own:
        return True, own.strip()
    for merged in commit.merged_trailers:
        ctx = trailer(merged, contract.TRAILER_CONTEXT)
        if ctx:
            return True, ctx.strip()
    if commit.author_email.strip().lower() == contract.BOT_EMAIL:
        return True, None
    return False, None


def classify_path(path: str, services: frozenset[str] | None) -> tuple[str, str | None]:
    """(the file's `layout.Role`, service) for a file of a service folder (`deploy` starts a
    delivery), ("stage", None) for a stage-level file."""
    if services is None:
        folder, rel = layout.split_service(path)
    else:               # the adapter knows the service folders: they win over the layout's guess
        head, sep, rest = path.partition("/")
        folder, rel = (head, rest) if sep and head in services and not head.startswith(".") else (None, path)
    if folder is None:
        return "stage", None
    return layout.role_of(rel), folder


def _unchanged_delivery(service: str, branch: str, roles: Mapping[str, None]) -> str:
    if list(roles) == ["quality-gate"]:
        return f"quality-gate files of {service} changed on {branch}; they take effect at the next evaluation"
    return (f"{' and '.join(roles)} files of {service} changed on {branch}; they take effect at the next "
            f"task that reads them (no delivery: nothing deployable changed)")


def classify(updates: Iterable[BranchUpdate], stages: Iterable[str], default_branch: str) -> PushReport:
    """Turn branch updates into triggers, notices and what changed (see the module docstring)."""
    stage_names = list(stages)
    stage_set = set(stage_names)
    triggers: dict[tuple[str, str], Trigger] = {}
    notices: list[Notice] = []
    owned: list[OwnedCommit] = []
    changed: dict[str, dict[str, None]] = {}
    stage_files: dict[str, None] = {}
    shipyard_changed = settings_changed = False

    for update in updates:
        branch = update.branch
        if branch == default_branch:
            for commit in update.commits:
                shipyard_changed |= contract.SHIPYARD_FILE in commit.paths
                settings_changed |= contract.SETTINGS_FILE in commit.paths
        if branch not in stage_set:
            continue
        for commit in update.commits:
            belongs, ctx = owning_context(commit)
            deploy: dict[str, None] = {}
            other: dict[str, dict[str, None]] = {}      # service → roles of its non-deployable files
            stage_level = False
            for path in commit.paths:
                kind, service = classify_path(path, update.services)
                if service is None:
                    stage_files[branch] = None
                    stage_level = True
                    continue
                changed.setdefault(branch, {})[service] = None
                if kind == "deploy":
                    deploy[service] = None
                else:
                    other.setdefault(service, {})[kind] = None
            if belongs:
                owned.append(OwnedCommit(branch, commit.oid, ctx, commit.is_merge))
                continue
            for service, roles in other.items():
                if service not in deploy:
                    notices.append(Notice(branch, commit.oid, "config-changed",
                                          _unchanged_delivery(service, branch, roles), service))
            if stage_level:
                notices.append(Notice(branch, commit.oid, "config-changed",
                                      f"stage-level files changed on {branch}; they take effect at "
                                      f"the next sequence that reads them"))
            if not deploy:
                continue
            skip = (trailer(commit.trailers, contract.TRAILER_SKIP) or "").strip().lower() in _TRUE
            sequence = (trailer(commit.trailers, contract.TRAILER_SEQUENCE) or DEFAULT_SEQUENCE).strip()
            for service in deploy:
                if skip:
                    notices.append(Notice(branch, commit.oid, "skipped",
                                          f"{contract.TRAILER_SKIP} on {commit.oid[:12]}: no "
                                          f"{sequence} for {service}", service))
                    continue
                if not SERVICE_NAME.match(service):
                    notices.append(Notice(branch, commit.oid, "ignored",
                                          f"folder {service!r} on {branch} is not a valid service name "
                                          f"(lowercase letters, digits and '-', starting with a letter)",
                                          service))
                    continue
                if not SEQUENCE_NAME.match(sequence):
                    notices.append(Notice(branch, commit.oid, "ignored",
                                          f"{contract.TRAILER_SEQUENCE} {sequence!r} on {commit.oid[:12]} "
                                          f"is not a sequence name", service))
                    continue
                key = (branch, service)
                earlier = triggers.get(key)
                triggers[key] = Trigger(
                    stage=branch, service=service, sequence=sequence, commit=commit.oid,
                    base=update.old, context=context_uuid(f"{branch}:{service}:{commit.oid}"),
                    commits=(earlier.commits if earlier else ()) + (commit.oid,))

    order = {name: i for i, name in enumerate(stage_names)}
    return PushReport(
        triggers=tuple(sorted(triggers.values(), key=lambda t: (order[t.stage], t.service))),
        notices=tuple(notices),
        owned=tuple(owned),
        changed_services={b: tuple(sorted(s)) for b, s in changed.items()},
        stage_files_changed=tuple(sorted(stage_files, key=lambda b: order.get(b, 0))),
        shipyard_changed=shipyard_changed,
        settings_changed=settings_changed,
    )
