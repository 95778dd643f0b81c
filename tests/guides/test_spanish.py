"""The public site's own words in Spanish under /es/; every unprefixed URL stays English."""

from __future__ import annotations

import gettext
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db
LOCALE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"


def test_spanish_home_types_of_care_form_and_disclosure(published):
    home = Client().get("/es/").content.decode()
    assert '<html lang="es">' in home
    assert "Ayuda gratuita y confidencial para encontrar tratamiento" in home
    assert "¿A dónde van las llamadas?" in home
    assert "No tiene ninguna obligación de empezar un tratamiento." in home  # the default disclosure wording
    assert 'href="/es/treatment/detox/"' in home and 'href="/es/guides/"' in home
    detox = Client().get("/es/treatment/detox/").content.decode()
    assert "<h1>Desintoxicación médica</h1>" in detox
    form = Client().get("/es/request-a-callback/").content.decode()
    assert "¿Para quién es la llamada?" in form
    assert '<option value="detox">Desintoxicación médica</option>' in form
    assert 'action="/es/request-a-callback/"' in form
    assert "Acepto que un proveedor de tratamiento" in form


def test_language_switch_and_hreflang_link_the_two_languages():
    english = Client().get("/treatment/mat/").content.decode()
    assert re.search(r'<a class="language-switch" href="/es/treatment/mat/" hreflang="es"', english)
    assert '<link rel="alternate" hreflang="es" href="https://helpline.example.org/es/treatment/mat/">' in english
    assert '<link rel="alternate" hreflang="x-default" href="https://helpline.example.org/treatment/mat/">' in english
    spanish = Client().get("/es/treatment/mat/").content.decode()
    assert re.search(r'<a class="language-switch" href="/treatment/mat/" hreflang="en"', spanish)


@pytest.mark.parametrize("path", ["/", "/treatment/detox/", "/request-a-callback/", "/providers/"])
def test_unprefixed_pages_are_english_whatever_the_browser_prefers(path):
    body = Client(HTTP_ACCEPT_LANGUAGE="es-US,es;q=0.9").get(path).content.decode()
    assert '<html lang="en">' in body
    assert "Where do calls go?" in body


def test_staff_and_machine_areas_have_no_spanish_prefix():
    client = Client()
    for path in ("/es/twilio/voice/incoming", "/es/admin/", "/es/api/v1/", "/es/portal/", "/es/healthz"):
        assert client.get(path).status_code == 404, path
    assert "language-switch" not in client.get("/admin/login/").content.decode()


def _po_entries() -> dict[tuple[str, str], str]:
    """(msgctxt, msgid) -> msgstr of the .po (written with --no-wrap: one line each)."""
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    entries = {}
    for match in re.finditer(r'^(?:msgctxt (".*")\n)?msgid (".*")\nmsgstr (".*")$', text, re.M):
        context = json.loads(match.group(1)) if match.group(1) else ""
        msgid, msgstr = json.loads(match.group(2)), json.loads(match.group(3))
        if msgid and msgstr:
            entries[(context, msgid)] = msgstr
    return entries


def test_the_committed_mo_matches_the_po():
    """CI has no msgfmt: the compiled catalogue is committed, and must not lag behind the .po."""
    with (LOCALE / "django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    entries = _po_entries()
    assert len(entries) > 150
    stale = [
        msgid
        for (context, msgid), msgstr in entries.items()
        if (catalogue.pgettext(context, msgid) if context else catalogue.gettext(msgid)) != msgstr
    ]
    assert stale == [], "run: msgfmt -o locale/es/LC_MESSAGES/django.mo locale/es/LC_MESSAGES/django.po"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="makemessages needs GNU gettext's xgettext")
def test_makemessages_keeps_every_entry_of_the_catalogue(tmp_path):
    """Every Spanish entry has a source marked for translation: regenerating the .po drops nothing.

    An entry added by hand (or by a script) whose English is not in a gettext call, a
    gettext_noop or a {% translate %} would come back as obsolete ("#~") and its Spanish would
    be lost on the next makemessages. Run on a copy of the tree, so the committed files stay as they are.
    """
    root = Path(settings.BASE_DIR)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("config", "helpline", "partners", "routing", "templates", "locale"):
        shutil.copytree(root / name, tmp_path / name, ignore=skip)
    shutil.copy(root / "manage.py", tmp_path / "manage.py")
    subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", "makemessages", "-l", "es", "--no-wrap", "--add-location=file", "-v0"],
        cwd=tmp_path, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    regenerated = (tmp_path / "locale" / "es" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    assert [line for line in regenerated.splitlines() if line.startswith("#~ msgid")] == []
    committed = (LOCALE / "django.po").read_text(encoding="utf-8")

    def msgids(text: str) -> set[str]:
        return set(re.findall(r"^msgid (\".*\")$", text, re.M))

    assert msgids(regenerated) == msgids(committed)
