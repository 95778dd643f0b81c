"""What the browser tests share: the screen sizes, the demo data, a staff sign-in, a page at a device's size.

The session-wide ``browser`` fixture (one Debian chromium) is in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
DEMO_PASSWORD = "browser-test-password-42"


@pytest.fixture
def demo(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo directory, numbers, logins and activity (``seed_demo``); every login's password is DEMO_PASSWORD."""
    call_command("seed_demo", "--password", DEMO_PASSWORD)
    capsys.readouterr()


def log_in_staff(page: Any, base: str) -> None:
    """Sign in to the staff admin as the demo's ``staff`` user; the page is left on the intake home."""
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


@contextmanager
def device_page(browser: Any, device: str, *, mobile: bool = True) -> Iterator[Any]:
    """A page in a fresh context at ``device``'s size (``VIEWPORTS``), closed on the way out.

    A phone is a touch screen with a mobile layout viewport unless ``mobile`` is False
    (then only the window is phone-sized).
    """
    phone = mobile and device == "phone"
    context = browser.new_context(viewport=VIEWPORTS[device], is_mobile=phone, has_touch=phone)
    try:
        yield context.new_page()
    finally:
        context.close()


def page_errors(page: Any) -> list[str]:
    """The script errors and CSP violations the page raises from now on (its console errors and page errors)."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems
