"""``manage.py enroll_totp <username>``: give a staff member an authenticator (TOTP) device.

Prints the ``otpauth://`` URI once; the staff member adds it to an
authenticator app (most accept it pasted or as a QR code made from it on
their own machine). With ``STAFF_REQUIRE_OTP`` on, the admin asks for the
6-digit code at login.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Create a TOTP (authenticator app) device for a staff user and print its otpauth:// URI."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="authenticator", help="Device label shown in the admin.")
        parser.add_argument(
            "--replace", action="store_true", help="Remove the user's existing TOTP devices first (lost phone)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()  # noqa: N806
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["username"]})
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {options['username']!r}.") from exc
        if not user.is_staff:
            raise CommandError(f"{options['username']!r} is not staff; only staff use the admin.")
        with transaction.atomic():
            existing = TOTPDevice.objects.filter(user=user)
            if existing.exists() and not options["replace"]:
                raise CommandError("This user already has an authenticator; use --replace to issue a new one.")
            existing.delete()
            device = TOTPDevice.objects.create(user=user, name=options["name"], confirmed=True)
        self.stdout.write(device.config_url)
