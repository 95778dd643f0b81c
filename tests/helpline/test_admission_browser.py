"""The admission form in a real browser (Debian chromium via Playwright), at phone width.

Fill, make a mistake (error next to the field, input kept), fix it, submit,
see the confirmation with the partner's name, crisis numbers and the disclosure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpline.models import AdmissionRequest
from tests.factories import FacilityFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline"),
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which("chromium") is None, reason="no chromium"),
]


@pytest.fixture
def browser_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def test_fill_fix_an_error_submit_and_see_the_confirmation(live_server, browser_page, fake_twilio, settings):
    settings.ADMISSION_MIN_FILL_SECONDS = 1
    FacilityFactory(partner__display_name="Harbor Recovery", partner__notify_email="intake@harbor.example.org")
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser_page

    page.goto(f"{live_server.url}/request-a-callback/")
    page.get_by_label("Myself").check()
    page.get_by_label("First name or initials").fill("Sam")
    page.get_by_label("Phone number to call").fill("(512) 867-5309")
    page.get_by_label("ZIP code").fill("00000")
    page.get_by_label("What kind of care?").select_option("detox")
    page.get_by_label("Alcohol").check()
    page.get_by_label("You may send a text message").check()
    page.locator("#id_consent").check()
    page.wait_for_timeout(1200)  # a person's pace (the minimum fill time)
    page.get_by_test_id("admission-submit").click()

    # The mistake is explained next to the ZIP field, and nothing typed is lost.
    zip_error = page.locator('[data-field="zip_code"] .field-error')
    assert "could not find ZIP code 00000" in zip_error.inner_text()
    assert page.get_by_label("First name or initials").input_value() == "Sam"
    assert page.get_by_label("Phone number to call").input_value() == "(512) 867-5309"
    assert page.get_by_label("ZIP code").input_value() == "00000"
    assert page.get_by_label("What kind of care?").input_value() == "detox"
    assert page.get_by_label("Alcohol").is_checked()
    assert page.get_by_test_id("error-summary").is_visible()
    page.screenshot(path=str(ARTIFACTS / "admission_form_error_phone.png"), full_page=True)
    assert AdmissionRequest.objects.count() == 0

    page.get_by_label("ZIP code").fill("78701")
    page.locator("#id_consent").check()
    page.wait_for_timeout(1200)
    page.get_by_test_id("admission-submit").click()

    page.get_by_test_id("confirmation-title").wait_for()
    assert page.get_by_test_id("partner-name").inner_text() == "Harbor Recovery"
    assert "988" in page.get_by_test_id("crisis-resources").inner_text()
    assert page.get_by_test_id("disclosure").is_visible() or page.get_by_test_id("disclosure").count() == 1
    assert page.get_by_test_id("withdraw-link").is_visible()
    page.screenshot(path=str(ARTIFACTS / "admission_confirmation_phone.png"), full_page=True)

    req = AdmissionRequest.objects.get()
    assert req.first_name == "Sam" and req.zip_code == "78701" and req.substances == ["alcohol"]
    # The whole chain ran in-process (embedded mode): partner notified, callback placed on the fake Twilio.
    assert req.status == "callback_attempted"
    assert [c.params["To"] for c in fake_twilio.calls()] == [str(req.facility.phone)]
