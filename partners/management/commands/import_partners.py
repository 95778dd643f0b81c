"""``python manage.py import_partners FILE.json``: onboard partners from one JSON file, all or nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partners.directory.importer import PartnerImportError, import_partners, load_partner_file


class Command(BaseCommand):
    help = (
        "Create or update partners with their facilities, hours, closed dates, services, languages, "
        "service areas and listing numbers from a JSON file (format: docs/import-format.md). "
        "Everything is validated first; a file with any problem imports nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path to the JSON file.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report, write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = load_partner_file(options["file"])
            report = import_partners(data=data, dry_run=options["dry_run"])
        except PartnerImportError as exc:
            for problem in exc.problems:
                self.stderr.write(f"  - {problem}")
            raise CommandError(f"Nothing was imported: {len(exc.problems)} problem(s) in {options['file']}.") from exc
        prefix = "Dry run, nothing written. Would import: " if options["dry_run"] else "Imported: "
        self.stdout.write(self.style.SUCCESS(prefix + report.summary()))
