"""Partners get a time zone whose calendar counts their caps; live counters move onto it.

Until now a counter's ``day``/``month`` were UTC dates. In the evening in the
Americas the UTC date is already tomorrow's: left as they are, such counters
would look "ahead" of the partner's local day (a late worker's claim counts
into the newer period) and the evening's calls would carry into the next local
day. So a counter dated after the partner's local today is moved back to it,
keeping its counts (they are today's calls, in the partner's own terms).
"""

import datetime as dt
import zoneinfo

from django.db import migrations, models

import partners.models.directory

DEFAULT_TIME_ZONE = "America/New_York"


def counters_onto_local_calendar(apps, schema_editor):
    Partner = apps.get_model("partners", "Partner")
    Facility = apps.get_model("partners", "Facility")
    PartnerCounter = apps.get_model("routing", "PartnerCounter")
    now = dt.datetime.now(dt.UTC)
    for counter in PartnerCounter.objects.all():
        partner = Partner.objects.filter(pk=counter.partner_id).first()
        if partner is None:
            continue
        zone = Facility.objects.filter(partner_id=partner.pk).order_by("id").values_list("time_zone", flat=True).first()
        try:
            today = now.astimezone(zoneinfo.ZoneInfo(zone or DEFAULT_TIME_ZONE)).date()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        changes = {}
        if counter.day > today:
            changes["day"] = today
        if counter.month > today.replace(day=1):
            changes["month"] = today.replace(day=1)
        if changes:
            PartnerCounter.objects.filter(pk=counter.pk).update(**changes)


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0003_partner_daily_stats_rollup"),
        ("routing", "0005_decision_excluded_summary"),
    ]

    operations = [
        migrations.AddField(
            model_name="partner",
            name="time_zone",
            field=models.CharField(
                blank=True,
                help_text="IANA zone whose days and months count the caps and budget, e.g. America/Los_Angeles. "
                "Blank = the zone of the partner's first facility.",
                max_length=64,
                validators=[partners.models.directory.validate_timezone],
            ),
        ),
        migrations.RunPython(counters_onto_local_calendar, migrations.RunPython.noop, elidable=True),
    ]
