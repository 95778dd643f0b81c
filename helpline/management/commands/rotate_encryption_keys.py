"""``manage.py rotate_encryption_keys``: re-encrypt every encrypted column with the current first key.

Step 2 of the key rotation in docs/security.md. Works on the stored
ciphertext directly (Fernet's ``MultiFernet.rotate``): a value is decrypted
with whichever listed key made it and encrypted again with the first one. A
value no listed key can open is reported and left alone, never encrypted a
second time. Safe to run again; each run touches every row once.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet
from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from encrypted_fields.fields import EncryptedFieldMixin


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields with the first FIELD_ENCRYPTION_SALT_KEYS key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        failures = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]
            if not fields:
                continue
            rotated, bad = self._rotate_table(model=model, fields=fields, batch_size=batch_size)
            failures += bad
            self.stdout.write(f"{model._meta.label}: {rotated} values re-encrypted, {bad} unreadable")
        if failures:
            self.stderr.write(f"{failures} values could not be decrypted with any listed key (left unchanged).")

    def _rotate_table(self, *, model: Any, fields: list[Any], batch_size: int) -> tuple[int, int]:
        qn = connection.ops.quote_name
        table = qn(model._meta.db_table)
        pk = qn(model._meta.pk.column)
        columns = [qn(f.column) for f in fields]
        # Every field derives the same keys; a one-key setup still needs MultiFernet for rotate().
        fernet = fields[0].f
        multi = fernet if isinstance(fernet, MultiFernet) else MultiFernet([fernet])
        select = f"SELECT {pk}, {', '.join(columns)} FROM {table} WHERE {pk} > %s ORDER BY {pk} LIMIT %s"  # noqa: S608
        rotated = bad = 0
        last: Any = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(select, [last, batch_size])
                rows = cursor.fetchall()
                if not rows:
                    return rotated, bad
                for row in rows:
                    last = row[0]
                    assignments, params = [], []
                    for column, value in zip(columns, row[1:], strict=True):
                        if not value:
                            continue
                        try:
                            new_value = multi.rotate(value.encode()).decode()
                        except InvalidToken:
                            bad += 1
                            continue
                        assignments.append(f"{column} = %s")
                        params.append(new_value)
                    if assignments:
                        cursor.execute(
                            f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk} = %s",  # noqa: S608
                            [*params, last],
                        )
                        rotated += len(assignments)
