"""The `approval` task: Keptn's approval-service, with Git as the approval channel.

Judging (Keptn f.5): the result under judgement is `data.result` (empty: `evaluation.result`).
`pass` with `pass: automatic`, or `warning` with `warning: automatic`, approves at once;
an inherited `fail` declines at once; everything else — manual, missing properties, an empty
result — waits for a person.

When the approval carries the promotion into this stage (`data.approval.promotion`, see
docs/sequencing.md), approving *is* landing that change: automatically, the change is
committed on the stage branch; manually, the branch `approve/<stage>/<service>/<short ctx>`
is pushed with the stage tip plus one commit holding the change, and merging it is the
approval. Without a promotion the branch holds one empty commit. A pull request is opened
when a forge is configured.

A waiting approval does not occupy a worker: `run` returns `Pending`, and the controller
calls `decide` on every tips change until it answers. `approve`/`decline` are the same
decisions with plain Git, for `reconciler approve|decline CONTEXT`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pygit2

from reconciler import layout
from reconciler.contract import (
    APPROVAL_PREFIX,
    BOT_EMAIL,
    BOT_NAME,
    TRAILER_CONTEXT,
    TRAILER_EVENT,
    TRAILER_STEP,
    approval_branch,
)
from reconciler.engine.changeset import ChangeError
from reconciler.engine.events import task_type
from reconciler.gitstore import threeway
from reconciler.gitstore.errors import GitStoreError, MergeConflict, PushRejected, UnknownRevision
from reconciler.gitstore.trailers import format_message
from reconciler.gitstore.trailers import parse as parse_trailers
from reconciler.gitstore.writer import TipView, TreeChange
from reconciler.tasks.base import Pending, TaskEnv, TaskOutcome, TaskRequest
from reconciler.tasks.common import (
    BuiltinExecutor,
    carries,
    commit_trailers,
    commits_carrying,
    mapping,
    stage_commit,
    text,
)
from reconciler.tasks.forges import registry as forges
from reconciler.tasks.forges.base import ForgeError
from reconciler.tasks.promotion import Change, change_tree_on, land, yaml_resolver

if TYPE_CHECKING:
    from reconciler.gitstore import Mirror, Writer

APPROVAL = layout.TASK_APPROVAL
APPROVAL_TRIGGERED = task_type(APPROVAL, "triggered")
APPROVAL_FINISHED = task_type(APPROVAL, "finished")
AUTOMATIC = "automatic"   # otherwise "manual", the default: wait for a merge (or a decline)
SQUASH_SCAN_LIMIT = 500
FF_ATTEMPTS = 5

Verdict = Literal["approve", "decline", "wait"]


def judged_result(data: Mapping[str, Any]) -> str:
    """The result under judgement: `data.result`, else `data.evaluation.result` (Keptn)."""
    result = text(data.get("result"))
    return result or text(mapping(data.get("evaluation")).get("result"))


def judge(properties: Mapping[str, Any], data: Mapping[str, Any]) -> Verdict:
    """Keptn's approval-service rules, including its "wait" for missing properties."""
    result = judged_result(data)
    if result == "fail":
        return "decline"
    if result in ("pass", "warning") and properties.get(result) == AUTOMATIC:
        return "approve"
    return "wait"


def promotion_of(request: TaskRequest) -> tuple[Change, dict[str, Any]] | None:
    """The change this approval lands (`data.approval.promotion`), or None."""
    raw = mapping(request.properties.get("promotion"))
    commit = text(raw.get("commit"))
    if not commit:
        return None
    # The change set travels in the events (`configurationChange.files`) when it is the same change.
    carried = mapping(request.data.get("configurationChange"))
    files = carried.get("files") if text(carried.get("commit")) == commit else None
    change = Change.from_data(request.service, {"commit": commit, "base": text(raw.get("base")) or None,
                                                 "files": files})
    assert change is not None
    return change, dict(raw)


class ApprovalExecutor(BuiltinExecutor):
    name = "approval"
    task = APPROVAL
    # The controller must not send `.started` when it dispatches this task: the `.started`
    # of a waiting approval is the one that carries `Pending.data` (branch, commit, PR), and
    # the sequencer accepts one `.started` per source. An automatic decision sends only
    # `.finished`, so only a manual approval enters `waitingForApproval`.
    started_on_dispatch = False

    def execute(self, request: TaskRequest, env: TaskEnv) -> TaskOutcome | Pending:
        verdict = judge(request.properties, request.data)
        result = judged_result(request.data) or "no result"
        promotion = promotion_of(request)
        if verdict == "decline":
            return TaskOutcome(result="fail", message=f"approval declined automatically: the result under "
                               f"judgement is {result}")
        if verdict == "approve":
            if promotion is None:
                return TaskOutcome(result="pass", message=f"approved automatically ({result} is set to automatic)")
            change, raw = promotion
            try:
                commit = land(env, change, context=request.context,
                              source_stage=text(raw.get("sourceStage")) or "?", target_stage=request.stage,
                              step=text(raw.get("key")) or request.step("promote"), event_type=APPROVAL_TRIGGERED)
            except ChangeError as exc:
                return TaskOutcome.errored(_clash_message(change, exc))
            except GitStoreError as exc:
                return TaskOutcome.errored(f"approved automatically, but the change could not be landed on "
                                           f"{request.stage}: {exc}")
            return TaskOutcome(result="pass", gitcommitid=commit,
                               message=f"approved automatically ({result} is set to automatic); change "
                                       f"{change.describe()} landed on {request.stage} as {commit[:12]}")
        return self._open(request, env, promotion, result)

    def _open(self, request: TaskRequest, env: TaskEnv, promotion: tuple[Change, dict[str, Any]] | None,
              result: str) -> TaskOutcome | Pending:
        stage, service, context = request.stage, request.service, request.context
        branch = approval_branch(stage, service, context)
        step = text(promotion[1].get("key")) if promotion else ""
        step = step or request.key
        env.mirror.fetch([branch, stage])
        # The approval commit goes on the stage as it is now, so that merging it is clean.
        stage_tip = env.mirror.tip(stage) or stage_commit(request, env)
        existing = env.mirror.tip(branch)
        commit = _existing_approval(env, branch, step, context, stage_tip) if existing is not None else None
        if existing is not None and commit is None:
            owner = parse_trailers(env.mirror.commit(existing).message).get(TRAILER_CONTEXT)
            return TaskOutcome.errored(f"branch {branch} already exists and does not hold this approval "
                                       f"(its context is {owner or 'unknown'}); delete it and trigger again")
        if commit is None:
            try:
                commit = _approval_commit(env.mirror, stage, service, context, stage_tip, step,
                                          promotion[0] if promotion else None)
            except ChangeError as exc:
                assert promotion is not None
                return TaskOutcome.errored(_clash_message(promotion[0], exc))
            env.writer.create_branch(branch, commit)
            base = stage_tip
        else:                      # a redelivery: the branch is already there
            parents = env.mirror.commit(commit).parent_ids
            base = str(parents[0]) if parents else stage_tip
        pending: dict[str, Any] = {"branch": branch, "commit": commit, "base": base, "stage": stage,
                                   "service": service, "context": context}
        message = (f"waiting for approval of {service} in {stage} ({result}): merge branch {branch} into "
                   f"{stage} to approve, delete it to decline")
        try:
            forge = forges.from_settings(env.settings.spec.forge, env.mirror.url, environ=env.environ)
        except ForgeError as exc:
            forge = None
            message += f"; no pull request: {exc}"
        if forge is not None:
            try:
                pr = forge.open_pull_request(branch, stage, _pr_title(stage, service, context),
                                             pr_body(request, branch, promotion[0] if promotion else None))
                pending["pullRequest"] = {"kind": forge.kind, **pr.to_dict()}
                message += f"; pull request {pr.url}"
            except ForgeError as exc:
                env.log.warning("approval %s: %s", branch, exc)
                message += f"; the pull request could not be opened: {exc}"
        return Pending(message=message, data={APPROVAL: pending})


def _existing_approval(env: TaskEnv, branch: str, step: str, context: str, stage_tip: str) -> str | None:
    """The approval commit already on `branch` (a redelivery): found by its step, else as the
    commit of this context with the approval event that the stage does not have yet."""
    found = env.writer.find_step(branch, step)
    if found is not None:
        return found
    tip = env.mirror.tip(branch)
    assert tip is not None
    mine = [c for c in commits_carrying(env.mirror, tip, TRAILER_CONTEXT, context, since=stage_tip, limit=100)
            if carries(c.message, TRAILER_EVENT, APPROVAL_TRIGGERED)]
    return mine[-1].oid if mine else None


def _clash_message(change: Change, exc: ChangeError) -> str:
    return f"cannot approve: change {change.describe()} of {change.service} cannot be set: {exc}"


def _approval_commit(mirror: Mirror, stage: str, service: str, context: str, stage_tip: str, step: str,
                     change: Change | None) -> str:
    """One commit on top of the stage tip: the promotion, or nothing (an empty commit)."""
    repo = mirror.repo
    parent = mirror.commit(stage_tip)
    tree = change_tree_on(mirror, change, stage_tip, stage) if change is not None else parent.tree_id
    if change is not None:
        subject = (f"approve promotion of {service} to {stage}\n\n"
                   f"Change {change.describe()} of {service}/, waiting for approval.")
    else:
        subject = f"approve {stage} {service} {context}"
    message = format_message(subject, commit_trailers(context, APPROVAL_TRIGGERED) + [(TRAILER_STEP, step)])
    bot = pygit2.Signature(BOT_NAME, BOT_EMAIL)
    return str(repo.create_commit(None, bot, bot, message, tree, [parent.id]))


def _pr_title(stage: str, service: str, context: str) -> str:
    return f"Approve {service} in {stage} ({context[:8]})"


def pr_body(request: TaskRequest, branch: str, change: Change | None) -> str:
    """What a reviewer needs: what changes, and the evaluation that led here."""
    lines = [f"Merging this pull request approves the sequence `{request.context}` for **{request.service}** "
             f"in stage **{request.stage}**; closing it declines.", ""]
    if change is not None:
        source = text(mapping(request.properties.get("promotion")).get("sourceStage")) or "the previous stage"
        lines.append(f"Change: `{change.describe()}` of `{request.service}/`, promoted from `{source}`.")
        lines.append("")
    evaluation = mapping(request.data.get("evaluation"))
    if evaluation:
        lines.append(f"Evaluation: **{text(evaluation.get('result')) or 'unknown'}**, score "
                     f"{evaluation.get('score', '?')}")
        results = evaluation.get("indicatorResults")
        if isinstance(results, list) and results:
            lines += ["", "| objective | value | status | score |", "|---|---|---|---|"]
            for item in results:
                item = mapping(item)
                value = mapping(item.get("value"))
                name = text(item.get("displayName")) or text(item.get("sli")) or text(value.get("metric"))
                shown = value.get("value") if value.get("success") else (text(value.get("message")) or "no value")
                lines.append(f"| {name} | {shown} | {item.get('status', '')} | {item.get('score', '')} |")
    else:
        lines.append(f"Result under judgement: **{judged_result(request.data) or 'none'}**.")
    lines += ["", f"Branch: `{branch}`. With plain Git: `reconciler approve {request.context}`."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- deciding

def decide(pending_data: Mapping[str, Any], request: TaskRequest, env: TaskEnv) -> TaskOutcome | None:
    """Has a person decided a waiting approval? Called by the controller on tips changes.

    Approved: the approval commit is in the stage branch (merge or fast-forward), or a commit
    on the stage branch carries the context and the approval event (a squash merge) → pass,
    `gitcommitid` = the stage tip. Declined: the branch is gone without being merged, or the
    pull request was closed unmerged → fail. Otherwise None (still waiting). Never raises.
    """
    info = mapping(pending_data.get(APPROVAL)) or pending_data
    branch, commit = text(info.get("branch")), text(info.get("commit"))
    stage = text(info.get("stage")) or request.stage
    context = text(info.get("context")) or request.context
    if not branch or not commit:
        return TaskOutcome.errored("the waiting approval has lost its branch and commit; trigger the sequence again")
    try:
        mirror = env.mirror
        stage_tip = mirror.tip(stage)
        if stage_tip is not None and (_reachable(mirror, commit, stage_tip)
                                      or _squashed(mirror, text(info.get("base")) or None, stage_tip, context)):
            _clean_up(env, branch, stage_tip)
            return TaskOutcome(result="pass", gitcommitid=stage_tip,
                               message=f"approved: branch {branch} was merged into {stage}")
        if mirror.tip(branch) is None:
            return TaskOutcome(result="fail", message=f"declined: branch {branch} was deleted without being "
                                                      f"merged into {stage}")
        pr = mapping(info.get("pullRequest"))
        if isinstance(pr.get("number"), int):
            state = _pull_request_state(env, int(pr["number"]))
            if state == "closed":
                which = text(pr.get("url")) or pr["number"]
                return TaskOutcome(result="fail", message=f"declined: pull request {which} was closed without merging")
    except Exception as exc:   # noqa: BLE001 - the controller asks again on the next change
        env.log.warning("approval %s: could not decide yet: %s", branch, exc)
    return None


def _reachable(mirror: Mirror, commit: str, tip: str) -> bool:
    try:
        return mirror.is_ancestor(commit, tip)
    except UnknownRevision:
        return False


def _squashed(mirror: Mirror, base: str | None, tip: str, context: str) -> bool:
    """A commit since `base` that carries the context and the approval event (a squash merge)."""
    return any(carries(c.message, TRAILER_EVENT, APPROVAL_TRIGGERED)
               for c in commits_carrying(mirror, tip, TRAILER_CONTEXT, context, since=base, limit=SQUASH_SCAN_LIMIT))


def _pull_request_state(env: TaskEnv, number: int) -> str | None:
    forge = forges.from_settings(env.settings.spec.forge, env.mirror.url, environ=env.environ)
    if forge is None:
        return None
    return forge.pull_request(number).state


def _clean_up(env: TaskEnv, branch: str, stage_tip: str) -> None:
    """Delete a merged approval branch (a forge may have done it already)."""
    tip = env.mirror.tip(branch)
    if tip is None or not _reachable(env.mirror, tip, stage_tip):
        return
    try:
        env.writer.delete_branch(branch, expected=tip)
    except GitStoreError as exc:
        env.log.info("approval branch %s left in place: %s", branch, exc)


# --------------------------------------------------------------------------- plain Git

class ApprovalError(Exception):
    """`reconciler approve|decline` cannot do what was asked; the message says what to do."""


@dataclass(frozen=True)
class ManualDecision:
    branch: str
    stage: str
    service: str
    context: str
    decision: Literal["approved", "declined"]
    commit: str | None = None         # the stage tip after approving
    fast_forward: bool = False


def find_approval_branches(mirror: Mirror, context: str, *, stage: str | None = None,
                           service: str | None = None) -> list[tuple[str, str, str]]:
    """(branch, stage, service) of every approval branch of `context` (full or short)."""
    short = context[:8]
    out = []
    for name in sorted(mirror.tips()):
        if not name.startswith(APPROVAL_PREFIX):
            continue
        parts = name[len(APPROVAL_PREFIX):].split("/")
        if len(parts) != 3 or parts[2] != short:
            continue
        if (stage is None or parts[0] == stage) and (service is None or parts[1] == service):
            out.append((name, parts[0], parts[1]))
    return out


def _one_branch(mirror: Mirror, context: str, stage: str | None, service: str | None) -> tuple[str, str, str]:
    mirror.fetch()
    found = find_approval_branches(mirror, context, stage=stage, service=service)
    if not found:
        where = "".join(f" {k} {v}" for k, v in (("stage", stage), ("service", service)) if v)
        raise ApprovalError(f"no approval is waiting for context {context}{where} (no branch "
                            f"{APPROVAL_PREFIX}<stage>/<service>/{context[:8]}); see `reconciler status`")
    if len(found) > 1:
        raise ApprovalError(f"several approvals wait for context {context}: {', '.join(b for b, _, _ in found)}; "
                            f"say which with --stage (and --service)")
    return found[0]


def approve(mirror: Mirror, writer: Writer, context: str, *, stage: str | None = None,
            service: str | None = None) -> ManualDecision:
    """Merge the approval branch into its stage branch and delete it.

    Fast-forward when the stage has not moved, else a merge commit built in memory (the
    approval commit as second parent). Raises ApprovalError, or MergeConflict naming paths.
    """
    branch, stage_name, service_name = _one_branch(mirror, context, stage, service)
    for _ in range(FF_ATTEMPTS):
        head = mirror.tip(branch)
        stage_tip = mirror.tip(stage_name)
        if head is None:
            raise ApprovalError(f"branch {branch} disappeared while approving; it was declined meanwhile")
        if stage_tip is None:
            raise ApprovalError(f"stage branch {stage_name} does not exist")
        full_context = parse_trailers(mirror.commit(head).message).get(TRAILER_CONTEXT) or context
        if mirror.is_ancestor(head, stage_tip):
            new_tip, ff = stage_tip, False      # already merged
            break
        if mirror.is_ancestor(stage_tip, head):
            try:
                with writer.lock(stage_name):
                    mirror.update_branch(stage_name, pygit2.Oid(hex=head), pygit2.Oid(hex=stage_tip))
            except PushRejected:
                mirror.fetch([stage_name, branch])
                continue
            new_tip, ff = head, True
            break
        result = writer.write(stage_name, _merge_builder(head, stage_name, branch),
                              f"approve {stage_name} {service_name} {full_context}\n\nMerge branch {branch}.",
                              commit_trailers(full_context, APPROVAL_FINISHED, "pass"),
                              step=f"{full_context}/{stage_name}/approve/{head[:12]}")
        assert result.oid is not None
        new_tip, ff = result.oid, False
        break
    else:
        raise ApprovalError(f"branch {stage_name} kept moving; try again")
    writer.delete_branch(branch)
    return ManualDecision(branch, stage_name, service_name, full_context, "approved", new_tip, ff)


def _merge_builder(head: str, stage: str, branch: str):
    def build(tip: TipView) -> TreeChange:
        repo = tip.repo
        assert tip.oid is not None
        base_oid = repo.merge_base(pygit2.Oid(hex=tip.oid), pygit2.Oid(hex=head))
        base_tree = repo[base_oid].peel(pygit2.Commit).tree if base_oid is not None else None
        merged = threeway.merge_into(repo, base_tree, tip.tree, repo[head].peel(pygit2.Commit).tree,
                                     resolver=yaml_resolver)
        if not merged.ok:
            raise MergeConflict("merge", head, stage, merged.conflicts)
        return TreeChange(merged.tree, extra_parents=(head,))  # type: ignore[arg-type]
    return build


def decline(mirror: Mirror, writer: Writer, context: str, *, stage: str | None = None,
            service: str | None = None) -> ManualDecision:
    """Delete the approval branch (the waiting sequence then finishes with result fail)."""
    branch, stage_name, service_name = _one_branch(mirror, context, stage, service)
    head = mirror.tip(branch)
    full_context = (parse_trailers(mirror.commit(head).message).get(TRAILER_CONTEXT) if head else None) or context
    writer.delete_branch(branch)
    return ManualDecision(branch, stage_name, service_name, full_context, "declined")
