"""The fee statement says what is true: a flat fee set in advance, never more for a chosen provider or an
admission, no ordering by price (the amounts themselves are shown live, read from the partners' prices).

If the wording shown now still carries the old default fee sentence ("does not depend on which provider you
choose", read as untrue while prices differ by partner), a new version is appended with the new sentence and
every other statement unchanged. Versions are never edited, so the old one stays as the record.
"""

from django.db import migrations, models
from django.utils import timezone

OLD_FEES = (
    "Providers pay us a flat fee per call. The fee does not depend on which provider you "
    "choose or on whether you enter treatment."
)
NEW_FEES = (
    "Each provider pays us a flat fee per call, set in advance. A provider never pays more because "
    "a caller chooses them or enters treatment, and providers are never ordered by what they pay."
)


def append_truthful_fees(apps, schema_editor):
    DisclosureVersion = apps.get_model("helpline", "DisclosureVersion")
    current = DisclosureVersion.objects.order_by("-created_at", "-id").first()
    if current is None or current.fees.strip() != OLD_FEES:
        return  # the built-in default is shown (already new), or staff wrote their own wording
    copied = {
        field.attname: getattr(current, field.attname)
        for field in DisclosureVersion._meta.concrete_fields
        if field.attname not in ("id", "created_at", "created_by_id")
    }
    DisclosureVersion.objects.create(**{**copied, "fees": NEW_FEES, "created_at": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("helpline", "0006_call_failover_plan_and_outcome_reason"),
    ]

    operations = [
        migrations.AlterField(
            model_name="disclosureversion",
            name="fees",
            field=models.TextField(default=NEW_FEES),
        ),
        migrations.RunPython(append_truthful_fees, migrations.RunPython.noop),
    ]
