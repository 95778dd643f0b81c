"""Weekly: tell staff which published guides are past their clinical review date (they stay up meanwhile)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from helpline.public_urls import absolute_url
from helpline.site.guides.selectors import guides_past_review


@shared_task(name="helpline.site.guides.tasks.email_guides_past_review", acks_late=True)
def email_guides_past_review() -> int:
    """Email STAFF_ALERT_EMAILS the guides due for review; returns how many. Running twice only sends twice."""
    recipients = list(settings.STAFF_ALERT_EMAILS)
    guides = list(guides_past_review(today=timezone.now().date()))
    if not guides or not recipients:
        return len(guides)
    lines = [
        f"- {g.substance} ({g.language}): review was due {g.next_review_due}; last reviewed by "
        f"{g.reviewer_name}{' (demo)' if g.is_demo_review else ''}. {absolute_url(g.get_absolute_url())}"
        for g in guides
    ]
    body = (
        "These published guides are past their clinical review date. They stay online; "
        "please have a clinician review them (admin: Guides, filter “Past review date”).\n\n" + "\n".join(lines) + "\n"
    )
    send_mail(
        subject=f"{settings.HELPLINE_NAME}: {len(guides)} guide(s) past their review date",
        message=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return len(guides)
