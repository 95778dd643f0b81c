"""Which page brought a call or a request.

- **Tracking numbers.** A helpline number of kind ``tracking`` carries a source: a guide
  (by slug, which both languages of a guide share) or a named campaign (its
  ``utm_campaign``). A page shows its source's number when that source has an active
  tracking number, the general number otherwise (``{% tracking_number %}`` in
  ``templates/base.html``). A view names its page's source by putting
  ``tracking_source`` in its context, e.g. ``{"tracking_source": TrackingSource.guide(guide.slug)}``.
  A visitor who arrived through a campaign with its own number sees that number on
  every page of the visit: the campaign paid for the visit, so it is what brought the
  call. Calls to a tracking number route like general calls and are recorded with the
  source (``helpline.calls.services.call_record_incoming``).
- **The visit.** ``VisitMiddleware`` keeps the visit's first page and its
  ``utm_source`` / ``utm_medium`` / ``utm_campaign`` in the session: no other cookie,
  no third-party script. An admission request records them, with the page it was sent
  from, and a source worked out from them (``request_source``).

Every value that comes from a browser is cleaned here: control characters removed,
query strings dropped from pages (they can carry anything), lengths bounded.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import translation

from helpline.models import PAGE_MAX_LENGTH, SOURCE_KEY_MAX_LENGTH, UTM_MAX_LENGTH, HelplineNumber, SourceKind

logger = logging.getLogger(__name__)

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
SESSION_KEY = "visit"
GUIDE_VIEW_NAME = "guides:detail"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
# UTM values are labels ("google", "cpc", "spring-2027"): letters, digits and a little punctuation.
_UTM_JUNK = re.compile(r"[^\w .,:;/+\-%()&@!|~]")
_SLUG = re.compile(r"^[-a-z0-9_]+$")


# --- Cleaning what browsers send --------------------------------------------------------------


def clean_label(value: object, *, max_length: int = UTM_MAX_LENGTH) -> str:
    """A UTM value or a campaign name: safe characters, single spaces, lower case, bounded."""
    text = _CONTROL.sub("", re.sub(r"\s", " ", str(value or "")))  # tabs and line breaks are spaces
    text = _UTM_JUNK.sub("", text)
    return " ".join(text.split()).lower()[:max_length].strip()


def clean_page(value: object) -> str:
    """A page as we keep it: our path (``/guides/klonopin/``) or, from the API, an http(s) URL.

    The query string and fragment are dropped (they may carry anything, names included),
    so are user info and anything that is neither a path nor an http(s) URL.
    """
    text = _CONTROL.sub("", str(value or "")).strip()
    if not text or any(ch.isspace() for ch in text):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return ""
        host = parts.hostname + (f":{parts.port}" if _port(parts) else "")
        page = f"{parts.scheme}://{host}{parts.path or '/'}"
    elif text.startswith("/") and not text.startswith("//"):
        page = parts.path
    else:
        return ""
    return page if len(page) <= PAGE_MAX_LENGTH else ""  # a cut path names another page: keep none


def _port(parts: Any) -> int | None:
    try:
        return parts.port  # type: ignore[no-any-return]
    except ValueError:
        return None


def page_from_referer(request: HttpRequest) -> str:
    """The path of a same-site Referer (the base template sends ``same-origin``), else empty."""
    referer = request.META.get("HTTP_REFERER", "")
    try:
        parts = urlsplit(referer)
        same_site = parts.netloc == request.get_host()
    except Exception:  # noqa: BLE001 - a junk Referer or a disallowed Host is simply no page
        return ""
    return clean_page(parts.path) if same_site else ""


# --- Sources -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackingSource:
    kind: str  # a SourceKind value ("" is direct)
    key: str

    @classmethod
    def guide(cls, slug: str) -> TrackingSource:
        return cls(SourceKind.GUIDE, str(slug)[:SOURCE_KEY_MAX_LENGTH])

    @classmethod
    def campaign(cls, name: str) -> TrackingSource:
        return cls(SourceKind.CAMPAIGN, clean_label(name, max_length=SOURCE_KEY_MAX_LENGTH))

    @property
    def is_direct(self) -> bool:
        return not self.kind or not self.key


DIRECT = TrackingSource(SourceKind.DIRECT, "")


def guide_slug_for_page(page: str) -> str | None:
    """The slug when ``page`` is one of our guide pages (``/guides/<slug>/``, ``/es/guides/<slug>/``)."""
    parts = urlsplit(page)
    if parts.netloc and parts.netloc != urlsplit(settings.PUBLIC_BASE_URL).netloc:
        return None  # a partner's own page
    path = parts.path
    # Language-prefixed URLs resolve only with their language active.
    prefix = path.split("/", 2)[1] if path.count("/") >= 2 else ""
    language = prefix if prefix in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            match = resolve(path)
        except Resolver404:
            return None
    slug = str(match.kwargs.get("slug", ""))
    return slug if match.view_name == GUIDE_VIEW_NAME and _SLUG.match(slug) else None


# --- Tracking numbers ------------------------------------------------------------------------------

# Read on every page view and changed a few times a year: each process keeps the active tracking
# numbers for a short while; an edit in this process clears them at once, other processes within the TTL.
_NUMBERS_TTL_SECONDS = 30.0
_numbers: dict[str, Any] = {}
_numbers_lock = threading.Lock()


def forget_tracking_numbers(**_kwargs: object) -> None:
    with _numbers_lock:
        _numbers.clear()


post_save.connect(forget_tracking_numbers, sender=HelplineNumber, dispatch_uid="attribution-forget-numbers-save")
post_delete.connect(forget_tracking_numbers, sender=HelplineNumber, dispatch_uid="attribution-forget-numbers-del")


def tracking_numbers() -> Mapping[tuple[str, str], str]:
    """Active tracking numbers by (source kind, key), E.164. Empty if the database cannot be read."""
    clock = time.monotonic()
    with _numbers_lock:
        if _numbers.get("until", 0.0) > clock:
            return _numbers["map"]  # type: ignore[no-any-return]
    try:
        rows = HelplineNumber.objects.filter(kind=HelplineNumber.Kind.TRACKING, is_active=True).values_list(
            "source_kind", "source_key", "number"
        )
        found = {(kind, key): str(number) for kind, key, number in rows.order_by("id")}
    except DatabaseError:
        return {}  # the page shows the general number (or the fallback line): never an error page
    with _numbers_lock:
        _numbers.update({"until": clock + _NUMBERS_TTL_SECONDS, "map": found})
    return found


def number_for(source: TrackingSource | None) -> str | None:
    if source is None or source.is_direct:
        return None
    return tracking_numbers().get((source.kind, source.key))


def page_number(*, page_source: TrackingSource | None, visit: Visit) -> str | None:
    """The tracking number a page shows: its visit's campaign's, else its own source's; None: the general one."""
    if visit.utm_campaign:
        number = number_for(TrackingSource.campaign(visit.utm_campaign))
        if number:
            return number
    return number_for(page_source)


# --- The visit ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    landing_page: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""


def visit_of(request: HttpRequest) -> Visit:
    """The visit kept in the session; an empty one without a session or with junk in it."""
    session = getattr(request, "session", None)
    stored = session.get(SESSION_KEY) if session is not None else None
    if not isinstance(stored, dict):
        return Visit()
    return Visit(
        landing_page=clean_page(stored.get("landing_page", "")),
        **{name: clean_label(stored.get(name, "")) for name in UTM_FIELDS},
    )


def current_visit(request: HttpRequest) -> Visit:
    """The visit as this page sees it: a campaign link being opened now counts before it reaches the session."""
    utm = {name: clean_label(request.GET.get(name, "")) for name in UTM_FIELDS}
    if any(utm.values()):
        return Visit(landing_page=clean_page(request.path), **utm)
    return visit_of(request)


# Not pages a visit lands on: staff and partner areas, machine endpoints, and the pages opened from a
# signed link (their token must not be copied into a request's record).
_IGNORED_PREFIXES = ("/portal/", "/twilio/", "/api/", "/staff/")
_IGNORED_VIEWS = frozenset({"admission_confirmation", "admission_withdraw"})


def _is_landing_candidate(request: HttpRequest, response: HttpResponse) -> bool:
    if request.method != "GET" or response.status_code != 200 or not hasattr(request, "session"):
        return False
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    if request.path.startswith((*_IGNORED_PREFIXES, "/" + settings.ADMIN_URL)):
        return False
    match = getattr(request, "resolver_match", None)
    return match is not None and match.view_name not in _IGNORED_VIEWS


def note_visit(request: HttpRequest) -> None:
    """First page of the visit, and its UTM values; a new campaign click starts a new visit.

    The session is written only when something changes, so a visit costs one write, not one per page.
    """
    utm = {name: clean_label(request.GET.get(name, "")) for name in UTM_FIELDS}
    current = request.session.get(SESSION_KEY)
    if any(utm.values()):
        if not isinstance(current, dict) or {k: current.get(k) for k in UTM_FIELDS} != utm:
            request.session[SESSION_KEY] = asdict(Visit(landing_page=clean_page(request.path), **utm))
    elif not isinstance(current, dict) or not current.get("landing_page"):
        request.session[SESSION_KEY] = asdict(Visit(landing_page=clean_page(request.path)))


class VisitMiddleware:
    """Keeps the visit (first page, UTM values) in the session. Must come after ``SessionMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        try:
            if _is_landing_candidate(request, response):
                note_visit(request)
        except Exception:  # noqa: BLE001 - attribution is never worth a broken page
            logger.warning("Could not note the visit of %s", request.path, exc_info=True)
        return response


# --- A request's attribution ------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    """What an admission request records about where it came from."""

    page: str = ""
    landing_page: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    source: TrackingSource = DIRECT

    @classmethod
    def build(
        cls, *, page: object, landing_page: object, utm_source: object, utm_medium: object, utm_campaign: object
    ) -> Attribution:
        """Clean every value, then work out the source from them (``request_source``)."""
        cleaned = {
            "page": clean_page(page),
            "landing_page": clean_page(landing_page),
            "utm_source": clean_label(utm_source),
            "utm_medium": clean_label(utm_medium),
            "utm_campaign": clean_label(utm_campaign),
        }
        return cls(
            **cleaned,
            source=request_source(
                page=cleaned["page"], landing_page=cleaned["landing_page"], utm_campaign=cleaned["utm_campaign"]
            ),
        )


def request_source(*, page: str, landing_page: str, utm_campaign: str) -> TrackingSource:
    """A campaign when the visit came through one; else the guide it was sent from, or landed on; else direct.

    The same order as the number a page shows (``page_number``).
    """
    if utm_campaign:
        return TrackingSource.campaign(utm_campaign)
    for candidate in (page, landing_page):
        slug = guide_slug_for_page(candidate) if candidate else None
        if slug:
            return TrackingSource.guide(slug)
    return DIRECT


def web_attribution(request: HttpRequest) -> Attribution:
    """The form's attribution: the page it names (hidden ``page`` field), else the Referer; the session's visit."""
    visit = visit_of(request)
    named = str(request.POST.get("page", ""))
    page = (clean_page(named) if named.startswith("/") else "") or page_from_referer(request)
    return Attribution.build(
        page=page,
        landing_page=visit.landing_page,
        utm_source=visit.utm_source,
        utm_medium=visit.utm_medium,
        utm_campaign=visit.utm_campaign,
    )
