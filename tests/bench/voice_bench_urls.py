"""URLconf used only by ``tests/bench/bench_voice.py`` (never by production).

The real URLs plus two baseline views measured in the same run:

- ``bench/constant``: a Django view returning constant TwiML (the floor: Django + gunicorn).
- ``bench/minimal``: the minimal correct Twilio webhook — check the signature, look
  the dialed number up, insert the call row, answer ``<Dial>``.
"""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config import urls as config_urls

CONSTANT_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+18006624357</Dial></Response>'


@csrf_exempt
def constant(request: HttpRequest) -> HttpResponse:
    return HttpResponse(CONSTANT_TWIML, content_type="text/xml")


@csrf_exempt
def minimal(request: HttpRequest) -> HttpResponse:
    from helpline.models import Call, HelplineNumber
    from helpline.voice.security import is_valid_twilio_request

    if not is_valid_twilio_request(request):
        return HttpResponse(status=403)
    number = HelplineNumber.objects.filter(number=request.POST.get("To", "")).first()
    try:
        Call.objects.create(call_sid=request.POST["CallSid"], helpline_number=number, to_number=request.POST["To"])
    except IntegrityError:
        pass
    return HttpResponse(
        f'<?xml version="1.0" encoding="UTF-8"?><Response><Dial>{django_settings.FALLBACK_LINE}</Dial></Response>',
        content_type="text/xml",
    )


urlpatterns = [
    path("bench/constant", constant),
    path("bench/minimal", minimal),
    # Spread, not include(): the project URL conf uses i18n_patterns, allowed only at the root.
    *config_urls.urlpatterns,
]
