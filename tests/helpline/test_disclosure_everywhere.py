"""Every HTML page of the project shows "Where do calls go?", for every kind of visitor.

The URL list is not kept by hand: the test walks ``get_resolver()`` recursively,
so a page added by anyone is checked the next time the suite runs. Path
parameters are filled with real objects (the demo directory plus a call, a
request and an invoice of the partner user's partner), chosen by the model the
view serves (admin views and DRF viewsets say it; otherwise the parameter or
the path segment before it names it). Each URL is requested with a browser's
Accept header as an anonymous visitor, a staff superuser and a partner user,
following redirects; an HTML response without the section fails the test.
Non-HTML responses (TwiML, JSON, CSV, PDF) and empty bodies (405 on POST-only
webhooks) are reported, not checked. The coverage table is printed and saved
to ``artifacts/disclosure-coverage.txt``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import DatabaseError, models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve
from django.urls.exceptions import Resolver404
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from config import urls as config_urls
from helpline.site.directory import listed_partners

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as C  # noqa: N812
    import sre_parse

pytestmark = pytest.mark.django_db

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SECTION_RE = re.compile(
    r'<section[^>]*id="where-do-calls-go"[^>]*>.*?'
    r"<h2[^>]*>\s*(?:Where do calls go\?|¿A dónde van las llamadas\?)\s*</h2>(?P<body>.*?)</section>",
    re.S,
)


# --- Walking the URL conf ---------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One URL pattern with the chain of patterns above it."""

    route: str  # the concatenated pattern text, as ResolverMatch.route shows it
    chain: tuple[Any, ...]  # the pattern objects, outermost first
    callback: Any
    name: str | None


def walk(resolver: URLResolver | None = None, chain: tuple[Any, ...] = ()) -> Iterator[Route]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry, (*chain, entry.pattern))
        elif isinstance(entry, URLPattern):
            full = (*chain, entry.pattern)
            yield Route("".join(str(p) for p in full), full, entry.callback, entry.name)


def _pick_from_class(items: list[tuple[Any, Any]]) -> str:
    negate = bool(items) and items[0][0] is C.NEGATE
    if negate:
        excluded: set[str] = set()
        for op, av in items[1:]:
            if op is C.LITERAL:
                excluded.add(chr(av))
            elif op is C.RANGE:
                excluded.update(chr(c) for c in range(av[0], av[1] + 1))
        return next(ch for ch in "a0xZ-_" if ch not in excluded)
    op, av = items[0]
    if op is C.LITERAL:
        return chr(av)
    if op is C.RANGE:
        return chr(av[0])
    if op is C.CATEGORY:
        return {C.CATEGORY_DIGIT: "0", C.CATEGORY_SPACE: " "}.get(av, "a")
    return "a"


def _generate(parsed: Any, group_names: dict[int, str], values: dict[str, str]) -> str:
    """A string the regex matches, with named groups replaced by the given values."""
    out: list[str] = []
    for op, av in parsed:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.NOT_LITERAL:
            out.append("a" if chr(av) != "a" else "b")
        elif op is C.ANY:
            out.append("a")
        elif op is C.IN:
            out.append(_pick_from_class(av))
        elif op is C.BRANCH:
            out.append(_generate(av[1][0], group_names, values))
        elif op is C.SUBPATTERN:
            group, _add, _del, sub = av
            name = group_names.get(group) if group else None
            out.append(values[name] if name in values else _generate(sub, group_names, values))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            low, _high, sub = av
            out.append(_generate(sub, group_names, values) * low)
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue
        elif op is C.GROUPREF:
            continue
        else:  # pragma: no cover - a construct URL patterns do not use
            raise AssertionError(f"cannot generate {op}")
    return "".join(out)


def build_path(route: Route, values_for: Any) -> tuple[str, dict[str, str]]:
    """The request path for a route: each level's regex generated with parameter values filled in."""
    parts: list[str] = []
    used: dict[str, str] = {}
    for pattern in route.chain:
        regex = pattern.regex
        group_names = {index: name for name, index in regex.groupindex.items()}
        # The route text before a parameter names what it points at ("portal/invoices/<int:pk>/").
        values = {name: values_for(name, _text_before(route.route, name), route) for name in regex.groupindex}
        values = {k: v for k, v in values.items() if v is not None}
        used.update(values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            parsed = sre_parse.parse(regex.pattern)
        parts.append(_generate(parsed, group_names, values))
    return "/" + "".join(parts), used


def _text_before(route_text: str, name: str) -> str:
    for marker in (f":{name}>", f"<{name}>", f"(?P<{name}>"):
        index = route_text.find(marker)
        if index >= 0:
            return route_text[:index]
    return route_text


def _normal(route_text: str) -> str:
    return route_text.replace("^", "")


# --- Filling parameters with real objects ---------------------------------------------------


def _project_models() -> list[type[models.Model]]:
    """Every model, the project's own apps first (an "attempt" is a DialAttempt before an axes AccessAttempt)."""
    own = ("helpline", "partners", "routing")
    return sorted(apps.get_models(), key=lambda m: (m._meta.app_label not in own, m._meta.label))


def _model_named(word: str) -> type[models.Model] | None:
    word = word.lower().replace("-", "").replace("_", "")
    candidates = {word, word[:-1] if word.endswith("s") else word, word[:-3] + "y" if word.endswith("ies") else word}
    for model in _project_models():
        if model._meta.model_name in candidates:
            return model
    for model in _project_models():
        if any(c and model._meta.model_name.endswith(c) for c in candidates):
            return model
    return None


def _view_model(route: Route, prefix: str, name: str) -> type[models.Model] | None:
    callback = route.callback
    model_admin = getattr(callback, "model_admin", None)
    if model_admin is not None:
        return model_admin.model
    for holder in (getattr(callback, "view_class", None), getattr(callback, "cls", None)):
        if holder is None:
            continue
        model = getattr(holder, "model", None)
        queryset = getattr(holder, "queryset", None)
        if model is None and queryset is not None:
            model = queryset.model
        if model is not None:
            return model
    if name.endswith("_id") and name not in ("object_id", "content_type_id"):
        model = _model_named(name[: -len("_id")])
        if model is not None:
            return model
    segments = [s for s in re.split(r"[/^$\\.]+", re.sub(r"<[^>]*$|\(\?P<[^>]*$", "", prefix)) if s]
    segments = [s for s in segments if re.fullmatch(r"[A-Za-z_-]+", s)]
    for segment in reversed(segments):
        model = _model_named(segment)
        if model is not None:
            return model
    return None


class Values:
    """Parameter values for one persona: rows of the persona's partner first, when the model has one."""

    def __init__(self, *, partner: Any, user: Any):
        self.partner = partner
        self.user = user
        self.missing: set[tuple[str, str]] = set()

    def _row(self, model: type[models.Model]) -> models.Model | None:
        rows = model._default_manager.order_by("pk")
        field_names = {f.name for f in model._meta.get_fields()}
        if self.partner is not None:
            if "partner" in field_names:
                own = rows.filter(partner=self.partner).first()
                if own is not None:
                    return own
            if "facility" in field_names:
                own = rows.filter(facility__partner=self.partner).first()
                if own is not None:
                    return own
        return rows.first()

    def __call__(self, name: str, prefix: str, route: Route) -> str | None:
        fixed = {"format": "json", "app_label": "partners", "code": "detox", "url": "no-such-page/"}
        if name in fixed:
            return fixed[name]
        if name == "uidb64":
            return urlsafe_base64_encode(force_bytes(self.user.pk))
        if name == "token" and "uidb64" in route.route:
            return default_token_generator.make_token(self.user)
        if name == "content_type_id":
            return str(ContentType.objects.get_for_model(get_user_model()).pk)
        if name == "object_id" and "content_type_id" in route.route:
            return str(self.user.pk)
        if name in ("year", "month", "day"):
            return {"year": "2026", "month": "3", "day": "10"}[name]
        if name in ("pk", "id", "object_id", "public_id", "slug") or name.endswith("_id"):
            model = _view_model(route, prefix, name)
            if model is None:
                self.missing.add((route.route, f"no model for {name!r}"))
                return None
            row = self._row(model)
            if row is None:
                self.missing.add((route.route, f"no {model._meta.label} row"))
                return None
            if name == "public_id":
                return str(getattr(row, "public_id", row.pk))
            if name == "slug":
                return str(getattr(row, "slug", row.pk))
            return str(row.pk)
        return None  # generated from the pattern itself


# --- The world the pages are rendered against ---------------------------------------------------


@pytest.fixture
def world(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The demo directory plus activity of the partner user's partner (a call, a request, an invoice)."""
    call_command("seed_demo", "--password", "walker-password-0123456789")
    capsys.readouterr()  # the printed credentials are not needed here
    user_model = get_user_model()
    staff = user_model.objects.get(username="staff")
    partner_user = user_model.objects.get(username="partner")
    partner = partner_user.partner_membership.partner
    facility = partner.facilities.order_by("pk").first()
    _activity(facility)
    _admin_rows(staff)
    return {"staff": staff, "partner_user": partner_user, "partner": partner}


def _activity(facility: Any) -> None:
    """Calls, legs, a request and an invoice through the other apps' own test factories and services."""
    from tests import factories

    call, _attempt = factories.billed_call(facility=facility)
    factories.AdmissionRequestFactory(partner=facility.partner, facility=facility)
    try:
        from partners.billing.invoices import generate_invoice
        from partners.billing.rule import bill_call

        bill_call(call_id=call.pk)
        generate_invoice(partner=facility.partner, month=dt.date(2026, 3, 1))
    except ImportError:  # pragma: no cover - billing not present: its pages are then covered empty
        pass


def _admin_rows(staff: Any) -> None:
    """One row of the other admin models, so their change, history and delete pages are rendered too."""
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework.authtoken.models import Token

    from routing.engine import Location, RouteRequest
    from routing.services import route

    Group.objects.create(name="Intake")
    Token.objects.create(user=staff)
    TOTPDevice.objects.create(user=staff, name="staff phone", confirmed=True)
    route(request=RouteRequest(service="detox", location=Location(zip_code="78701", state="TX")), kind="call")


# --- The checks -----------------------------------------------------------------------------


@dataclass
class Row:
    persona: str
    route: str
    path: str
    status: int | str
    content_type: str
    verdict: str


def _fees_today(language: str = "en") -> str:
    """What the section must say about fees, worked out here from the listed partners' prices."""
    low, high = (
        listed_partners().aggregate(low=models.Min("price_per_call_cents"), high=models.Max("price_per_call_cents"))
    ).values()
    assert low % 100 == 0 and high % 100 == 0 and low < high, "the demo prices are whole dollars, and differ"
    if language == "es":
        return f"Hoy esa tarifa es de ${low // 100}\u2013${high // 100} por llamada"
    return f"Today that fee is ${low // 100}\u2013${high // 100} per call"


def _check(response: Any, partner_names: list[str], fees_today: str | None = None) -> str:
    content_type = response.get("Content-Type", "")
    if not content_type.startswith("text/html"):
        return "non-html"
    body = response.content.decode("utf-8", "replace")
    if not body.strip():
        return "empty"
    section = SECTION_RE.search(body)
    if section is None:
        return "MISSING"
    listed = section.group("body")
    absent = [name for name in partner_names if html.escape(name, quote=True) not in listed]
    if absent:
        return f"MISSING partners {absent}"
    if fees_today is not None and fees_today not in listed:
        return "MISSING fees today"
    return "ok"


def _client(persona: str, world: dict[str, Any]) -> Client:
    client = Client(HTTP_ACCEPT=BROWSER_ACCEPT)
    client.raise_request_exception = False  # a broken page is shown as our 500 page, which is checked too
    if persona == "staff":
        client.force_login(world["staff"])
    elif persona == "partner":
        client.force_login(world["partner_user"])
    return client


def _path_for(route: Route, values: Values) -> str | None:
    """A path that resolves to this very route: with real objects if possible, else from the pattern alone."""
    for fill in (values, lambda *args: None):
        url, _used = build_path(route, fill)
        try:
            match = resolve(url)
        except Resolver404:
            continue
        if _normal(match.route) == _normal(route.route):
            return url
    return None


def _walk_as(persona: str, world: dict[str, Any]) -> list[Row]:
    user = world["partner_user"] if persona == "partner" else world["staff"]
    values = Values(partner=world["partner"] if persona == "partner" else None, user=user)
    partner_names = sorted(listed_partners().values_list("display_name", flat=True))
    fees_today = {"en": _fees_today("en"), "es": _fees_today("es")}
    rows: list[Row] = []
    targets: list[tuple[str, str]] = []
    # The public site twice: unprefixed (English), then under /es/ (Spanish); the other areas once.
    for language in ("en", "es"):
        with translation.override(language):
            for route in walk():
                if language != "en" and not route.route.startswith(f"{language}/"):
                    continue
                url = _path_for(route, values)
                if url is None:
                    rows.append(Row(persona, route.route, "-", "-", "-", "unresolvable"))
                    continue
                targets.append((route.route, url))
    targets.append(("(forced 404)", "/no-such-page-for-the-disclosure-walker/"))
    for route_text, url in targets:
        client = _client(persona, world)  # fresh login each time: a page may log the visitor out
        response = client.get(url, follow=True)
        final = f"{url} -> {response.redirect_chain[-1][0]}" if response.redirect_chain else url
        rows.append(
            Row(
                persona,
                route_text,
                final,
                response.status_code,
                response.get("Content-Type", "").split(";")[0],
                _check(response, partner_names, fees_today["es" if url.startswith("/es/") else "en"]),
            )
        )
    for route_text, note in sorted(values.missing):
        rows.append(Row(persona, route_text, "-", "-", "-", f"parameter filled from the pattern ({note})"))
    return rows


def _report(persona: str, rows: list[Row]) -> str:
    lines = [f"Disclosure coverage as {persona}: {len(rows)} rows", ""]
    width = max(len(r.path) for r in rows)
    for r in rows:
        lines.append(f"{r.verdict:<14} {r.status!s:<4} {r.content_type:<24} {r.path:<{width}}  {r.route}")
    text = "\n".join(lines)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"disclosure-coverage-{persona}.txt").write_text(text + "\n")
    print(text)  # noqa: T201 - the coverage report is part of the test's output
    return text


@pytest.mark.parametrize("persona", ["anonymous", "staff", "partner"])
def test_every_html_page_shows_the_disclosure(world: dict[str, Any], persona: str) -> None:
    rows = _walk_as(persona, world)
    report = _report(persona, rows)
    missing = [r for r in rows if r.verdict.startswith("MISSING")]
    assert not missing, "Pages without the disclosure:\n" + "\n".join(f"{r.path} ({r.route})" for r in missing)
    checked = {r.route for r in rows if r.verdict == "ok"}
    # The walk really reached pages of every area (guards against a walker that silently checks nothing).
    assert {"", "providers/", "treatment/<slug:code>/", "(forced 404)"} <= checked, report
    # Substance guides and the Spanish pages are walked too.
    assert {"guides/", "guides/<slug:slug>/", "es/", "es/treatment/<slug:code>/", "es/guides/"} <= checked, report
    assert "es/guides/<slug:slug>/" in checked, report
    assert any(route.startswith("portal/") for route in checked), report
    if persona == "staff":
        admin_pages = {r.route for r in rows if r.verdict == "ok" and r.route.startswith("admin/")}
        assert "admin/helpline/disclosureversion/add/" in admin_pages, report
        assert "admin/partners/facility/<path:object_id>/change/" in admin_pages, report
        assert "admin/password_change/" in admin_pages, report
    if persona == "anonymous":
        assert "admin/login/" in checked or "admin/" in checked, report


# --- 404 and 500 with DEBUG=False ------------------------------------------------------------


def _boom(request: Any) -> Any:
    raise RuntimeError("a view that fails, to show the 500 page")


# Spread, not include(): the project URL conf uses i18n_patterns, which Django allows only at the root.
urlpatterns = [path("__boom__/", _boom), *config_urls.urlpatterns]
handler404 = "helpline.site.views.page_not_found"
handler500 = "helpline.site.views.server_error"


@pytest.mark.urls(__name__)
def test_500_page_shows_the_disclosure_and_the_partner_list(world: dict[str, Any], settings: Any) -> None:
    settings.DEBUG = False
    client = Client(HTTP_ACCEPT=BROWSER_ACCEPT)
    client.raise_request_exception = False
    response = client.get("/__boom__/")
    assert response.status_code == 500
    names = sorted(listed_partners().values_list("display_name", flat=True))
    assert _check(response, names, _fees_today()) == "ok"
    assert "Something went wrong on our side" in response.content.decode()


@pytest.mark.urls(__name__)
def test_500_page_keeps_the_disclosure_when_the_database_is_down(world: dict[str, Any], settings: Any) -> None:
    settings.DEBUG = False
    client = Client(HTTP_ACCEPT=BROWSER_ACCEPT)
    client.raise_request_exception = False
    with mock.patch("helpline.site.disclosure.current_version", side_effect=DatabaseError("down")):
        response = client.get("/__boom__/")
    assert response.status_code == 500
    body = response.content.decode()
    assert SECTION_RE.search(body)
    assert "not affiliated with Alcoholics Anonymous" in body
    assert "cannot be shown right now" in body


@pytest.mark.urls(__name__)
def test_500_page_keeps_the_disclosure_when_templates_fail(world: dict[str, Any], settings: Any) -> None:
    settings.DEBUG = False
    client = Client(HTTP_ACCEPT=BROWSER_ACCEPT)
    client.raise_request_exception = False
    with mock.patch("helpline.site.views.loader.render_to_string", side_effect=RuntimeError("template broken")):
        response = client.get("/__boom__/")
    assert response.status_code == 500
    assert SECTION_RE.search(response.content.decode())


def test_404_page_shows_the_disclosure(world: dict[str, Any], settings: Any) -> None:
    settings.DEBUG = False
    response = Client(HTTP_ACCEPT=BROWSER_ACCEPT).get("/definitely/not/here/")
    assert response.status_code == 404
    names = sorted(listed_partners().values_list("display_name", flat=True))
    assert _check(response, names, _fees_today()) == "ok"


def test_walker_reports_a_page_without_the_disclosure(world: dict[str, Any]) -> None:
    """The check itself: an HTML page without the section is caught, a TwiML one is skipped."""
    from django.http import HttpResponse

    names = ["Hill Country Recovery Center"]
    assert _check(HttpResponse("<html><body><h1>Hi</h1></body></html>"), names) == "MISSING"
    heading_only = '<section id="where-do-calls-go"><h2>Where do calls go?</h2><p>x</p></section>'
    assert _check(HttpResponse(heading_only), names).startswith("MISSING partners")
    untrue = f"{heading_only[: -len('</section>')]}<ul><li>Hill Country Recovery Center</li></ul></section>"
    assert _check(HttpResponse(untrue), names) == "ok"
    assert _check(HttpResponse(untrue), names, _fees_today()) == "MISSING fees today"
    assert _check(HttpResponse("<Response/>", content_type="text/xml"), names) == "non-html"
