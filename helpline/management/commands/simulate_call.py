"""``python manage.py simulate_call``: play a whole call against Clearline as Twilio would."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpline.models import HelplineNumber
from helpline.staff.simulator import (
    PARTNER_OUTCOMES,
    Script,
    SimulationError,
    call_summary,
    client_transport,
    http_transport,
    parse_list,
    simulate,
)

# What the staff page accepts too (``SimulateCallForm``): keys a keypad has, a talk time of at most an hour.
KEYPAD = re.compile(r"[0-9*#]*")
MAX_TALK_SECONDS = 3600


class Command(BaseCommand):
    help = (
        "Play one call against the running app exactly as Twilio would (signed webhooks, TwiML followed turn by "
        "turn) and print the conversation. Simulated calls are stored as test calls and never billed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="from_number", default="+15125550123", help="Caller ID (E.164).")
        parser.add_argument("--to", default="", help="Helpline number dialed (default: the primary helpline number).")
        parser.add_argument(
            "--digits",
            default="",
            help='Keys for each menu in turn, comma-separated; an empty entry times out: "1,,78701".',
        )
        parser.add_argument(
            "--partner-outcomes",
            default="answer+1",
            help="What each dialed partner does, comma-separated: " + ", ".join(PARTNER_OUTCOMES),
        )
        parser.add_argument(
            "--from-zip", default="", help="Twilio's FromZip (blank: Twilio could not place the caller)."
        )
        parser.add_argument("--from-state", default="", help="Twilio's FromState.")
        parser.add_argument(
            "--no-from-zip",
            action="store_true",
            help="Send no FromZip, as Twilio does for many mobiles: the caller is placed by FromState or the "
            "area code of --from, and asked for a ZIP when it could change who answers.",
        )
        parser.add_argument("--talk-seconds", type=int, default=180, help="Length of a bridged conversation.")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the app is running.")
        parser.add_argument(
            "--in-process", action="store_true", help="Run against this process's app (Django test Client), no server."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["no_from_zip"] and options["from_zip"]:
            raise CommandError("--no-from-zip and --from-zip contradict each other.")
        digits = parse_list(options["digits"])
        not_keys = [d for d in digits if d != "-" and not KEYPAD.fullmatch(d)]
        if not_keys:
            raise CommandError(
                f"--digits {not_keys} are not keypad keys (0-9, * and #); an empty entry or '-' times out."
            )
        if not 0 <= options["talk_seconds"] <= MAX_TALK_SECONDS:
            raise CommandError(f"--talk-seconds must be between 0 and {MAX_TALK_SECONDS}.")
        to = options["to"] or self.default_number()
        outcomes = parse_list(options["partner_outcomes"])
        unknown = [o for o in outcomes if o not in PARTNER_OUTCOMES]
        if unknown:
            raise CommandError(f"Unknown partner outcome(s) {unknown}; use {', '.join(PARTNER_OUTCOMES)}.")
        script = Script(
            from_number=options["from_number"],
            to_number=to,
            digits=digits,
            partner_outcomes=outcomes,
            from_zip=options["from_zip"],
            from_state=options["from_state"],
            talk_seconds=options["talk_seconds"],
        )
        transport = client_transport() if options["in_process"] else http_transport(options["base_url"])
        where = "in-process" if options["in_process"] else options["base_url"]
        self.stdout.write(f"Simulating a call to {where} (signed for {settings.PUBLIC_BASE_URL})")
        try:
            sim = simulate(script=script, transport=transport, echo=self.stdout.write)
        except SimulationError as exc:
            raise CommandError(f"The simulated call failed: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"Could not reach {options['base_url']}: {exc}. Is the app running?") from exc
        self.stdout.write(f"({sim.requests} webhook requests, CallSid {sim.call_sid})")
        self.describe_location(sim.call_sid)

    def describe_location(self, call_sid: str) -> None:
        """Where the caller was placed, whether the ZIP was asked and why, where the call went.

        Only when this process shares the app's database (always with --in-process).
        """
        from helpline.models import Call

        call = Call.objects.filter(call_sid=call_sid).first()
        if call is None:
            return
        for label, text in call_summary(call):
            self.stdout.write(f"{label}: {text}")

    def default_number(self) -> str:
        number = (
            HelplineNumber.objects.filter(is_active=True, kind=HelplineNumber.Kind.GENERAL)
            .order_by("-is_primary", "id")
            .first()
        )
        if number is None:
            raise CommandError("No helpline number in the database: pass --to or run seed_demo first.")
        return str(number.number)
