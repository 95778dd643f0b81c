"""Staff-only page that plays a simulated call in-process and shows the transcript."""

from __future__ import annotations

import logging

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.staff_access import staff_view
from helpline.models import Call, HelplineNumber
from helpline.staff.simulator import (
    PARTNER_OUTCOMES,
    Script,
    SimulationError,
    call_summary,
    client_transport,
    parse_list,
    simulate,
)

logger = logging.getLogger(__name__)


def _number_choices() -> list[tuple[str, str]]:
    numbers = HelplineNumber.objects.filter(is_active=True).select_related("facility").order_by("-is_primary", "kind")
    return [(str(n.number), str(n) + (f" — {n.facility.name}" if n.facility else "")) for n in numbers]


class SimulateCallForm(forms.Form):
    to_number = forms.ChoiceField(label="Helpline number dialed")
    from_number = forms.RegexField(
        regex=r"^\+[1-9]\d{6,14}$", initial="+15125550123", label="Caller ID", help_text="E.164, e.g. +15125550123."
    )
    digits = forms.RegexField(
        regex=r"^[0-9*#,\- ]{0,60}$",
        required=False,
        initial="1",
        help_text="Keys for each menu in turn, comma-separated; an empty entry or '-' times out. "
        "The greeting is the menu: 1–4 a service, 8 Spanish (then the Spanish menu), 9 crisis, nothing = "
        "not sure; then a ZIP if asked.",
    )
    partner_outcomes = forms.CharField(
        max_length=200,
        required=False,
        initial="busy,answer+1",
        help_text="Per dialed partner: " + ", ".join(PARTNER_OUTCOMES) + ".",
    )
    from_zip = forms.RegexField(
        regex=r"^\d{5}$",
        required=False,
        label="Twilio FromZip",
        help_text="Blank: no FromZip, as Twilio sends for many mobiles; the caller is placed by FromState or "
        "the caller ID's area code, and asked for a ZIP when it would change who answers.",
    )
    from_state = forms.RegexField(regex=r"^[A-Z]{2}$", required=False, label="Twilio FromState")
    talk_seconds = forms.IntegerField(min_value=0, max_value=3600, initial=180)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["to_number"].choices = _number_choices()  # type: ignore[attr-defined]

    def clean_partner_outcomes(self) -> list[str]:
        outcomes = parse_list(self.cleaned_data.get("partner_outcomes") or "")
        unknown = [o for o in outcomes if o not in PARTNER_OUTCOMES]
        if unknown:
            raise forms.ValidationError(f"Unknown outcome(s): {', '.join(unknown)}.")
        return outcomes


@staff_view(Call, HelplineNumber)
def simulator(request: HttpRequest) -> HttpResponse:
    form = SimulateCallForm(request.POST or None)
    transcript: list[str] = []
    call: Call | None = None
    summary: list[tuple[str, str]] = []
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        script = Script(
            from_number=data["from_number"],
            to_number=data["to_number"],
            digits=parse_list(data["digits"] or ""),
            partner_outcomes=data["partner_outcomes"],
            from_zip=data["from_zip"] or "",
            from_state=data["from_state"] or "",
            talk_seconds=data["talk_seconds"],
        )
        try:
            sim = simulate(script=script, transport=client_transport())
            transcript = sim.lines
            call = Call.objects.filter(call_sid=sim.call_sid).first()
            summary = call_summary(call) if call is not None else []
        except SimulationError as exc:
            error = str(exc)
    context = {"form": form, "transcript": transcript, "call": call, "summary": summary, "error": error}
    return render(request, "helpline/simulator.html", context)
