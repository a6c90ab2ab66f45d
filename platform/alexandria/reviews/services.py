"""Writes for reviews: handing out tasks, recording answers, consensus, reputation, edits.

The rules are described in the package docstring (``alexandria.reviews``).
"""

import random
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from alexandria.contributors.models import Contributor
from alexandria.contributors.services import ban_contributor, contributor_for_discord_user
from alexandria.core.errors import AlexandriaError, ConflictError
from alexandria.knowledge.models import KnowledgeItem, Review
from alexandria.knowledge.services import hide_item, reindex_items_after_commit
from alexandria.reviews import selectors
from alexandria.reviews.models import (
    EditProposal,
    GoldItem,
    Report,
    ReputationEvent,
    ReviewTask,
    Settlement,
)

Verdict = Review.Verdict
Status = KnowledgeItem.Status
WEIGHED_VERDICTS = {Verdict.SUPPORTED, Verdict.NOT_SUPPORTED, Verdict.UNCLEAR}
EDITABLE_VERDICTS = {Verdict.SUPPORTED, Verdict.UNCLEAR}
SUPERSEDED_REASON = "superseded by edit"


class AnswerRefused(AlexandriaError):
    """The answer can't be recorded as sent (bad combination of fields)."""


class AnswerConflict(ConflictError):
    """The answer contradicts what is already recorded, or the item no longer takes answers."""


class EditRefused(ConflictError):
    """The edit proposal can't become a new version."""


class ModerationRefused(AlexandriaError):
    """A moderation action that must not happen (e.g. banning a moderator through the bot)."""

    status_code = HTTPStatus.FORBIDDEN
    code = "permission_denied"


@dataclass(frozen=True)
class TaskOffer:
    task: ReviewTask | None
    resumed: bool = False


@dataclass(frozen=True)
class AnswerOutcome:
    task: ReviewTask
    repeated: bool
    settled: str | None = None
    edit_proposal: EditProposal | None = None
    report: Report | None = None


def _squash(text: str) -> str:
    return " ".join(text.split())


@transaction.atomic
def next_task(contributor: Contributor) -> TaskOffer:
    """Hand the member a new item to review, or their oldest open task when they hold the max."""
    # One member's concurrent requests queue here, so the open-task limit holds.
    Contributor.objects.select_for_update().filter(pk=contributor.pk).first()
    now = timezone.now()
    open_tasks = selectors.open_tasks_of(contributor, now=now)
    if open_tasks.count() >= settings.REVIEW_MAX_OPEN_TASKS:
        return TaskOffer(open_tasks.order_by("created_at", "pk").first(), resumed=True)
    regular = selectors.reviewable_items_for(contributor, now=now)
    item = None
    # Gold only mixes into real work: with nothing else left it would give itself away.
    if random.random() < settings.REVIEW_GOLD_RATE and regular.exists():
        item = selectors.gold_items_for(contributor, now=now).order_by("?").first()
    if item is None:
        item = regular.first()
    if item is None:
        return TaskOffer(None)
    task = ReviewTask.objects.create(
        contributor=contributor,
        item=item,
        expires_at=now + timedelta(seconds=settings.REVIEW_TASK_TTL_SECONDS),
    )
    return TaskOffer(task)


@transaction.atomic
def answer_task(
    task: ReviewTask, *, verdict: str, comment: str = "", proposed_text: str = ""
) -> AnswerOutcome:
    """Record a member's verdict on their task; repeating the same verdict changes nothing.

    A late answer (after the task expired) still counts while the item takes answers.
    """
    task = ReviewTask.objects.select_for_update().get(pk=task.pk)
    proposed_text = proposed_text.strip()
    if task.answered_at is not None:
        if task.verdict == verdict:
            return AnswerOutcome(task, repeated=True)
        raise AnswerConflict(f"You already answered this task with '{task.verdict}'.")
    item = KnowledgeItem.objects.select_for_update().get(pk=task.item_id)
    if proposed_text and verdict not in EDITABLE_VERDICTS:
        raise AnswerRefused("A proposed edit goes with a 'supported' or 'unclear' verdict.")
    if proposed_text and _squash(proposed_text) == _squash(item.text):
        raise AnswerRefused("The proposed text is the same as the item's text.")
    gold = GoldItem.objects.filter(item=item).first()
    if item.status == Status.WITHDRAWN or (
        gold is None and (item.status != Status.PENDING or item.merged_into_id)
    ):
        state = "merged" if item.merged_into_id else item.status
        raise AnswerConflict(f"This item is no longer open for review (it is {state}).")
    reviewer = Contributor.objects.select_for_update().get(pk=task.contributor_id)
    if Review.objects.filter(item=item, reviewer=reviewer).exists():
        raise AnswerConflict("You already reviewed this item.")

    review = Review.objects.create(
        item=item,
        reviewer=reviewer,
        verdict=verdict,
        weight=reviewer.reputation,
        comment=comment,
        proposed_text=proposed_text,
    )
    task.answered_at = timezone.now()
    task.verdict = verdict
    task.review = review
    task.save(update_fields=["answered_at", "verdict", "review"])

    report = None
    if verdict == Verdict.REPORT:
        report = Report.objects.create(item=item, reporter=reviewer, comment=comment)
    proposal = _propose_edit(item, reviewer, proposed_text) if proposed_text else None
    settled = None
    if gold is not None:
        _score_gold_answer(reviewer, gold, verdict)
    else:
        settlement = settle_if_decided(item)
        settled = settlement.outcome if settlement else None
    return AnswerOutcome(
        task, repeated=False, settled=settled, edit_proposal=proposal, report=report
    )


def _propose_edit(item: KnowledgeItem, proposer: Contributor, text: str) -> EditProposal:
    """Open a proposal, or endorse the open one with the same text."""
    for proposal in item.edit_proposals.filter(status=EditProposal.Status.OPEN):
        if _squash(proposal.text) == _squash(text):
            if proposal.proposer_id != proposer.pk:
                proposal.endorsers.add(proposer)
            return proposal
    return EditProposal.objects.create(item=item, proposer=proposer, text=text)


def settle_if_decided(item: KnowledgeItem) -> Settlement | None:
    """Accept or reject the (locked, pending) item when its weighted votes decide it."""
    weights = selectors.vote_weights(item)
    supported = weights[Verdict.SUPPORTED]
    not_supported = weights[Verdict.NOT_SUPPORTED]
    total = supported + not_supported + weights[Verdict.UNCLEAR]
    if total <= 0:
        return None
    minimum, share = settings.CONSENSUS_MIN_WEIGHT, settings.CONSENSUS_SHARE
    if supported >= minimum and supported / total >= share:
        outcome, winning = Status.ACCEPTED, Verdict.SUPPORTED
    elif not_supported >= minimum and not_supported / total >= share:
        outcome, winning = Status.REJECTED, Verdict.NOT_SUPPORTED
    else:
        return None

    item.status = outcome
    item.save(update_fields=["status", "updated_at"])
    reindex_items_after_commit([item.pk])
    settlement = Settlement.objects.create(
        item=item,
        outcome=outcome,
        supported_weight=supported,
        not_supported_weight=not_supported,
        unclear_weight=weights[Verdict.UNCLEAR],
    )
    decisive = item.reviews.filter(verdict__in=[Verdict.SUPPORTED, Verdict.NOT_SUPPORTED])
    for review in decisive.order_by("pk"):
        agreed = review.verdict == winning
        reason = (
            f"{'Agreed' if agreed else 'Disagreed'} with the consensus on item #{item.pk} "
            f"({outcome})."
        )
        move_reputation(review.reviewer_id, agreed=agreed, reason=reason, item=item)
    if outcome == Status.ACCEPTED:
        _accept_endorsed_edit(item)
    else:
        item.edit_proposals.filter(status=EditProposal.Status.OPEN).update(
            status=EditProposal.Status.DECLINED, decided_at=timezone.now()
        )
    return settlement


def move_reputation(
    contributor_id: int, *, agreed: bool, reason: str, item: KnowledgeItem | None = None
) -> ReputationEvent | None:
    """Reward agreement (+step, capped) or penalise disagreement (x factor, floored); log it.

    None when the reputation is already at its cap or floor.
    """
    contributor = Contributor.objects.select_for_update().get(pk=contributor_id)
    before = contributor.reputation
    if agreed:
        after = max(before, min(settings.REPUTATION_MAX, before + settings.REPUTATION_AGREE_STEP))
    else:
        after = min(
            before, max(settings.REPUTATION_MIN, before * settings.REPUTATION_DISAGREE_FACTOR)
        )
    if after == before:
        return None
    contributor.reputation = after
    contributor.save(update_fields=["reputation"])
    return ReputationEvent.objects.create(
        contributor=contributor,
        delta=after - before,
        reputation_after=after,
        reason=reason[:300],
        item=item,
    )


def _score_gold_answer(reviewer: Contributor, gold: GoldItem, verdict: str) -> None:
    if verdict not in (Verdict.SUPPORTED, Verdict.NOT_SUPPORTED):
        return
    agreed = verdict == gold.expected_verdict
    reason = (
        "Answered a calibration statement correctly."
        if agreed
        else "Answered a calibration statement wrongly."
    )
    # No item on the ledger row: members must not be able to list the gold items.
    move_reputation(reviewer.pk, agreed=agreed, reason=reason)


def _accept_endorsed_edit(item: KnowledgeItem) -> KnowledgeItem | None:
    best = (
        item.edit_proposals.filter(status=EditProposal.Status.OPEN)
        .annotate(endorsements=Count("endorsers"))
        .filter(endorsements__gte=settings.REVIEW_EDIT_MIN_ENDORSEMENTS)
        .order_by("-endorsements", "created_at", "pk")
        .first()
    )
    return accept_edit(best) if best else None


@transaction.atomic
def accept_edit(proposal: EditProposal) -> KnowledgeItem:
    """Turn a proposal into a new version of its item; the old version is hidden."""
    proposal = EditProposal.objects.select_for_update().get(pk=proposal.pk)
    item = KnowledgeItem.objects.select_for_update().get(pk=proposal.item_id)
    if proposal.status != EditProposal.Status.OPEN:
        raise EditRefused(f"Edit proposal #{proposal.pk} was already {proposal.status}.")
    if item.status in (Status.HIDDEN, Status.REJECTED, Status.WITHDRAWN) or item.merged_into_id:
        state = "merged" if item.merged_into_id else item.status
        raise EditRefused(f"Item #{item.pk} is {state}; its edits can't be accepted.")
    new_version = KnowledgeItem.objects.create(
        kind=item.kind,
        layer=item.layer,
        text=proposal.text,
        details=item.details,
        confidence=item.confidence,
        status=item.status,
        previous_version=item,
        author=proposal.proposer,
    )
    new_version.anchors.set(item.anchors.all())
    new_version.derived_from.set(item.derived_from.all())
    for abstraction in item.abstractions.all():
        abstraction.derived_from.add(new_version)
    # The abstractions now rest on the new version too.
    reindex_items_after_commit([new_version.pk, *item.abstractions.values_list("pk", flat=True)])
    KnowledgeItem.objects.filter(merged_into=item).update(merged_into=new_version)
    now = timezone.now()
    proposal.status = EditProposal.Status.ACCEPTED
    proposal.new_version = new_version
    proposal.decided_at = now
    proposal.save(update_fields=["status", "new_version", "decided_at"])
    item.edit_proposals.filter(status=EditProposal.Status.OPEN).update(
        status=EditProposal.Status.DECLINED, decided_at=now
    )
    hide_item(item, SUPERSEDED_REASON)
    return new_version


def plant_gold_item(
    *, text: str, kind: str, expected_verdict: str, anchors=(), note: str = ""
) -> GoldItem:
    """Create a calibration statement: hidden from readers, served only among review work."""
    with transaction.atomic():
        item = KnowledgeItem.objects.create(
            kind=kind,
            text=text,
            status=Status.HIDDEN,
            hidden_reason="gold item: planted to calibrate reviewers",
        )
        item.anchors.set(anchors)
        return GoldItem.objects.create(item=item, expected_verdict=expected_verdict, note=note)


def mark_report_relayed(report: Report) -> Report:
    if report.relayed_at is None:
        Report.objects.filter(pk=report.pk, relayed_at__isnull=True).update(
            relayed_at=timezone.now()
        )
        report.refresh_from_db(fields=["relayed_at"])
    return report


def moderator_hide_item(item: KnowledgeItem, *, reason: str, moderator: Contributor) -> bool:
    """Hide an item on a moderator's word from Discord; False when it was already hidden."""
    return hide_item(item, f"{reason.strip()} (moderator {moderator}, via Discord)")


def moderator_ban_member(
    discord_id: str, *, reason: str, moderator: Contributor
) -> tuple[Contributor, bool]:
    """Ban a member by Discord id (also one never seen before, so the ban waits for them).

    Returns the member and whether this call banned them (False: they already were).
    """
    target = contributor_for_discord_user(discord_id)
    if target.pk == moderator.pk:
        raise ModerationRefused("You can't ban yourself.")
    if target.user.is_staff or target.discord_id in settings.DISCORD_MODERATOR_IDS:
        raise ModerationRefused("Moderators and staff can't be banned from Discord; use the admin.")
    if target.is_banned:
        return target, False
    ban_contributor(target, reason=f"{reason.strip()} (moderator {moderator}, via Discord)")
    return target, True
