"""Webhook URLs cannot reach our own network (SSRF), and secrets are made by us (issue 11, findings 5 and 6).

Addresses are checked when the URL is saved and again before each attempt;
the request goes to the checked address, never follows a redirect, and the
partner sees one generic reason for any failure, with no timing.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from partners.models import Partner, PartnerMembership, WebhookDelivery
from partners.webhook_addresses import resolve, validate_webhook_url
from partners.webhooks import delivery as webhooks
from tests.factories import PartnerFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = "93.184.215.14"


def _dns(table: dict[str, list[str]]):
    """getaddrinfo answering from ``table`` (literal IPs resolve to themselves, as the real one does)."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in table:
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in table[host]
            ]
        return real(host, port, *args, **kwargs)

    return mock.patch("partners.webhook_addresses.socket.getaddrinfo", side_effect=fake)


REFUSED_URLS = [
    "http://localhost:8000/hook",
    "https://localhost/hook",
    "https://127.0.0.1:5432/",
    "https://[::1]:8000/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.5/hook",
    "https://172.16.3.4/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://240.0.0.1/hook",  # reserved
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "https://[::ffff:169.254.169.254]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://[ff02::1]/hook",
    "https://[::]/hook",
    "https://rebind.partner.test/hook",  # a name that resolves to loopback
    "https://mixed.partner.test/hook",  # one public and one private address
    "http://hooks.partner.test/hook",  # plain http
    "ftp://hooks.partner.test/hook",
    "https://user:pw@hooks.partner.test/hook",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_internal_addresses_and_plain_http_are_refused_at_save(url):
    partner = PartnerFactory.build(slug="ssrf", webhook_url=url, webhook_secret=webhooks.new_secret())
    with _dns({"rebind.partner.test": ["127.0.0.1"], "mixed.partner.test": [PUBLIC, "10.1.2.3"],
               "hooks.partner.test": [PUBLIC], "localhost": ["127.0.0.1", "::1"]}):  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            partner.full_clean()
    assert "webhook_url" in caught.value.message_dict


def test_a_public_https_host_is_accepted():
    with _dns({"hooks.partner.test": [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]}):
        validate_webhook_url("https://hooks.partner.test/clearline?x=1")
        target = resolve("https://hooks.partner.test/clearline?x=1")
    assert (target.host, target.port, target.path, target.address) == (
        "hooks.partner.test", 443, "/clearline?x=1", PUBLIC,
    )  # fmt: skip


class Receiver:
    def __init__(self, code: int = 200, location: str = "") -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, dict(self.headers)))
                self.send_response(code)
                if location:
                    self.send_header("Location", location)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    return settings


def _partner(url: str) -> Partner:
    return PartnerFactory(webhook_url=url, webhook_secret=webhooks.new_secret())


def test_the_address_is_checked_again_at_send_time(settings):
    """Saved while public; DNS now answers loopback: nothing is sent, the partner sees a generic reason."""
    receiver = Receiver()
    try:
        settings.WEBHOOK_ALLOW_HTTP = True
        partner = _partner(f"http://hooks.partner.test:{receiver.port}/hook")
        with _dns({"hooks.partner.test": ["127.0.0.1"]}):
            event = webhooks.enqueue_event(partner_id=partner.pk, event="call.connected", payload={})
        assert receiver.requests == []
        delivery = WebhookDelivery.objects.get(webhook_event=event)
        assert (delivery.ok, delivery.status_code, delivery.error, delivery.duration_ms) == (
            False, None, "could not deliver", 0,
        )  # fmt: skip
    finally:
        receiver.close()


def test_the_request_goes_to_the_checked_address_not_a_new_lookup(loopback_allowed):
    """The name is resolved once, by the check; the connection uses that address and names the host."""
    receiver = Receiver()
    try:
        partner = _partner(f"http://hooks.partner.test:{receiver.port}/hook")
        with _dns({"hooks.partner.test": ["127.0.0.1"]}) as lookup:
            webhooks.enqueue_event(partner_id=partner.pk, event="call.connected", payload={})
        # (the patch is on the socket module, so the connection's own lookup of the literal address shows too)
        assert [c.args[0] for c in lookup.call_args_list].count("hooks.partner.test") == 1
        [(path, headers)] = receiver.requests
        assert path == "/hook" and headers["Host"] == f"hooks.partner.test:{receiver.port}"
    finally:
        receiver.close()


def test_redirects_are_not_followed(loopback_allowed):
    receiver = Receiver(code=302, location="http://169.254.169.254/latest/meta-data/")
    try:
        partner = _partner(f"http://127.0.0.1:{receiver.port}/hook")
        event = webhooks.enqueue_event(partner_id=partner.pk, event="call.connected", payload={})
        assert len(receiver.requests) == 1
        delivery = WebhookDelivery.objects.get(webhook_event=event)
        assert not delivery.ok and delivery.status_code == 302
    finally:
        receiver.close()


def test_the_partner_log_shows_no_reason_or_timing_that_could_probe_ports(client, loopback_allowed):
    partner = _partner("http://127.0.0.1:9/closed-port")
    webhooks.enqueue_event(partner_id=partner.pk, event="call.connected", payload={})
    user = UserFactory()
    PartnerMembership.objects.create(user=user, partner=partner)
    client.force_login(user)
    html = client.get(reverse("portal:webhooks")).content.decode()
    assert "could not deliver" in html
    for oracle in ("ConnectionError", "refused", "Timeout", " ms<"):
        assert oracle not in html


def test_an_empty_secret_with_a_webhook_is_impossible():
    with pytest.raises(IntegrityError), transaction.atomic():
        PartnerFactory(webhook_url="https://hooks.partner.test/hook", webhook_secret="")
    PartnerFactory(webhook_url="", webhook_secret="")  # no webhook, no secret: fine


def test_staff_setting_a_url_get_a_generated_secret_they_never_type(client):
    partner = PartnerFactory()
    client.force_login(StaffFactory())
    page = client.get(reverse("admin:partners_partner_change", args=[partner.pk])).content.decode()
    assert 'name="webhook_secret"' not in page
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update({"webhook_url": "https://hooks.partner.test/hook", "webhook_secret": "typed-by-staff"})
    data.update({f"facilities-{k}": v for k, v in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()})
    with _dns({"hooks.partner.test": [PUBLIC]}):
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    partner.refresh_from_db()
    assert partner.webhook_url == "https://hooks.partner.test/hook"
    assert partner.webhook_secret != "typed-by-staff" and len(partner.webhook_secret) >= 43


def test_partner_rotates_the_secret_and_sees_it_once(client):
    partner = _partner("https://hooks.partner.test/hook")
    old = partner.webhook_secret
    user = UserFactory()
    PartnerMembership.objects.create(user=user, partner=partner)
    client.force_login(user)
    assert client.get(reverse("portal:webhook_secret_rotate")).status_code == 405
    response = client.post(reverse("portal:webhook_secret_rotate"))
    partner.refresh_from_db()
    assert partner.webhook_secret != old and len(partner.webhook_secret) >= 43
    assert partner.webhook_secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert partner.webhook_secret not in client.get(reverse("portal:webhooks")).content.decode()
