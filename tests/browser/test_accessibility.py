"""axe-core (through Playwright, from axe-playwright-python) over the public pages and the partner portal.

No serious or critical violation on any page, at a phone and a desktop size. The full report of
every page (all impacts) is saved to tests/browser/artifacts/axe-<device>.txt for reading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import VIEWPORTS
from tests.browser.test_portal_and_form import ARTIFACTS, PASSWORD, partner_user  # noqa: F401

axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PUBLIC = [
    "/",
    "/treatment/",
    "/treatment/detox/",
    "/providers/",
    "/providers/?service=nonsense",  # the filter's error state
    "/request-a-callback/",
    "/terms/",
    "/privacy/",
    "/portal/login/",
    "/portal/password-reset/",
]
PORTAL = [
    "/portal/",
    "/portal/calls/",
    "/portal/requests/",
    "/portal/ledger/",
    "/portal/invoices/",
    "/portal/disputes/",
    "/portal/settings/",
]
BLOCKING = {"serious", "critical"}


def _check(page: Any, axe: Any, url: str, report: list[str]) -> list[str]:
    page.goto(url)
    results = axe.run(page)
    found = []
    for violation in results.response["violations"]:
        targets = [", ".join(node["target"]) for node in violation["nodes"]][:5]
        line = f"{url} [{violation['impact']}] {violation['id']}: {violation['help']} -> {targets}"
        report.append(line)
        if violation["impact"] in BLOCKING:
            found.append(line)
    return found


@pytest.mark.usefixtures("partner_user")
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_public_pages_and_portal_have_no_serious_accessibility_violations(live_server, browser, device):
    axe = axe_playwright.Axe()
    context = browser.new_context(viewport=VIEWPORTS[device], is_mobile=device == "phone")
    page = context.new_page()
    report: list[str] = []
    blocking: list[str] = []
    try:
        for path in PUBLIC:
            blocking += _check(page, axe, f"{live_server.url}{path}", report)
        page.goto(f"{live_server.url}/portal/login/")
        page.get_by_label("Username").fill("harbor-intake")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/portal/")
        for path in PORTAL:
            blocking += _check(page, axe, f"{live_server.url}{path}", report)
    finally:
        context.close()
        Path(ARTIFACTS).mkdir(exist_ok=True)
        (ARTIFACTS / f"axe-{device}.txt").write_text("\n".join(report) + "\n" if report else "no violations\n")
    assert blocking == [], "\n".join(blocking)
