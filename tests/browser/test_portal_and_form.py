"""The partner portal and the callback form's honest paths in a real browser, at a phone and a desktop size.

Screenshots go to tests/browser/artifacts/ (``portal-dashboard-phone.png``, ``portal-calls-desktop.png``,
``form-too-fast-phone.png``, ``withdraw-ask-phone.png``, ``withdraw-done-desktop.png`` ...), kept as
test artefacts. What a person would notice is asserted: the portal's own frame, tiles with money,
chart labels readable on a phone, the Billable column on a phone, no sideways scrolling, 44 px
crisis links, and the form telling the truth.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from helpline.models import AdmissionRequest, ContactBlock, DialAttempt
from partners.billing import rule as billing
from partners.billing.invoices import generate_invoice, previous_month
from partners.models import PartnerMembership
from tests.browser.conftest import VIEWPORTS, device_page, page_errors
from tests.factories import CallFactory, DialAttemptFactory, FacilityFactory, PartnerFactory, UserFactory, billed_call
from tests.helpline.admission_support import (  # noqa: F401
    fresh_routing_directory_fixture,
    twilio_offline_fixture,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PASSWORD = "a-long-test-password-1"
SERVICES = ["detox", "residential", "mat", "outpatient"]


@pytest.fixture
def partner_user() -> Any:
    """Harbor Recovery with 30 days of calls (some missed, some too short) and last month's invoice."""
    partner = PartnerFactory(display_name="Harbor Recovery", monthly_budget_cents=500000, price_per_call_cents=4500)
    facility = FacilityFactory(partner=partner, name="Harbor Recovery – Austin")
    now = timezone.now()
    for day in range(30):
        for n in range(day % 5 + 1):
            started = now - dt.timedelta(days=day, minutes=n * 7 + 5)
            service = SERVICES[(day + n) % len(SERVICES)]
            if n % 3 == 2:
                call = CallFactory(started_at=started, service=service)
                DialAttemptFactory(call=call, facility=facility, accepted=False,
                                   outcome=DialAttempt.Outcome.NO_ANSWER, talk_seconds=0)  # fmt: skip
            else:
                call, _ = billed_call(facility=facility, started_at=started, caller=f"+1512555{day:02d}{n:02d}",
                                      talk_seconds=30 if n % 4 == 3 else 240, service=service)  # fmt: skip
            billing.bill_call(call_id=call.pk)
    generate_invoice(partner=partner, month=previous_month(now.date()))
    user = UserFactory(username="harbor-intake", email="intake@harbor.example")
    PartnerMembership.objects.create(user=user, partner=partner)
    return user


def _no_sideways_scroll(page: Any) -> None:
    """Nothing wider than the screen. Measured against the viewport asked for: a phone browser widens
    its layout viewport (window.innerWidth) to fit what overflows, so comparing with it proves nothing."""
    width = page.viewport_size["width"]
    overflow = page.evaluate("document.documentElement.scrollWidth") - width
    assert overflow <= 0, f"the page is {overflow}px wider than the {width}px screen"


def _sign_in(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/portal/login/")
    page.get_by_label("Username").fill("harbor-intake")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/portal/")


def _smallest_font_px(page: Any, selector: str) -> float:
    sizes = page.eval_on_selector_all(selector, "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert sizes, selector
    return min(sizes)


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_portal_dashboard_and_calls(live_server, browser, partner_user, device):
    ARTIFACTS.mkdir(exist_ok=True)
    with device_page(browser, device) as page:
        problems = page_errors(page)
        _sign_in(page, live_server.url)

        # The partner's own frame: no caller-site chrome, the disclosure still there.
        assert page.locator('[data-testid="crisis-bar"]').count() == 0
        assert page.get_by_text("Call free, 24/7").count() == 0
        assert page.get_by_text("Request a callback").count() == 0
        assert page.get_by_text("Partner sign in").count() == 0
        assert "Harbor Recovery" in page.get_by_test_id("portal-who").inner_text()

        # Money tiles.
        assert re.search(r"\$[\d,]+\.\d\d", page.get_by_test_id("tile-spend").inner_text())
        invoice = page.get_by_test_id("tile-invoice")
        assert re.search(r"\$[\d,]+\.\d\d", invoice.inner_text()) and "Issued" in invoice.inner_text()
        assert "$45.00" in page.get_by_test_id("tile-price").inner_text()
        assert re.search(r"\d+%", page.get_by_test_id("tile-answer").inner_text())
        page.screenshot(path=str(ARTIFACTS / f"portal-dashboard-{device}.png"), full_page=True)

        # Charts: bars drawn, every label real text of at least 12 px, at this width.
        heights = page.eval_on_selector_all(".bars .bar .offered", "els => els.map(e => e.offsetHeight)")
        assert len(heights) == 30 and max(heights) > 50
        for selector in (".xaxis span", ".yaxis span", ".legend", ".hbars li span:not(.track):not(.fill)"):
            assert _smallest_font_px(page, selector) >= 12, selector
        assert page.get_by_test_id("chart-outcomes").get_by_text("Billable", exact=True).is_visible()
        assert page.get_by_test_id("chart-services").get_by_text("Medical detox").count() == 1
        _no_sideways_scroll(page)

        page.get_by_test_id("invoice-link").click()
        page.wait_for_url(re.compile(r".*/portal/invoices/\d+/$"))
        page.goto(f"{live_server.url}/portal/calls/")
        rows = page.get_by_test_id("call-row")
        assert rows.count() == 50
        first = rows.first
        billable = first.locator('[data-label="Billable"]')
        assert billable.is_visible()
        box = billable.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORTS[device]["width"]
        assert "•••-•••-" in first.inner_text()
        _no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"portal-calls-{device}.png"), full_page=False)

        # The webhook log and the settings change log are cards on a phone too, like the calls.
        for path, table in (("/portal/webhooks/", "webhooks-table"), ("/portal/settings/", "change-log")):
            page.goto(f"{live_server.url}{path}")
            cell = page.get_by_test_id(table).locator("td").first
            shown_as = cell.evaluate("td => getComputedStyle(td).display")
            assert shown_as == ("block" if device == "phone" else "table-cell"), (path, shown_as)
            _no_sideways_scroll(page)
        assert not problems, problems  # no CSP violations or script errors


def test_forgot_password_link_leads_to_the_reset_form(live_server, browser):
    with device_page(browser, "phone") as page:
        page.goto(f"{live_server.url}/portal/login/")
        page.get_by_test_id("forgot-password").click()
        page.get_by_label("Email address").fill("nobody@example.org")
        page.get_by_role("button", name="Send the reset link").click()
        page.get_by_test_id("reset-sent").wait_for()
        page.screenshot(path=str(ARTIFACTS / "portal-reset-sent-phone.png"), full_page=True)


# --- the callback form ------------------------------------------------------------


def _fill_form(page: Any) -> None:
    page.get_by_label("Myself").check()
    page.get_by_label("First name or initials").fill("Sam")
    page.get_by_label("Phone number to call").fill("(512) 867-5309")
    page.get_by_label("ZIP code").fill("78701")
    page.get_by_label("What kind of care?").select_option("detox")
    page.locator("#id_consent").check()


@pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_too_fast_submission_is_shown_again_then_sent(live_server, browser, settings, device):
    # Filling the form in a test browser takes a moment on a busy machine; a long minimum makes
    # this submission "too fast" whatever the machine, as autofill is for the real 3 seconds.
    settings.ADMISSION_MIN_FILL_SECONDS = 600
    FacilityFactory(partner__display_name="Harbor Recovery", partner__notify_email="")
    ARTIFACTS.mkdir(exist_ok=True)
    with device_page(browser, device) as page:
        page.goto(f"{live_server.url}/request-a-callback/")
        _fill_form(page)
        page.get_by_test_id("admission-submit").click()

        summary = page.get_by_test_id("error-summary")
        summary.wait_for()
        assert "Nothing has been sent yet. Please check your answers" in summary.inner_text()
        assert page.get_by_label("First name or initials").input_value() == "Sam"
        assert AdmissionRequest.objects.count() == 0
        summary.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"form-too-fast-{device}.png"), full_page=False)

        page.locator("#id_consent").check()
        settings.ADMISSION_MIN_FILL_SECONDS = 0  # the person has now taken their time
        page.get_by_test_id("admission-submit").click()
        page.get_by_test_id("confirmation-title").wait_for()
        assert AdmissionRequest.objects.count() == 1
        assert "1-800-555-0100" in page.locator("main").inner_text()  # the calling number, as people write it


@pytest.mark.usefixtures("fresh_routing_directory", "twilio_offline")
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_withdraw_says_what_happens_and_a_new_request_is_taken(live_server, browser, settings, device):
    settings.ADMISSION_MIN_FILL_SECONDS = 0
    FacilityFactory(partner__display_name="Harbor Recovery", partner__notify_email="")
    ARTIFACTS.mkdir(exist_ok=True)
    with device_page(browser, device) as page:
        page.goto(f"{live_server.url}/request-a-callback/")
        _fill_form(page)
        page.get_by_test_id("admission-submit").click()
        page.get_by_test_id("withdraw-link").click()

        assert "You can still send a new request later" in page.get_by_test_id("withdraw-explained").inner_text()
        assert "STOP" in page.get_by_test_id("withdraw-stop").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"withdraw-ask-{device}.png"), full_page=False)
        page.get_by_test_id("withdraw-confirm").click()
        page.get_by_test_id("withdrawn-title").wait_for()
        page.screenshot(path=str(ARTIFACTS / f"withdraw-done-{device}.png"), full_page=False)
        assert AdmissionRequest.objects.get().status == "withdrawn"
        assert not ContactBlock.objects.exists()

        page.get_by_role("link", name="send a new request").click()
        _fill_form(page)
        page.get_by_test_id("admission-submit").click()
        page.get_by_test_id("confirmation-title").wait_for()
        assert AdmissionRequest.objects.count() == 2
        assert AdmissionRequest.objects.exclude(status="withdrawn").count() == 1


def test_crisis_links_are_44px_tap_targets_with_a_text_link_to_988(live_server, browser):
    with device_page(browser, "phone") as page:
        page.goto(f"{live_server.url}/")
        bar = page.get_by_test_id("crisis-bar")
        for href in ("tel:911", "tel:988", "sms:988", "tel:+18002221222"):
            box = bar.locator(f'a[href="{href}"]').bounding_box()
            assert box is not None and box["width"] >= 44 and box["height"] >= 44, (href, box)
        bar.screenshot(path=str(ARTIFACTS / "crisis-bar-phone.png"))
