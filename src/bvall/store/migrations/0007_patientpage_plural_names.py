"""Name each cohort table's records by the table's own plural ("reported summaries", not
Django's "reported summarys"); options only, no change to the database."""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0006_security_access_changes"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="adverseevent",
            options={"ordering": ("id",), "verbose_name_plural": "adverse events"},
        ),
        migrations.AlterModelOptions(
            name="concomitantmedication",
            options={"ordering": ("id",), "verbose_name_plural": "concomitant medications"},
        ),
        migrations.AlterModelOptions(
            name="doseadministration",
            options={"ordering": ("id",), "verbose_name_plural": "dose administrations"},
        ),
        migrations.AlterModelOptions(
            name="followupevent",
            options={"ordering": ("id",), "verbose_name_plural": "follow up events"},
        ),
        migrations.AlterModelOptions(
            name="geneticfinding",
            options={"ordering": ("id",), "verbose_name_plural": "genetic findings"},
        ),
        migrations.AlterModelOptions(
            name="historicalprovenance",
            options={
                "get_latest_by": ("history_date", "history_id"),
                "ordering": ("-history_date", "-history_id"),
                "verbose_name": "historical provenance",
                "verbose_name_plural": "historical provenance",
            },
        ),
        migrations.AlterModelOptions(
            name="historicalreportedsummary",
            options={
                "get_latest_by": ("history_date", "history_id"),
                "ordering": ("-history_date", "-history_id"),
                "verbose_name": "historical reported summary",
                "verbose_name_plural": "historical reported summaries",
            },
        ),
        migrations.AlterModelOptions(
            name="lab",
            options={"ordering": ("id",), "verbose_name_plural": "labs"},
        ),
        migrations.AlterModelOptions(
            name="marrowassessment",
            options={"ordering": ("id",), "verbose_name_plural": "marrow assessments"},
        ),
        migrations.AlterModelOptions(
            name="neuroassessment",
            options={"ordering": ("id",), "verbose_name_plural": "neuro assessments"},
        ),
        migrations.AlterModelOptions(
            name="patient",
            options={"ordering": ("id",), "verbose_name_plural": "patients"},
        ),
        migrations.AlterModelOptions(
            name="provenance",
            options={"ordering": ("id",), "verbose_name_plural": "provenance"},
        ),
        migrations.AlterModelOptions(
            name="reportedsummary",
            options={"ordering": ("id",), "verbose_name_plural": "reported summaries"},
        ),
        migrations.AlterModelOptions(
            name="transfusion",
            options={"ordering": ("id",), "verbose_name_plural": "transfusions"},
        ),
        migrations.AlterModelOptions(
            name="treatmentcourse",
            options={"ordering": ("id",), "verbose_name_plural": "treatment courses"},
        ),
        migrations.AlterModelOptions(
            name="vital",
            options={"ordering": ("id",), "verbose_name_plural": "vitals"},
        ),
    ]
