"""Caller numbers, names and staff notes are unreadable in the database itself."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from helpline.models import AdmissionRequest, AdmissionStatusChange, Call
from helpline.privacy import caller_hash
from tests.factories import CALLER_NAME, CALLER_NUMBER, AdmissionRequestFactory, CallFactory

pytestmark = pytest.mark.django_db

ENCRYPTED_COLUMNS = [
    (Call, "caller_number"),
    (Call, "followup_note"),
    (AdmissionRequest, "first_name"),
    (AdmissionRequest, "phone"),
    (AdmissionRequest, "staff_note"),
    (AdmissionStatusChange, "note"),
]


def _raw_row(model: type, pk: int) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()


def _reset_field_keys(*fields) -> None:
    """The library caches derived keys on the field; a key change needs a fresh cache."""
    for field in fields:
        field.__dict__.pop("keys", None)
        field.__dict__.pop("f", None)


def test_caller_number_and_note_are_not_in_the_call_row():
    call = CallFactory(followup_note=f"{CALLER_NAME} wants a call after six")

    raw = " ".join(str(v) for v in _raw_row(Call, call.pk))

    assert CALLER_NUMBER.removeprefix("+1") not in raw
    assert CALLER_NAME not in raw
    assert "after six" not in raw
    call.refresh_from_db()
    assert call.caller_number == CALLER_NUMBER  # the application still reads it


def test_admission_request_name_phone_and_notes_are_not_in_the_rows():
    request = AdmissionRequestFactory(staff_note=f"Called {CALLER_NAME} twice")
    change = AdmissionStatusChange.objects.create(request=request, to_status="closed", note=f"{CALLER_NAME} is in care")

    raw = " ".join(str(v) for v in _raw_row(AdmissionRequest, request.pk) + _raw_row(AdmissionStatusChange, change.pk))

    assert CALLER_NUMBER.removeprefix("+1") not in raw
    assert CALLER_NAME not in raw
    request.refresh_from_db()
    change.refresh_from_db()
    assert (request.first_name, request.phone) == (CALLER_NAME, CALLER_NUMBER)
    assert change.note == f"{CALLER_NAME} is in care"


def test_lookups_use_the_keyed_hash_not_the_number():
    call = CallFactory()

    assert call.caller_hash == caller_hash("(512) 555-0123") == caller_hash("+1 512 555 0123")
    assert Call.objects.filter(caller_hash=caller_hash("512-555-0123")).get() == call
    with override_settings(CALLER_HASH_KEY="another-key"):
        assert caller_hash(CALLER_NUMBER) != call.caller_hash  # useless without the key


def test_empty_values_are_stored_without_breaking_the_row():
    call = CallFactory(caller_number="", caller_hash="")  # anonymous caller ID
    request = AdmissionRequestFactory(staff_note="")

    call.refresh_from_db()
    request.refresh_from_db()
    assert call.caller_number in ("", None)
    assert request.staff_note == ""
    assert AdmissionRequest.objects.filter(staff_note="").count() == 1


def test_key_rotation_procedure_keeps_old_rows_readable_and_reencrypts():
    """The documented procedure: put the new salt key first, re-save, then drop the old one."""
    fields = [model._meta.get_field(name) for model, name in ENCRYPTED_COLUMNS]
    try:
        with override_settings(SALT_KEY=["old-salt"]):
            _reset_field_keys(*fields)
            request = AdmissionRequestFactory()
            old_cipher = _raw_row(AdmissionRequest, request.pk)

        # Step 1: new key first, old key still listed. Old rows read; new writes use the new key.
        with override_settings(SALT_KEY=["new-salt", "old-salt"]):
            _reset_field_keys(*fields)
            assert AdmissionRequest.objects.get(pk=request.pk).first_name == CALLER_NAME
            # Step 2: re-encrypt every stored value with the new key.
            out = io.StringIO()
            call_command("rotate_encryption_keys", "--batch-size", "1", stdout=out)
            assert "helpline.AdmissionRequest: 2 values re-encrypted, 0 unreadable" in out.getvalue()
            assert _raw_row(AdmissionRequest, request.pk) != old_cipher

        # Step 3: old key removed: everything still reads.
        with override_settings(SALT_KEY=["new-salt"]):
            _reset_field_keys(*fields)
            again = AdmissionRequest.objects.get(pk=request.pk)
            assert (again.first_name, again.phone) == (CALLER_NAME, CALLER_NUMBER)

        # Without the key the plaintext is not recoverable (the library hands back the ciphertext).
        with override_settings(SALT_KEY=["unrelated-salt"]):
            _reset_field_keys(*fields)
            assert AdmissionRequest.objects.get(pk=request.pk).first_name != CALLER_NAME
    finally:
        _reset_field_keys(*fields)


def test_secret_key_rotation_keeps_rows_readable_through_the_fallback():
    """The encryption keys are derived from DJANGO_SECRET_KEY too: the old one must stay a fallback until rotated."""
    fields = [model._meta.get_field(name) for model, name in ENCRYPTED_COLUMNS]
    try:
        with override_settings(SECRET_KEY="old-secret-" + "x" * 40, SECRET_KEY_FALLBACKS=[]):
            _reset_field_keys(*fields)
            request = AdmissionRequestFactory()
        with override_settings(SECRET_KEY="new-secret-" + "y" * 40, SECRET_KEY_FALLBACKS=[]):
            _reset_field_keys(*fields)
            assert AdmissionRequest.objects.get(pk=request.pk).first_name != CALLER_NAME  # lost without fallback
        with override_settings(SECRET_KEY="new-secret-" + "y" * 40, SECRET_KEY_FALLBACKS=["old-secret-" + "x" * 40]):
            _reset_field_keys(*fields)
            assert AdmissionRequest.objects.get(pk=request.pk).first_name == CALLER_NAME
            call_command("rotate_encryption_keys", stdout=io.StringIO())
        with override_settings(SECRET_KEY="new-secret-" + "y" * 40, SECRET_KEY_FALLBACKS=[]):
            _reset_field_keys(*fields)
            assert AdmissionRequest.objects.get(pk=request.pk).phone == CALLER_NUMBER
    finally:
        _reset_field_keys(*fields)
