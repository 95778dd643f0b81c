"""Writes to guides: status moves along the review workflow, each one a history entry with who and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from helpline.site.guides.models import Guide

S = Guide.Status
# draft -> in review -> published -> retired; a reviewer may send a guide back to
# draft, and a retired guide starts again as a draft (and is reviewed again).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.IN_REVIEW}),
    S.IN_REVIEW: frozenset({S.DRAFT, S.PUBLISHED}),
    S.PUBLISHED: frozenset({S.RETIRED}),
    S.RETIRED: frozenset({S.DRAFT}),
}
REVIEW_INTERVAL = dt.timedelta(days=365)


class GuideTransitionError(ValueError):
    pass


def _save(guide: Guide, *, by: Any, reason: str, fields: list[str]) -> None:
    guide._history_user = by  # type: ignore[attr-defined]  # read by simple_history
    guide._change_reason = reason  # type: ignore[attr-defined]
    guide.save(update_fields=[*fields, "updated_at"])


@transaction.atomic
def guide_transition(*, guide: Guide, to: str, by: Any = None) -> Guide:
    """Move ``guide`` to status ``to`` if the workflow allows it; publishing goes through ``guide_publish``."""
    guide = Guide.objects.select_for_update().get(pk=guide.pk)
    if to == S.PUBLISHED:
        raise GuideTransitionError("Publish with a reviewer: use guide_publish.")
    if to not in TRANSITIONS[guide.status]:
        raise GuideTransitionError(f"A {guide.get_status_display().lower()} guide cannot become {S(to).label.lower()}.")
    previous = guide.get_status_display()
    guide.status = to
    _save(guide, by=by, reason=f"{previous} → {S(to).label}", fields=["status"])
    return guide


@transaction.atomic
def guide_publish(
    *,
    guide: Guide,
    reviewer_name: str,
    reviewer_credentials: str,
    reviewed_on: dt.date,
    next_review_due: dt.date | None = None,
    is_demo_review: bool = False,
    by: Any = None,
) -> Guide:
    """Publish an in-review guide with the clinician who reviewed it; the next review is due a year later by default."""
    guide = Guide.objects.select_for_update().get(pk=guide.pk)
    if S.PUBLISHED not in TRANSITIONS[guide.status]:
        raise GuideTransitionError(
            f"Only a guide in review can be published (this one is {guide.get_status_display()})."
        )
    if not reviewer_name.strip():
        raise GuideTransitionError("A guide is published only with the name of the clinician who reviewed it.")
    guide.status = S.PUBLISHED
    guide.reviewer_name = reviewer_name.strip()
    guide.reviewer_credentials = reviewer_credentials.strip()
    guide.reviewed_on = reviewed_on
    guide.next_review_due = next_review_due or reviewed_on + REVIEW_INTERVAL
    guide.is_demo_review = is_demo_review
    _save(
        guide,
        by=by,
        reason=f"Published; reviewed by {guide.reviewer_name} on {reviewed_on.isoformat()}",
        fields=["status", "reviewer_name", "reviewer_credentials", "reviewed_on", "next_review_due", "is_demo_review"],
    )
    return guide


@transaction.atomic
def guide_mark_reviewed(
    *, guide: Guide, reviewer_name: str, reviewer_credentials: str, reviewed_on: dt.date, by: Any = None
) -> Guide:
    """A published guide re-reviewed unchanged: new review date, next review a year later; it stays up."""
    guide = Guide.objects.select_for_update().get(pk=guide.pk)
    if guide.status != S.PUBLISHED:
        raise GuideTransitionError("Only a published guide is re-reviewed in place.")
    guide.reviewer_name = reviewer_name.strip() or guide.reviewer_name
    guide.reviewer_credentials = reviewer_credentials.strip() or guide.reviewer_credentials
    guide.reviewed_on = reviewed_on
    guide.next_review_due = reviewed_on + REVIEW_INTERVAL
    guide.is_demo_review = False
    _save(
        guide,
        by=by,
        reason=f"Re-reviewed by {guide.reviewer_name} on {reviewed_on.isoformat()}",
        fields=["reviewer_name", "reviewer_credentials", "reviewed_on", "next_review_due", "is_demo_review"],
    )
    return guide
