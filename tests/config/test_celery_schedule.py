"""Every periodic task in the beat schedule exists, and the embedded loop runs them."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from celery import Task, current_app
from django.conf import settings
from django.core.management import call_command


def test_every_scheduled_task_is_registered():
    current_app.loader.import_default_modules()
    missing = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] not in current_app.tasks]
    assert missing == []


def test_tasks_acknowledge_late_so_a_killed_worker_means_a_redelivery():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]


@pytest.mark.django_db
def test_run_periodic_once_runs_the_interval_tasks_and_waits_for_the_crontab_ones():
    ran: list[str] = []
    original = Task.apply

    def recording_apply(self, *args, **kwargs):
        ran.append(self.name)
        return original(self, *args, **kwargs)

    with mock.patch.object(Task, "apply", recording_apply):
        call_command("run_periodic", "--once")
    interval_tasks = {
        str(e["task"]) for e in settings.CELERY_BEAT_SCHEDULE.values() if isinstance(e["schedule"], timedelta)
    }
    assert sorted(ran) == sorted(interval_tasks)
    assert "partners.tasks.generate_monthly_invoices" not in ran  # crontab: the 1st of the month, not at start
