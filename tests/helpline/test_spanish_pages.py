"""Every public page under /es/ speaks Spanish: providers, terms, privacy, the withdraw and confirmation pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from helpline.admission.views import confirm_token, withdraw_token
from helpline.models import AdmissionRequest
from tests.factories import AdmissionRequestFactory, FacilityFactory, OpeningHoursFactory

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    """The page's visible words, one space between them."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _es(name: str, **kwargs: object) -> str:
    with translation.override("es"):
        return reverse(name, kwargs=kwargs or None)


def test_providers_page_in_spanish_down_to_the_hours_and_the_count():
    facility = FacilityFactory(open_24_7=False, time_zone="America/Phoenix", languages=["en", "es"])
    OpeningHoursFactory(facility=facility, weekday=0, opens=dt.time(9), closes=dt.time(17))

    page = _text(Client().get("/es/providers/").content.decode())

    assert "Proveedores de tratamiento" in page and "Todos los estados" in page and "Ver proveedores" in page
    assert "1 centro." in page and "(anunciante pagado)" in page and "Idiomas: Inglés, Español" in page
    assert "lun 9:00 a. m. – 5:00 p. m. hora de Arizona" in page
    assert "Desintoxicación médica" in page or "Tratamiento" in page  # service labels from the vocabulary, in Spanish
    for english in ("Treatment providers", "Show providers", "paid advertiser", "Languages:", "Arizona time", "Mon "):
        assert english not in page, english
    # The same page unprefixed is still English.
    english_page = _text(Client().get("/providers/").content.decode())
    assert "1 facility." in english_page and "Mon 9:00 am – 5:00 pm Arizona time" in english_page


def test_a_bad_filter_is_explained_in_spanish():
    response = Client().get("/es/providers/?state=ZZ")
    assert response.status_code == 400
    page = _text(response.content.decode())
    assert "No pudimos usar ese filtro." in page and "ZZ no es un código de estado de EE. UU." in page


@pytest.mark.parametrize(
    ("path", "spanish", "english"),
    [
        ("/es/terms/", ["Términos de uso", "Qué es este servicio", "Cuánto le cuesta", "Mensajes de texto"],
         ["Terms of use", "What it costs you", "Text messages", "The short version"]),
        ("/es/privacy/", ["Qué datos recogemos", "No grabamos las llamadas", "Cuánto tiempo los guardamos",
                          "se borran 90 días después"],
         ["What we collect", "No call recording", "How long we keep it", "days after your call"]),
    ],
)  # fmt: skip
def test_terms_and_privacy_in_spanish(path, spanish, english, settings):
    settings.CALLER_DATA_RETENTION_DAYS = 90
    page = _text(Client().get(path).content.decode())
    for words in spanish:
        assert words in page, words
    for words in english:
        assert words not in page, words


def test_crisis_bar_text_link_is_in_the_page_language():
    spanish = Client().get("/es/terms/").content.decode()
    assert re.search(r'<a href="sms:988" class="crisis-sms" aria-label="Enviar un mensaje de texto al 988">Mensaje</a>',
                     spanish)  # fmt: skip
    english = Client().get("/terms/").content.decode()
    assert re.search(r'<a href="sms:988" class="crisis-sms" aria-label="Text 988">Text</a>', english)


def test_withdraw_page_asks_and_confirms_in_spanish(settings):
    settings.TWILIO_SMS_FROM = "+18005550100"
    req = AdmissionRequestFactory()
    url = _es("admission_withdraw", token=withdraw_token(req.public_id))
    client = Client()

    asked = _text(client.get(url).content.decode())
    assert "¿Retirar su solicitud de llamada?" in asked
    assert "Más adelante puede enviar una nueva solicitud" in asked
    assert "envíe STOP al 1-800-555-0100 desde ese teléfono" in asked and "Sí, retirar mi solicitud" in asked
    assert "If you withdraw" not in asked and "text STOP" not in asked

    done = _text(client.post(url).content.decode())
    assert "Su solicitud fue retirada" in done and "enviar una nueva solicitud" in done
    assert "send a new request" not in done
    req.refresh_from_db()
    assert req.status == AdmissionRequest.Status.WITHDRAWN


def test_confirmation_says_when_in_spanish_for_a_chosen_time():
    start = dt.datetime(2026, 12, 8, 15, 0, tzinfo=dt.UTC)  # 9 am in Chicago
    req = AdmissionRequestFactory(
        callback_when=AdmissionRequest.When.WINDOW, window_start=start, window_end=start + dt.timedelta(hours=3),
        caller_timezone="America/Chicago",
    )  # fmt: skip
    spanish = _text(Client().get(_es("admission_confirmation", token=confirm_token(req.public_id))).content.decode())
    assert "el martes 8 de diciembre, entre las 9:00 a. m. y las 12:00 p. m. (CST)" in spanish
    with translation.override("en"):
        english_url = reverse("admission_confirmation", kwargs={"token": confirm_token(req.public_id)})
    english = _text(Client().get(english_url).content.decode())
    assert "on Tuesday, December 8, between 9:00 am and 12:00 pm CST" in english


@pytest.mark.parametrize(
    ("language", "held_words", "ordinary_words"),
    [
        ("en", "A member of our staff will check your request before anyone calls you back.",
         "will call you, as soon as possible"),
        ("es", "Una persona de nuestro equipo revisará su solicitud antes de que alguien le llame.",
         "le llamará, lo antes posible"),
    ],
)  # fmt: skip
def test_a_request_held_by_the_breaker_is_told_staff_check_it_first(language, held_words, ordinary_words):
    """Held: nobody is notified or calls until staff approve it, and the page says exactly that."""
    held = AdmissionRequestFactory(status=AdmissionRequest.Status.HELD, partner=None)
    with translation.override(language):
        url = reverse("admission_confirmation", kwargs={"token": confirm_token(held.public_id)})
    page = _text(Client().get(url).content.decode())
    assert held_words in page
    assert ordinary_words not in page

    routed = AdmissionRequestFactory(status=AdmissionRequest.Status.ROUTED, partner=None)
    with translation.override(language):
        url = reverse("admission_confirmation", kwargs={"token": confirm_token(routed.public_id)})
    page = _text(Client().get(url).content.decode())
    assert held_words not in page


def test_the_form_marks_required_answers_in_the_page_language():
    spanish = _text(Client().get("/es/request-a-callback/").content.decode())
    assert "(obligatorio)" in spanish and "(required)" not in spanish
    with translation.override("en"):
        english = _text(Client().get(reverse("admission_request")).content.decode())
    assert "(required)" in english


def test_the_forms_checks_answer_in_spanish_on_es_and_in_english_elsewhere():
    bad = {"phone": "12345", "zip_code": "99999", "first_name": "<b>"}
    spanish = _text(Client().post("/es/request-a-callback/", bad).content.decode())
    assert "Use solo letras: un nombre de pila o iniciales." in spanish
    assert "No encontramos el código postal 99999." in spanish
    assert "Ese no es un número de EE. UU. que funcione." in spanish
    assert "Todavía no se ha enviado nada." in spanish
    assert "Use letters only" not in spanish and "Nothing has been sent yet" not in spanish
    with translation.override("en"):
        url = reverse("admission_request")
    english = _text(Client().post(url, bad).content.decode())
    assert "Use letters only: a first name or initials." in english and "We could not find ZIP code 99999." in english
