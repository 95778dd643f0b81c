"""A guide past its review date stays up and is flagged to staff: weekly email, admin filter."""

from __future__ import annotations

import datetime as dt

import pytest
from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from helpline.site.guides.models import Guide
from helpline.site.guides.tasks import email_guides_past_review

from .conftest import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue(loaded) -> Guide:
    guide = publish(Guide.objects.get(slug="opioids", language="en"), reviewed_on=dt.date(2024, 1, 10))
    publish(Guide.objects.get(slug="alcohol", language="en"), reviewed_on=dt.date(2026, 11, 1))
    return guide


def test_an_overdue_guide_stays_published(overdue):
    assert overdue.next_review_due == dt.date(2025, 1, 9)
    assert Client().get("/guides/opioids/").status_code == 200


def test_weekly_email_lists_only_the_overdue_guides(overdue, settings):
    settings.STAFF_ALERT_EMAILS = ["clinical@example.org"]
    assert email_guides_past_review() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["clinical@example.org"]
    assert "1 guide(s) past their review date" in message.subject
    assert "(en): review was due 2025-01-09; last reviewed by Ana Ruiz" in message.body
    assert "https://helpline.example.org/guides/opioids/" in message.body
    assert "Alcohol" not in message.body


def test_no_email_when_nothing_is_overdue(loaded, settings):
    settings.STAFF_ALERT_EMAILS = ["clinical@example.org"]
    publish(Guide.objects.get(slug="alcohol", language="en"), reviewed_on=dt.date(2026, 11, 1))
    assert email_guides_past_review() == 0
    assert mail.outbox == []


def test_the_task_is_on_the_weekly_beat_schedule():
    current_app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["guides-past-review"]
    assert entry["task"] in current_app.tasks
    assert entry["schedule"].day_of_week == {1}


def test_admin_past_review_filter_lists_the_overdue_guide(overdue):
    user = get_user_model().objects.create_superuser("boss", "boss@example.org", "x-long-password-123")
    client = Client()
    client.force_login(user)
    body = client.get("/admin/guides/guide/", {"review": "past"}).content.decode()
    assert "past review" in body
    assert f"/admin/guides/guide/{overdue.pk}/change/" in body
    alcohol = Guide.objects.get(slug="alcohol", language="en")
    assert f"/admin/guides/guide/{alcohol.pk}/change/" not in body
