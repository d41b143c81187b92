"""The `reconciler/results` branch: the durable record a new controller rebuilds from.

Layout (DESIGN §2, docs/git-contract.md):

* `sequences/<stage>/<service>/<context>.json` — every run of a context in a lane, rewritten
  at each transition (its file history is the sequence's story)
* `evaluations/<stage>/<service>/<UTC timestamp>-<context>.json` — evaluation evidence
* `escalations/<stage>/<service>/<context>.json` — remediation that ran out of actions
* `config/status.json` — current config findings and rejected triggers
* `state/tips.json` — branch tips already processed (written with the triggers they caused)
* `state/controls.json` — paused contexts

All writes of one controller batch become one commit, so the sequence files, the evidence
they cite and the tips that caused them can never disagree after a crash.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pygit2

from reconciler import contract
from reconciler.gitstore import Mirror, Writer, WriteResult
from reconciler.gitstore.trailers import parse as parse_trailers
from reconciler.gitstore.writer import TreeChange

log = logging.getLogger("reconciler.journal")

SEQUENCES = "sequences/"
EVALUATIONS = "evaluations/"
ESCALATIONS = "escalations/"
CONFIG_STATUS = "config/status.json"
TIPS = "state/tips.json"
CONTROLS = "state/controls.json"
# History read for SLO comparison: the newest evaluations of a lane, bounded so a service
# with years of evaluations does not make every gate slower (Keptn compares with ≤ N anyway;
# the include filter only needs a window of candidates).
HISTORY_WINDOW = 100


def dumps(doc: Any) -> bytes:
    """Stable, diff-friendly JSON for files humans read in `git log -p`."""
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass
class Batch:
    """Files to write in the next results commit, with what the commit message says."""

    files: dict[str, bytes | None] = field(default_factory=dict)
    contexts: dict[str, None] = field(default_factory=dict)
    events: dict[str, None] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def put(self, path: str, content: bytes | None) -> None:
        self.files[path] = content

    def note(self, line: str, *, context: str | None = None, event: str | None = None) -> None:
        if line and line not in self.lines:
            self.lines.append(line)
        if context:
            self.contexts[context] = None
        if event:
            self.events[event] = None

    def __bool__(self) -> bool:
        return bool(self.files)

    def message(self) -> str:
        head = self.lines[0] if self.lines else "record state"
        more = len(self.lines) - 1
        subject = head if more <= 0 else f"{head} (+{more} more)"
        body = "\n".join(f"- {line}" for line in self.lines[1:21])
        return subject + ("\n\n" + body if body else "")

    def trailers(self) -> list[tuple[str, str]]:
        out = [(contract.TRAILER_CONTEXT, c) for c in list(self.contexts)[:50]]
        out += [(contract.TRAILER_EVENT, e) for e in list(self.events)[:50]]
        if not self.events:
            out.append((contract.TRAILER_EVENT, "sh.reconciler.journal"))
        return out


RECORD_REF = "refs/reconciler/record"     # in the mirror only: the last record we know is whole
RESTORED_EVENT = "sh.reconciler.record.restored"
TRAILER_CONTROLLER = "Reconciler-Controller"


class ForeignController(RuntimeError):
    """Another controller writes this origin's record and started first: this one must not write."""

    def __init__(self, other: str, mine: str):
        self.other = other
        super().__init__(f"another controller writes reconciler/results of this repository: {other} "
                         f"(this one: {mine}); two would record everything twice. Stop one, or run "
                         "replicas with --lease so only the lease holder works")


def controller_identity(workdir: str, started: str | None = None) -> str:
    """`<start time> <host>/<pid> <workdir>`: the start time first, so the older one sorts first."""
    import datetime
    import os
    import socket
    started = started or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{started} {socket.gethostname()}/{os.getpid()} {workdir}"


def _same_home(a: str, b: str) -> bool:
    """Two identities of one work dir on one host are incarnations of one controller
    (`serve.lock` lets only one run there at a time)."""
    pa, pb = a.split(" ", 2), b.split(" ", 2)
    return len(pa) == 3 and len(pb) == 3 and pa[1].split("/")[0] == pb[1].split("/")[0] and pa[2] == pb[2]


class Journal:
    """Read and write the results branch through the mirror and the single writer.

    The record is never silently lost: the mirror keeps a private ref to the last results
    commit this controller wrote or saw grow from its own (`RECORD_REF`; never pushed, and it
    keeps the objects from gc). When the origin's branch is deleted or rewound, `guard` puts
    the record back with a new commit on top of whatever the origin has now — merging in
    anything people added there — and never force-pushes.
    """

    def __init__(self, mirror: Mirror, writer: Writer, *, identity: str | None = None, exclusive: bool = True):
        """`identity` goes into every results commit (`Reconciler-Controller`); with `exclusive`
        (the default without a Kubernetes Lease) a second controller writing the same record is
        detected, and the one that started later refuses to write (`ForeignController`)."""
        self.mirror = mirror
        self.writer = writer
        self.identity = identity or controller_identity(str(mirror.workdir))
        self.exclusive = exclusive
        self._foreign: ForeignController | None = None

    def _record(self) -> str | None:
        ref = self.mirror.repo.references.get(RECORD_REF)
        return None if ref is None else str(ref.target)

    def _remember(self, oid: str) -> None:
        self.mirror.repo.references.create(RECORD_REF, pygit2.Oid(hex=oid), force=True)

    def guard(self) -> str | None:
        """Check the results branch against the last whole record; restore it when the origin
        lost commits. Returns what was restored (for the log and the events), else None."""
        if self._foreign is not None:
            raise self._foreign
        known, tip = self._record(), self.tip()
        if known is None or tip == known:
            if tip is not None and known is None:
                self._remember(tip)
            return None
        repo = self.mirror.repo
        if tip is not None and repo.descendant_of(pygit2.Oid(hex=tip), pygit2.Oid(hex=known)):
            if self.exclusive:
                self._check_others(repo, known, tip)
            self._remember(tip)                 # it grew from our record (our writes, people's)
            return None
        if known not in repo.odb:                # nothing left to restore from
            log.error("the record %s is gone from the mirror too; reconciler/results starts from %s",
                      known[:12], tip[:12] if tip else "nothing")
            return None
        what = ("deleted on the origin" if tip is None
                else f"rewound on the origin from {known[:12]} to {tip[:12]}")
        log.warning("reconciler/results was %s; restoring the record from the mirror", what)
        result = self.writer.write(contract.RESULTS_BRANCH, lambda view: _restore(repo, view.oid, known),
                                   f"restore the record: reconciler/results was {what}",
                                   [(contract.TRAILER_EVENT, RESTORED_EVENT)])
        if result.oid:
            self._remember(result.oid)
        return what

    @property
    def branch(self) -> str:
        return contract.RESULTS_BRANCH

    def tip(self) -> str | None:
        return self.mirror.tip(contract.RESULTS_BRANCH)

    def read_json(self, path: str, rev: str | None = None) -> Any | None:
        rev = rev or self.tip()
        if rev is None:
            return None
        raw = self.mirror.read(rev, path)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def files(self, prefix: str, rev: str | None = None) -> dict[str, str]:
        """`{path: blob id}` under a prefix at the tip (or `rev`)."""
        rev = rev or self.tip()
        return {} if rev is None else self.mirror.list_tree(rev, prefix)

    def evaluations(self, stage: str, service: str, limit: int = HISTORY_WINDOW) -> list[dict[str, Any]]:
        """Evidence documents of a lane, newest first (names start with a UTC timestamp)."""
        tip = self.tip()
        if tip is None:
            return []
        paths = sorted(self.files(f"{EVALUATIONS}{stage}/{service}/", tip), reverse=True)[:limit]
        docs = []
        for path in paths:
            doc = self.read_json(path, tip)
            if isinstance(doc, dict):
                docs.append(doc)
        return docs

    def _check_others(self, repo: pygit2.Repository, known: str, tip: str) -> None:
        """Look at the commits others added since our last write for another controller's."""
        walker = repo.walk(pygit2.Oid(hex=tip), pygit2.enums.SortMode.TOPOLOGICAL)
        walker.hide(pygit2.Oid(hex=known))
        for count, commit in enumerate(walker):
            if count >= 200:
                break
            other = parse_trailers(commit.message).get(TRAILER_CONTROLLER)
            if not other or other == self.identity or _same_home(other, self.identity):
                continue
            if other < self.identity:
                raise ForeignController(other, self.identity)
            log.warning("another controller also writes reconciler/results: %s; it started later "
                        "and will stop writing", other)

    def commit(self, batch: Batch) -> WriteResult:
        if self._foreign is not None:
            raise self._foreign
        restored = self.guard()
        if restored:
            batch.note(f"restored the record ({restored})", event=RESTORED_EVENT)
        before = self._record()
        files = dict(batch.files)
        trailers = [*batch.trailers(), (TRAILER_CONTROLLER, self.identity)]
        result = self.writer.write(contract.RESULTS_BRANCH, lambda tip: files, batch.message(), trailers)
        if result.oid:
            if self.exclusive and before is not None:
                # the writer may have put this commit on top of another controller's (a rejected
                # push, retried on the new tip): those commits are about to be hidden behind ours
                try:
                    self._check_others(self.mirror.repo, before, result.oid)
                except ForeignController as exc:
                    self._foreign = exc              # this write landed; the next one is refused
            self._remember(result.oid)
        return result


def _restore(repo: pygit2.Repository, tip: str | None, known: str) -> TreeChange:
    """The record's tree merged with what the origin's branch has now (the record wins where
    both changed a file), as a commit whose parents are the current tip and the record."""
    record = repo[known].peel(pygit2.Commit)
    if tip is None:
        return TreeChange(record.tree_id, extra_parents=(known,))
    current = repo[tip].peel(pygit2.Commit)
    base_oid = repo.merge_base(current.id, record.id)
    base = repo[base_oid].peel(pygit2.Tree) if base_oid is not None else repo[repo.TreeBuilder().write()]
    index = repo.merge_trees(base, record.tree, current.tree, favor=pygit2.enums.MergeFavor.OURS)
    return TreeChange(index.write_tree(repo), extra_parents=(known,))


def lane_text(stage: str, service: str, context: str, runs: list[Any]) -> bytes:
    """A lane file people can read in `git log -p`: each run's state pretty-printed, each of
    its CloudEvents on one line of its own (as the run keeps them, compact), so a transition
    shows as a few changed lines and an added event line. Encoding it costs no decode of the
    events, which dominates the size."""
    from reconciler.engine.state import FORMAT_VERSION, LANE_KIND
    head = {"apiVersion": "reconciler/v1", "kind": LANE_KIND, "version": FORMAT_VERSION,
            "stage": stage, "service": service, "context": context}
    parts = ["{"] + [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    parts.append(' "runs": [')
    for i, run in enumerate(runs):
        body = json.dumps(run.to_dict(events=False), indent=1, ensure_ascii=False)
        events = ",\n".join("   " + event for event in run.events)
        text = body[:-1].rstrip() + ',\n "events": [\n' + events + ("\n" if events else "") + " ]\n}"
        parts.append("  " + text.replace("\n", "\n  ") + ("," if i < len(runs) - 1 else ""))
    parts += [" ]", "}"]
    return ("\n".join(parts) + "\n").encode()


def lane_path(stage: str, service: str, context: str) -> str:
    return contract.sequence_path(stage, service, context)


def escalation_path(stage: str, service: str, context: str) -> str:
    return f"{ESCALATIONS}{stage}/{service}/{context}.json"


def tips_document(tips: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "reconciler/v1", "kind": "ProcessedTips", "tips": dict(sorted(tips.items()))}
