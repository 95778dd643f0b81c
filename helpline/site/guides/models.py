"""A substance guide: one substance or class, in one language, with its clinical review as data.

The translation of a guide is the guide with the same ``slug`` in the other
language. Every saved version is kept by django-simple-history (who, when,
what changed); the status moves only along ``TRANSITIONS`` (see
``helpline.site.guides.services``).
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_noop
from simple_history.models import HistoricalRecords


class Guide(models.Model):
    class Language(models.TextChoices):
        EN = "en", "English"
        ES = "es", "Español"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    class ClassGroup(
        models.TextChoices
    ):  # labels translated by the guide index (gettext_noop: makemessages keeps them)
        BENZODIAZEPINES = "benzodiazepines", gettext_noop("Benzodiazepines")
        ALCOHOL = "alcohol", gettext_noop("Alcohol")
        OPIOIDS = "opioids", gettext_noop("Opioids")
        STIMULANTS = "stimulants", gettext_noop("Stimulants")

    slug = models.SlugField(
        max_length=80, help_text="The same slug in both languages links a guide to its translation."
    )
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.EN)
    title = models.CharField(max_length=200)
    substance = models.CharField(max_length=80, help_text="Short name shown in lists and in the callback form.")
    names = models.JSONField(default=dict, blank=True, help_text='{"brand": [...], "generic": [...], "street": [...]}')
    drug_class = models.CharField(max_length=120)
    class_group = models.CharField(max_length=20, choices=ClassGroup.choices)
    summary = models.TextField()
    meta_description = models.CharField(max_length=160)
    form_substance = models.CharField(
        max_length=20, help_text="The callback form's substance this guide preselects (alcohol, opioids, ...)."
    )
    key_facts = models.JSONField(default=list, blank=True, help_text='[{"label", "value", "source"}]')
    body = models.TextField(help_text="Markdown: the six sections as '## ' headings, citations as [1].")
    faq = models.JSONField(default=list, blank=True, help_text='[{"q", "a", "sources": [ids]}]')
    sources = models.JSONField(default=list, blank=True, help_text='[{"id", "title", "publisher", "url", "accessed"}]')
    services = models.JSONField(default=list, blank=True, help_text="Types-of-care codes (detox, residential, ...).")
    related = models.JSONField(default=list, blank=True, help_text="Slugs of related guides.")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    reviewer_name = models.CharField(max_length=120, blank=True)
    reviewer_credentials = models.CharField(max_length=120, blank=True, help_text="For example MD, PharmD, LCSW.")
    reviewed_on = models.DateField(null=True, blank=True)
    next_review_due = models.DateField(null=True, blank=True)
    # True when the reviewer is seed_demo's placeholder, never a real clinician.
    is_demo_review = models.BooleanField(default=False)
    last_updated = models.DateField(help_text="When the content last changed (shown on the page).")

    # sha256 of the content fields as the last load_guides wrote them; a differing
    # current hash means staff edited the guide since, and a plain reload leaves it alone.
    loaded_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["class_group", "substance", "language"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "language"], name="guides_guide_unique_slug_language"),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "in_review", "published", "retired"]),
                name="guides_guide_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="published")
                | (
                    ~models.Q(reviewer_name="")
                    & models.Q(reviewed_on__isnull=False)
                    & models.Q(next_review_due__isnull=False)
                ),
                name="guides_guide_published_is_reviewed",
            ),
        ]
        indexes = [models.Index(fields=["status", "language"], name="guides_status_lang_idx")]

    def __str__(self) -> str:
        return f"{self.substance} ({self.language})"

    def get_absolute_url(self) -> str:
        with translation.override(self.language):
            return reverse("guides:detail", kwargs={"slug": self.slug})

    def past_review(self, *, today: dt.date) -> bool:
        return self.next_review_due is not None and self.next_review_due <= today
