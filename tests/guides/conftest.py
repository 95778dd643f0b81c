"""Guides loaded from the shipped files; published ones under the demo reviewer."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from helpline.site.guides import services
from helpline.site.guides.demo import seed_demo_guides
from helpline.site.guides.loader import default_directory, load_guides
from helpline.site.guides.models import Guide

CONTENT = default_directory()


@pytest.fixture
def loaded(db) -> list[Guide]:
    load_guides()
    return list(Guide.objects.order_by("slug", "language"))


@pytest.fixture
def published(db) -> list[Guide]:
    seed_demo_guides()
    return list(Guide.objects.order_by("slug", "language"))


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped guide files."""
    target = tmp_path / "guides"
    shutil.copytree(CONTENT, target)
    return target


def publish(guide: Guide, *, reviewed_on: dt.date = dt.date(2026, 11, 1)) -> Guide:
    return services.guide_publish(
        guide=guide, reviewer_name="Ana Ruiz", reviewer_credentials="MD, FASAM", reviewed_on=reviewed_on
    )
