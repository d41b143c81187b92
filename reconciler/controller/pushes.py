"""Pushes: branch tips changed → commit facts → config reload → triggers through the gate.

Called by the controller thread when a source (poll, watch, webhook) said the tips may have
changed. One fetch; each changed branch becomes a `BranchUpdate` with the facts of its new
commits (read from the mirror); the config in force is reloaded; `engine.triggers.classify`
turns the updates into triggers and `engine.config_gate` refuses those of services whose config
has errors. The new tips are recorded in the same batch as the triggers they caused
(`state/tips.json`), so a crash either redoes both or neither.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from reconciler import contract
from reconciler.controller import journal as J
from reconciler.engine.config_gate import gate
from reconciler.engine.inputs import ConfigChanged, EventReceived
from reconciler.engine.triggers import BranchUpdate, CommitFacts, classify
from reconciler.gitstore import Mirror
from reconciler.tasks.promotion import delivery_change

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller

log = logging.getLogger("reconciler.controller")


def config_branches(tips: dict[str, str]) -> dict[str, str]:
    """The branches that carry config: all but the results branch and approval branches."""
    return {b: o for b, o in tips.items()
            if b != contract.RESULTS_BRANCH and not b.startswith(contract.APPROVAL_PREFIX)}


def branch_updates(mirror: Mirror, old: dict[str, str], new: dict[str, str]) -> list[BranchUpdate]:
    """Every branch whose tip moved (created, moved or deleted), with its new commits' facts."""
    updates = []
    for branch in sorted(set(old) | set(new)):
        before, tip = old.get(branch), new.get(branch)
        if before == tip:
            continue
        commits = commit_facts(mirror, before, tip) if tip else ()
        updates.append(BranchUpdate(branch, before, tip, commits))
    return updates


def commit_facts(mirror: Mirror, old: str | None, new: str) -> tuple[CommitFacts, ...]:
    """The facts of the commits `old..new`; none for a new branch (or an old tip the mirror no
    longer has): what it adds relative to the branches we know, not its whole history."""
    if old is not None and not _known(mirror, old):
        old = None
    if old is None:
        return ()
    out = []
    for info in mirror.commits(old, new):
        merged: tuple[dict[str, str], ...] = ()
        if len(info.parents) > 1:
            merged = tuple(mirror.commit_info(p).trailers.to_dict() for p in info.parents[1:])
        out.append(CommitFacts(oid=info.oid, author_email=info.author.email,
                               trailers=info.trailers.to_dict(), paths=info.changed_paths,
                               merged_trailers=merged))
    return tuple(out)


def _known(mirror: Mirror, oid: str) -> bool:
    try:
        mirror.commit(oid)
        return True
    except Exception:  # noqa: BLE001
        return False


def process_tips(ctl: Controller, now: float) -> bool:
    """Fetch and act on every branch that moved since the tips the controller last processed.
    False when the fetch failed (the controller's health says why, once; retried next pass)."""
    fetched = ctl.fetch()
    if fetched is None:
        ctl.tips_dirty.set()            # try again on the next iteration
        return False
    if not ctl.guard_record():          # before anything reads the record; False: halted
        return False
    new = config_branches(fetched)
    updates = branch_updates(ctl.mirror, ctl.tips, new)
    if not updates:
        ctl.check_approvals(now)
        return True
    config = ctl.config
    batch = ctl.batch
    update = config.load(new)
    status_changed = update.findings_changed or update.shipyard_changed or update.settings_changed
    settings = config.settings
    if update.shipyard_changed or update.settings_changed:
        ctl.feed(ConfigChanged(config.shipyard, settings.spec.timeouts, settings.project), now)
        batch.note("config: new shipyard/settings in force")
        ctl.warn_sli_provider()
    stages = config.shipyard.stage_names if config.shipyard else []
    report = classify(updates, stages, config.default_branch or "main")
    for notice in report.notices:
        log.info("push %s: %s", notice.commit[:12], notice.message)
    for gated in gate(report.triggers, config.findings):
        trigger = gated.trigger
        if not gated.starts:
            errors = list(gated.errors)
            config.note_rejected(trigger.stage, trigger.service, trigger.commit, errors)
            status_changed = True
            ctl.metrics.rejected_triggers.inc()
            batch.note(f"{trigger.stage}/{trigger.service}: {trigger.sequence} NOT started: "
                       f"invalid config at {trigger.commit[:12]} ({errors[0].human()})")
            log.warning("not starting %s for %s/%s: invalid config: %s", trigger.sequence, trigger.stage,
                        trigger.service, "; ".join(f.human() for f in errors[:3]))
            continue
        ctl.ensure_context(trigger.context)
        event = trigger.event(settings.project, now, delivery_change(ctl.mirror, trigger))
        rejected = ctl.feed(EventReceived(event), now)
        if not rejected:
            ctl.metrics.triggers.labels(trigger.stage).inc()
    if status_changed:
        errors = [f for f in config.findings if f.is_error]
        if errors:
            batch.note(f"config: {len(errors)} error(s), e.g. {errors[0].human()}; "
                       f"the last valid config stays in force")
        else:
            batch.note(f"config: valid ({len(config.findings)} warning(s))")
        batch.put(J.CONFIG_STATUS, J.dumps(config.status_document()))
        ctl.metrics.config_errors.set(sum(1 for f in config.findings if f.is_error))
    ctl.tips = new
    if batch or report.triggers:
        batch.put(J.TIPS, J.dumps(J.tips_document(new)))
    ctl.check_approvals(now)
    return True
