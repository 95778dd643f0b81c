"""The dashboard in a real browser (Playwright + Debian chromium): sign in, charts render, screenshot."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone

from helpline.models import DialAttempt
from partners.billing import rule as billing
from partners.models import PartnerMembership
from tests.factories import FacilityFactory, PartnerFactory, UserFactory
from tests.partners.factories import CallFactory, DialAttemptFactory, billed_call

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
playwright = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def partner_user():
    facility = FacilityFactory(partner=PartnerFactory(display_name="Harbor Recovery", monthly_budget_cents=200000))
    now = timezone.now()
    for day in range(30):
        for n in range(day % 7 + 1):
            started = now - dt.timedelta(days=day, minutes=n * 7 + 5)
            if n % 3 == 2:
                call = CallFactory(started_at=started)
                DialAttemptFactory(call=call, facility=facility, accepted=False,
                                   outcome=DialAttempt.Outcome.NO_ANSWER, talk_seconds=0)  # fmt: skip
            else:
                call, _ = billed_call(facility=facility, started_at=started, caller=f"+1512555{day:02d}{n:02d}",
                                      talk_seconds=30 if n % 4 == 3 else 240)  # fmt: skip
            billing.bill_call(call_id=call.pk)
    user = UserFactory(username="harbor-intake")
    PartnerMembership.objects.create(user=user, partner=facility.partner)
    return user


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
def test_dashboard_renders_charts_in_a_browser(live_server, partner_user, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    try:
        page = context.new_page()
        console_errors: list[str] = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{live_server.url}/portal/login/")
        page.fill("input[name=username]", "harbor-intake")
        page.fill("input[name=password]", "a-long-test-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/portal/")

        chart = page.locator("[data-testid=calls-chart]")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 100
        heights = page.eval_on_selector_all(
            "[data-testid=calls-chart] rect.bar-offered", "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert len(heights) == 30 and max(heights) > 50 and min(heights) > 0
        billable = page.eval_on_selector_all(
            "[data-testid=calls-chart] rect.bar-billable", "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert all(b <= o for b, o in zip(billable, heights, strict=True)) and max(billable) > 0
        meter = page.locator("[data-testid=budget-meter] > div").bounding_box()
        assert meter is not None and meter["width"] > 0
        assert page.locator("[data-testid=tile-answer] .num").inner_text().endswith("%")
        assert page.get_by_text("Where do calls go?").first.is_visible()
        page.screenshot(path=str(ARTIFACTS / "portal-dashboard.png"), full_page=True)

        page.locator("nav.portal-nav").get_by_role("link", name="Calls", exact=True).click()
        page.wait_for_url(f"{live_server.url}/portal/calls/")
        assert page.locator("[data-testid=calls-table] tbody tr").count() == 50
        assert "•••-•••-" in page.locator("[data-testid=calls-table]").inner_text()
        page.screenshot(path=str(ARTIFACTS / "portal-calls.png"), full_page=False)
    finally:
        context.close()
    csp = [e for e in console_errors if "Content Security Policy" in e]
    assert csp == []
