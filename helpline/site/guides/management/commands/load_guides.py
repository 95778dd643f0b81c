"""``python manage.py load_guides [--dir DIR] [--force]``: the guide files into the database, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpline.site.guides.loader import GuideFileError, default_directory, load_guides


class Command(BaseCommand):
    help = "Load the substance guides from content/guides/ (create or update by slug and language)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, default=None, help="Folder of guide files (default content/guides/).")
        parser.add_argument(
            "--force", action="store_true", help="Overwrite guides that staff edited in the admin since the last load."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["dir"] or default_directory()
        try:
            report = load_guides(directory=directory, force=options["force"])
        except GuideFileError as exc:
            raise CommandError(
                f"No guide was loaded: {len(exc.problems)} problem(s) in {directory}:\n  " + "\n  ".join(exc.problems)
            ) from exc
        self.stdout.write(self.style.SUCCESS(f"Guides: {report.summary()}"))
