"""Staff admin and partner portal: configurable admin path, lockout, client address, OTP, sessions."""

from __future__ import annotations

import datetime as dt
import importlib
import io
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import clear_url_caches
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PartnerUserFactory, StaffFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-1"
ADMIN_LOGIN = f"/{settings.ADMIN_URL}login/"
PORTAL_LOGIN = "/portal/login/"


def _reload_urls() -> None:
    import config.urls

    importlib.reload(config.urls)
    clear_url_caches()


@pytest.fixture
def moved_admin():
    with override_settings(ADMIN_URL="staff-7f3k/"):
        _reload_urls()
        yield "/staff-7f3k/"
    _reload_urls()


def test_admin_lives_at_the_configured_path(moved_admin, client):
    staff = StaffFactory()

    assert client.get(f"{moved_admin}login/").status_code == 200
    assert client.get("/admin/login/").status_code == 404
    client.force_login(staff)
    assert client.get(moved_admin).status_code == 200


def _fail(client: Client, url: str, username: str, **extra) -> int:
    data = {"username": username, "password": "wrong-password-123"}
    if url == ADMIN_LOGIN:
        data["next"] = f"/{settings.ADMIN_URL}"
    return client.post(url, data, **extra).status_code


@pytest.mark.parametrize("login_url", [ADMIN_LOGIN, PORTAL_LOGIN], ids=["admin", "portal"])
def test_repeated_failed_logins_lock_the_account_even_with_the_right_password(login_url):
    user = StaffFactory() if login_url == ADMIN_LOGIN else PartnerUserFactory()
    client = Client(REMOTE_ADDR="203.0.113.7")

    statuses = [_fail(client, login_url, user.username) for _ in range(settings.AXES_FAILURE_LIMIT)]

    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # the form, with an error
    assert statuses[-1] == 429
    locked = client.post(login_url, {"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.get(username=user.username).ip_address == "203.0.113.7"


def test_lockout_ends_after_the_cool_off():
    user = PartnerUserFactory()
    client = Client(REMOTE_ADDR="203.0.113.8")
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            _fail(client, PORTAL_LOGIN, user.username)
        assert client.post(PORTAL_LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 429

    after = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC) + settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1)
    with time_machine.travel(after, tick=False):
        response = client.post(PORTAL_LOGIN, {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(user.pk)


@override_settings(PROXY_COUNT=1)
def test_behind_the_proxy_the_lockout_is_per_real_client_address():
    """Behind one proxy every request comes from the proxy; X-Forwarded-For names the caller."""
    user = PartnerUserFactory()
    attacker = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.66")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _fail(attacker, PORTAL_LOGIN, user.username)
    assert attacker.post(PORTAL_LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 429
    assert AccessAttempt.objects.get().ip_address == "198.51.100.66"

    # The real user behind the same proxy is not locked out by someone else's failures...
    colleague = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.10")
    assert colleague.post(PORTAL_LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 302
    # ...and the attacker cannot escape the lockout by forging a left-most address.
    forged = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.10, 198.51.100.66")
    assert forged.post(PORTAL_LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 429


def test_without_a_proxy_forwarded_headers_are_ignored():
    from config.security import client_ip

    class Req:
        META = {"REMOTE_ADDR": "198.51.100.66", "HTTP_X_FORWARDED_FOR": "192.0.2.10"}

    assert client_ip(Req()) == "198.51.100.66"  # type: ignore[arg-type]
    with override_settings(PROXY_COUNT=2):
        Req.META["HTTP_X_FORWARDED_FOR"] = "1.2.3.4, 192.0.2.10, 10.0.0.1"
        assert client_ip(Req()) == "192.0.2.10"  # type: ignore[arg-type]
        Req.META["HTTP_X_FORWARDED_FOR"] = "not-an-ip, 10.0.0.1"
        assert client_ip(Req()) == "198.51.100.66"  # type: ignore[arg-type]


def _enrol(username: str) -> TOTPDevice:
    out = io.StringIO()
    call_command("enroll_totp", username, stdout=out)
    uri = out.getvalue().strip()
    assert uri.startswith("otpauth://totp/")
    assert "secret" in parse_qs(urlparse(uri).query)
    return TOTPDevice.objects.get(user__username=username)


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


@override_settings(STAFF_REQUIRE_OTP=True)
def test_with_otp_required_a_password_alone_does_not_open_the_admin():
    staff = StaffFactory()
    device = _enrol(staff.username)
    client = Client()

    password_only = client.post(ADMIN_LOGIN, {"username": staff.username, "password": PASSWORD})
    assert password_only.status_code == 200  # the form again, asking for the code
    assert "_auth_user_id" not in client.session

    # A session authenticated some other way but never verified is treated as not staff.
    client.force_login(staff)
    assert client.get(f"/{settings.ADMIN_URL}").status_code == 302
    client.logout()

    response = client.post(
        ADMIN_LOGIN,
        {
            "username": staff.username,
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": _code(device),
        },
    )
    assert response.status_code == 302
    assert client.get(f"/{settings.ADMIN_URL}").status_code == 200


@override_settings(STAFF_REQUIRE_OTP=True)
def test_with_otp_required_a_wrong_code_is_refused():
    staff = StaffFactory()
    device = _enrol(staff.username)
    client = Client()
    wrong = "000000" if _code(device) != "000000" else "111111"

    response = client.post(
        ADMIN_LOGIN,
        {"username": staff.username, "password": PASSWORD, "otp_device": device.persistent_id, "otp_token": wrong},
    )

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@override_settings(STAFF_REQUIRE_OTP=False)
def test_with_otp_off_the_password_is_enough():
    staff = StaffFactory()
    client = Client()
    assert client.post(ADMIN_LOGIN, {"username": staff.username, "password": PASSWORD}).status_code == 302
    assert client.get(f"/{settings.ADMIN_URL}").status_code == 200


def test_enrol_refuses_non_staff_and_duplicates_without_replace():
    partner_user = PartnerUserFactory()
    staff = StaffFactory()
    with pytest.raises(CommandError, match="not staff"):
        call_command("enroll_totp", partner_user.username, stdout=io.StringIO())
    _enrol(staff.username)
    with pytest.raises(CommandError, match="already has"):
        call_command("enroll_totp", staff.username, stdout=io.StringIO())
    call_command("enroll_totp", staff.username, "--replace", stdout=io.StringIO())
    assert TOTPDevice.objects.filter(user=staff).count() == 1


def test_password_rules_refuse_weak_passwords():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    staff = StaffFactory(username="intake.lead", email="intake.lead@example.org")
    for weak in ["short1!", "password12345", "123456789012", "intake.lead2026"]:
        with pytest.raises(ValidationError):
            validate_password(weak, user=staff)
    validate_password("cobalt-harbor-lantern-91", user=staff)


def test_sessions_expire():
    assert settings.SESSION_COOKIE_AGE <= 8 * 60 * 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    staff = StaffFactory()
    client = Client()
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        client.force_login(staff)
        assert client.get(f"/{settings.ADMIN_URL}").status_code == 200
    with time_machine.travel(start + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE + 60), tick=False):
        assert client.get(f"/{settings.ADMIN_URL}").status_code == 302
