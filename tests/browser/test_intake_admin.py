"""The staff admin in a real browser, on the demo data: the intake home, the request queue, a call's page.

Screenshots at 390x844 and 1280x800 are kept in tests/browser/artifacts/ (intake-home-*, admin-requests-*,
admin-call-*). At 1280x800 the request list has no horizontal overflow and its key columns are on
screen; the calls in progress refresh without a reload; axe-core finds no serious or critical
violation on the intake home; the pages raise no script or CSP error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from helpline.models import Call
from tests.browser.conftest import VIEWPORTS, device_page, log_in_staff, page_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BLOCKING = {"serious", "critical"}


def _shoot(page: Any, name: str, device: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{device}.png"))
    page.screenshot(path=str(ARTIFACTS / f"{name}-{device}-full.png"), full_page=True)


def _axe_blocking(page: Any) -> list[str]:
    axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")
    results = axe_playwright.Axe().run(page)
    return [
        f"[{v['impact']}] {v['id']}: {v['help']} -> {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_intake_home_request_queue_and_call_page(demo, live_server, browser, device):
    viewport = VIEWPORTS[device]
    base = live_server.url
    with device_page(browser, device) as page:
        problems = page_errors(page)
        log_in_staff(page, base)
        # The intake home: every tile, the live calls list with its script running.
        page.wait_for_selector("[data-live-ready=true]")
        assert page.locator("[data-tile]").count() >= 5
        assert page.locator("[data-live-rows] tr").count() >= 2
        assert "Requests needing attention" in page.inner_text("#content-main")
        _shoot(page, "intake-home", device)
        assert _axe_blocking(page) == []

        if device == "desktop":
            # A call that starts now appears without a reload (the script polls every 10 s).
            before = int(page.inner_text("[data-live-count]"))
            Call.objects.create(call_sid="CAbrowserlive", status=Call.Status.DIALING, started_at=timezone.now())
            expect = pytest.importorskip("playwright.sync_api").expect  # no wait_for_function: CSP forbids eval
            expect(page.locator("[data-live-count]")).to_have_text(str(before + 1), timeout=20_000)

        # The request queue: readable columns, and at 1280 px nothing runs off to the side.
        page.goto(f"{base}/admin/helpline/admissionrequest/")
        _shoot(page, "admin-requests", device)
        text = page.inner_text("#result_list")
        assert "Medical detox" in text and "detox" not in text.replace("Medical detox", "")
        if device == "desktop":
            widths = page.evaluate(
                "() => ({page: document.documentElement.scrollWidth, view: window.innerWidth,"
                " table: document.querySelector('#result_list').scrollWidth,"
                " box: document.querySelector('#changelist .results').clientWidth})"
            )
            assert widths["page"] <= widths["view"], widths
            assert widths["table"] <= widths["box"], widths
            for column in ("Partner", "Phone", "Next action"):
                header = page.locator("#result_list thead th", has_text=column).first
                box = header.bounding_box()
                assert box is not None and box["x"] + box["width"] <= viewport["width"], column

        # A call that failed over: its decision with reasons, both legs, times with the zone.
        failover = next(c for c in Call.objects.filter(call_sid__startswith="CAdemor") if c.attempts.count() > 1)
        page.goto(f"{base}/admin/helpline/call/{failover.pk}/change/")
        _shoot(page, "admin-call", device)
        body = page.inner_text("#content-main")
        assert "No routing decision recorded" not in body
        assert "Dial attempt 2" in body and ("EST" in body or "EDT" in body)
        assert not problems, problems  # no CSP violation or script error on any page
