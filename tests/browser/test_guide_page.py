"""A guide in a real browser: on a phone, the title, the number, "Who answers?" and the crisis bar need no scrolling.

Screenshots go to ``artifacts/guides/`` (git-ignored, like the other browser artefacts; CI keeps the folder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import VIEWPORTS, device_page, page_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "guides"


def _within_first_screen(box: dict[str, float] | None, viewport: dict[str, int]) -> bool:
    return box is not None and box["width"] > 0 and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


@pytest.mark.parametrize("device", ["phone", "desktop"])
@pytest.mark.parametrize("path", ["/guides/klonopin/", "/es/guides/opioids/"])
def test_guide_first_screen_has_title_number_who_answers_and_crisis_bar(demo, live_server, browser, device, path):
    viewport = VIEWPORTS[device]
    with device_page(browser, device) as page:
        problems = page_errors(page)
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200
        name = path.strip("/").replace("/", "-")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{device}.png"))
        page.screenshot(path=str(ARTIFACTS / f"{name}-{device}-full.png"), full_page=True)

        assert page.evaluate("window.scrollY") == 0
        title = page.locator('[data-testid="guide-title"]')
        number = page.locator('[data-testid="guide-call-number"]')
        who = page.locator('[data-testid="who-answers"]')
        crisis = page.locator('[data-testid="crisis-bar"]')
        for label, locator in (("title", title), ("number", number), ("Who answers?", who), ("crisis bar", crisis)):
            assert locator.is_visible(), label
            assert _within_first_screen(locator.bounding_box(), viewport), f"{label} is below the first screen"
        assert number.get_attribute("href") == "tel:+18885550100"
        assert "1-888-555-0100" in number.inner_text()
        for href in ("tel:911", "tel:988", "tel:+18002221222"):
            assert _within_first_screen(crisis.locator(f'a[href="{href}"]').bounding_box(), viewport), href

        # "Who answers?" takes the reader to the disclosure.
        who.click()
        heading = page.locator("#where-do-calls-go h2")
        heading.wait_for(state="visible")
        assert _within_first_screen(heading.bounding_box(), viewport)

        # The overdose box and the inline form are there, the JSON-LD parses, and nothing was blocked by the CSP.
        page.locator('[data-testid="overdose-box"]').scroll_into_view_if_needed()
        page.locator('[data-testid="overdose-box"]').screenshot(path=str(ARTIFACTS / f"{name}-overdose-{device}.png"))
        assert (
            page.locator('[data-testid="guide-callback"] form').get_attribute("action").endswith("/request-a-callback/")
        )
        blocks: Any = page.evaluate(
            "[...document.querySelectorAll('script[type=\"application/ld+json\"]')].map(s => s.textContent)"
        )
        types = {json.loads(text)["@type"] for text in blocks}
        assert types == {"MedicalWebPage", "FAQPage"}
        assert not problems, problems


def test_guides_index_on_a_phone(demo, live_server, browser):
    with device_page(browser, "phone") as page:
        page.goto(f"{live_server.url}/guides/")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "guides-index-phone.png"), full_page=True)
        page.fill("#guide-q", "fentanyl")
        page.click('[data-testid="guide-search"] button')
        page.wait_for_url("**/guides/?q=fentanyl")
        cards = page.locator('[data-testid="guide-card"]')
        assert cards.count() >= 1
        assert "Opioids" in cards.first.inner_text()
