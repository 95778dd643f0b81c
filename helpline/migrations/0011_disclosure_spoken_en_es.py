"""The spoken disclosure joins the versioned record, so a staff edit reaches callers.

Until now the greeting's disclosure was written in the voice code. Every existing version gets those words
(in the shortened wording of the time-to-a-human redesign, English and Spanish) as its spoken text, so what
callers hear does not change until staff add a version with new words. The words are frozen here: a later
change to the prompts module must not rewrite the record.
"""

from django.db import migrations, models

SPOKEN_EN = "Free and confidential. Calls go to treatment providers who pay to advertise."
SPOKEN_ES = "Gratis y confidencial. Las llamadas van a proveedores de tratamiento que pagan por anunciarse."


def fill_spoken(apps, schema_editor):
    DisclosureVersion = apps.get_model("helpline", "DisclosureVersion")
    DisclosureVersion.objects.filter(spoken="").update(spoken=SPOKEN_EN)
    DisclosureVersion.objects.filter(spoken_es="").update(spoken_es=SPOKEN_ES)


class Migration(migrations.Migration):
    dependencies = [
        ("helpline", "0010_admission_request_held_for_staff_approval"),
    ]

    operations = [
        migrations.AddField(
            model_name="disclosureversion",
            name="spoken",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="disclosureversion",
            name="spoken_es",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(fill_spoken, migrations.RunPython.noop),
    ]
