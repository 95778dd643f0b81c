"""Demo guides for ``seed_demo``: the shipped files, published under a reviewer labelled as demo data.

A real guide is published only by a clinician in the admin. The demo needs
published pages to show, so it publishes them under a name no one can take for
a real review; the admin's "Demo reviewer" filter lists them.
"""

from __future__ import annotations

from django.utils import timezone

from helpline.site.guides import services
from helpline.site.guides.loader import LoadReport, load_guides
from helpline.site.guides.models import Guide

DEMO_REVIEWER = "Demo reviewer — not a real clinical review"
DEMO_CREDENTIALS = "demo data"


def seed_demo_guides() -> tuple[LoadReport, int]:
    """Load the guide files, then publish those in review with the demo reviewer. Safe to re-run."""
    report = load_guides()
    today = timezone.now().date()
    published = 0
    for guide in Guide.objects.filter(status=Guide.Status.IN_REVIEW).order_by("pk"):
        services.guide_publish(
            guide=guide,
            reviewer_name=DEMO_REVIEWER,
            reviewer_credentials=DEMO_CREDENTIALS,
            reviewed_on=today,
            is_demo_review=True,
        )
        published += 1
    return report, published
