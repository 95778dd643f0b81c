"""The staff call simulator in a real browser: a Chicago mobile with no FromZip, played and explained.

Screenshots at 390x844 and 1280x800 are kept in tests/browser/artifacts/ (simulator-*). The page shows how
the call was placed (location and precision, the ZIP question and why, the placement) above the transcript,
raises no script or CSP error and does not overflow sideways on a phone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpline.models import Call
from tests.browser.conftest import VIEWPORTS, device_page, log_in_staff, page_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_chicago_mobile_without_fromzip_is_played_and_explained(demo, live_server, browser, device):
    viewport = VIEWPORTS[device]
    with device_page(browser, device, mobile=False) as page:
        problems = page_errors(page)
        log_in_staff(page, live_server.url)
        page.goto(f"{live_server.url}/staff/simulator/")
        page.fill("#id_from_number", "+13125550142")
        page.fill("#id_digits", "2,60601")  # residential; the ZIP if asked
        page.fill("#id_from_zip", "")
        page.fill("#id_partner_outcomes", "answer+1")
        page.click("button[type=submit]")
        page.wait_for_selector("dl.call-summary")
        summary = page.inner_text("dl.call-summary")
        call = Call.objects.latest("id")
        # The demo directory has a partner serving all of Illinois and none finer in 312: no question.
        assert "area code 312, IL (from Caller-ID area code, precision State only" in summary
        assert "Chicago, IL" in summary  # the caller ID's place, labelled approximate
        assert "not asked: the ZIP cannot change who answers in area code 312 for residential treatment" in summary
        assert "first dialed Lakeshore Recovery" in summary
        assert call.is_test and (call.location_source, call.location_precision) == ("area_code", "state")
        heading = page.locator("h2", has_text="How the call was placed").bounding_box()
        transcript = page.locator("h2", has_text="Transcript").bounding_box()
        assert heading is not None and transcript is not None and heading["y"] < transcript["y"]
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"] + 1, width
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"simulator-{device}.png"), full_page=True)
        assert not problems, problems
