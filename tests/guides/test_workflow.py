"""The review workflow: only allowed moves; publishing needs a reviewer; staff act through admin actions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client

from helpline.site.guides import services
from helpline.site.guides.models import Guide

from .conftest import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def guide(loaded) -> Guide:
    return Guide.objects.get(slug="xanax", language="en")


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("draft", "published"),
        ("draft", "retired"),
        ("in_review", "retired"),
        ("published", "draft"),
        ("retired", "published"),
    ],
)
def test_disallowed_moves_are_refused(guide, start, to):
    Guide.objects.filter(pk=guide.pk).update(
        status=start, reviewer_name="R", reviewed_on=dt.date(2026, 1, 1), next_review_due=dt.date(2027, 1, 1)
    )
    guide.refresh_from_db()
    with pytest.raises(services.GuideTransitionError):
        if to == "published":
            publish(guide)
        else:
            services.guide_transition(guide=guide, to=to)
    guide.refresh_from_db()
    assert guide.status == start


def test_the_whole_path_draft_review_published_retired(guide):
    guide = services.guide_transition(guide=guide, to="draft")
    guide = services.guide_transition(guide=guide, to="in_review")
    guide = publish(guide)
    assert (guide.status, guide.next_review_due) == ("published", dt.date(2027, 11, 1))
    guide = services.guide_transition(guide=guide, to="retired")
    assert guide.status == "retired"


def test_publishing_needs_a_reviewer_name(guide):
    with pytest.raises(services.GuideTransitionError, match="reviewed it"):
        services.guide_publish(guide=guide, reviewer_name=" ", reviewer_credentials="", reviewed_on=dt.date(2026, 1, 1))


def test_the_database_refuses_a_published_guide_without_review(guide):
    with pytest.raises(IntegrityError), transaction.atomic():
        Guide.objects.filter(pk=guide.pk).update(status="published")


def test_admin_actions_publish_with_the_reviewer_and_record_who(guide):
    user = get_user_model().objects.create_superuser("boss", "boss@example.org", "x-long-password-123")
    client = Client()
    client.force_login(user)
    Guide.objects.filter(pk=guide.pk).update(
        reviewer_name="Ana Ruiz", reviewer_credentials="MD", reviewed_on="2026-11-20"
    )
    response = client.post("/admin/guides/guide/", {"action": "publish", "_selected_action": [guide.pk]}, follow=True)
    assert "1 guide(s) published." in response.content.decode()
    guide.refresh_from_db()
    assert guide.status == "published" and guide.next_review_due == dt.date(2027, 11, 20)
    latest = guide.history.first()
    assert latest.history_user == user
    assert latest.history_change_reason == "Published; reviewed by Ana Ruiz on 2026-11-20"
    history_page = client.get(f"/admin/guides/guide/{guide.pk}/history/").content.decode()
    assert "Published; reviewed by Ana Ruiz" in history_page


def test_admin_publish_without_a_reviewer_explains_what_is_missing(guide):
    user = get_user_model().objects.create_superuser("boss", "boss@example.org", "x-long-password-123")
    client = Client()
    client.force_login(user)
    response = client.post("/admin/guides/guide/", {"action": "publish", "_selected_action": [guide.pk]}, follow=True)
    assert "fill in the reviewer" in response.content.decode()
    guide.refresh_from_db()
    assert guide.status == "in_review"
