"""The home page in a real browser at phone and desktop width: crisis numbers, the call button, the disclosure."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from helpline.site.directory import listed_partners
from tests.browser.conftest import VIEWPORTS, device_page, page_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _in_viewport(box: dict[str, float] | None, viewport: dict[str, int]) -> bool:
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] and box["width"] > 0


def _directory_partner_names(page: Any, base_url: str) -> set[str]:
    """Partner names as the public directory shows them, across every page of it."""
    names: set[str] = set()
    url = f"{base_url}/providers/"
    while url:
        page.goto(url)
        names.update(t.strip() for t in page.locator('[data-testid="facility-partner"]').all_inner_texts())
        next_link = page.locator('a[rel="next"]')
        url = f"{base_url}/providers/{next_link.get_attribute('href')}" if next_link.count() else ""
    return names


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_home_page_shows_crisis_help_call_button_and_disclosure(demo, live_server, browser, device):
    viewport = VIEWPORTS[device]
    with device_page(browser, device) as page:
        problems = page_errors(page)
        response = page.goto(f"{live_server.url}/")
        assert response is not None and response.status == 200
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"home-{device}.png"))
        page.screenshot(path=str(ARTIFACTS / f"home-{device}-full.png"), full_page=True)

        # Crisis numbers and the call button are on screen before any scrolling.
        assert page.evaluate("window.scrollY") == 0
        for href in ("tel:911", "tel:988", "tel:+18002221222"):
            link = page.locator(f'[data-testid="crisis-bar"] a[href="{href}"]')
            assert link.is_visible(), href
            assert _in_viewport(link.bounding_box(), viewport), f"{href} is below the fold on the {device}"
        call = page.locator('[data-testid="header-call"]')
        assert call.get_attribute("href") == "tel:+18885550100"
        assert _in_viewport(call.bounding_box(), viewport)
        assert "1-888-555-0100" in call.inner_text()

        # The disclosure: scroll to it, it is visible and on screen.
        section = page.locator("#where-do-calls-go")
        section.scroll_into_view_if_needed()
        heading = section.locator("h2")
        assert heading.inner_text().strip() == "Where do calls go?"
        assert heading.is_visible()
        assert _in_viewport(heading.bounding_box(), viewport)
        section.screenshot(path=str(ARTIFACTS / f"disclosure-{device}.png"))
        assert re.search(r"not affiliated with Alcoholics Anonymous", section.inner_text())

        shown = [t.strip() for t in section.locator('[data-testid="disclosure-partners"] li').all_inner_texts()]
        assert len(shown) == len(set(shown))
        expected = set(listed_partners().values_list("display_name", flat=True))
        assert set(shown) == expected
        assert "Music City Recovery" not in shown  # paused in the demo data
        assert "New Horizons Behavioral" not in shown  # licence not verified
        assert set(shown) == _directory_partner_names(page, live_server.url)
        assert not problems, problems  # no CSP violations or script errors


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_directory_and_staff_login_show_the_disclosure(demo, live_server, browser, device):
    with device_page(browser, device) as page:
        page.goto(f"{live_server.url}/providers/?service=detox")
        page.screenshot(path=str(ARTIFACTS / f"directory-{device}.png"))
        cards = page.locator('[data-testid="facility"]')
        assert cards.count() >= 3
        austin = cards.filter(has_text="Hill Country Recovery – Austin")
        assert austin.locator('[data-testid="facility-call"]').get_attribute("href") == "tel:+18665550110"
        lakeshore = cards.filter(has_text="Lakeshore Recovery – Lincoln Park")  # no listing number
        assert lakeshore.locator('[data-testid="facility-call"]').get_attribute("href") == "tel:+18885550100"

        page.goto(f"{live_server.url}/admin/login/")
        page.screenshot(path=str(ARTIFACTS / f"admin-login-{device}.png"), full_page=True)
        section = page.locator("#where-do-calls-go")
        section.scroll_into_view_if_needed()
        assert section.locator("h2").is_visible()
        assert section.locator('[data-testid="disclosure-partners"] li').count() == listed_partners().count()
