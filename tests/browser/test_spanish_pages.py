"""The Spanish pages in a real browser: longer words still fit a phone, and nothing on them is left in English.

Screenshots at 390x844 and 1280x800 are kept in tests/browser/artifacts/ (es-<page>-<device>.png).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.browser.conftest import VIEWPORTS, device_page, page_errors
from tests.factories import FacilityFactory, OpeningHoursFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PAGES = {
    "home": ("/es/", "Ayuda gratuita y confidencial para encontrar tratamiento para adicciones"),
    "form": ("/es/request-a-callback/", "Pida que un proveedor de tratamiento le llame"),
    "detox": ("/es/treatment/detox/", "Desintoxicación médica"),
    "providers": ("/es/providers/", "Proveedores de tratamiento"),
    "terms": ("/es/terms/", "Términos de uso"),
    "privacy": ("/es/privacy/", "Privacidad"),
}
ENGLISH = ("Treatment providers", "Terms of use", "What we collect", "paid advertiser", "Show providers", "(required)")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_spanish_pages_fit_the_screen_and_speak_spanish(live_server, browser, device):
    facility = FacilityFactory(open_24_7=False, time_zone="America/Phoenix", languages=["en", "es"])
    OpeningHoursFactory(facility=facility, weekday=0, opens=dt.time(9), closes=dt.time(17))
    viewport = VIEWPORTS[device]
    ARTIFACTS.mkdir(exist_ok=True)
    with device_page(browser, device) as page:
        problems = page_errors(page)
        for name, (path, heading) in PAGES.items():
            page.goto(f"{live_server.url}{path}")
            page.screenshot(path=str(ARTIFACTS / f"es-{name}-{device}.png"), full_page=True)
            assert page.locator("html").get_attribute("lang") == "es"
            assert page.locator("h1").inner_text().strip() == heading
            text = page.locator("body").inner_text()
            assert not [words for words in ENGLISH if words in text], name
            # Against the screen's width: a phone browser widens its layout viewport to fit what overflows.
            wide = page.evaluate(
                """(width) => [...document.querySelectorAll('body *')]
                    .filter((e) => e.getBoundingClientRect().right > width + 1)
                    .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px: `
                        + e.textContent.slice(0, 30))
                    .slice(0, 5)""",
                viewport["width"],
            )
            assert wide == [], f"{path} is wider than the {device} screen: {wide}"
            # The crisis bar's text link is a full tap target in Spanish too.
            box = page.locator("a.crisis-sms").bounding_box()
            assert box is not None and box["width"] >= 44 and box["height"] >= 44
        assert not problems, problems
