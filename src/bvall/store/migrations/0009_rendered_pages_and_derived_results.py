"""Derived data kept for every worker of the web app: the patient page's rendered bodies
(``rendered_pages``, :mod:`bvall.web.rendered`) and the criteria engine's results for a patient
(``derived_results``, :mod:`bvall.web.results`). Not study data: no history; either table may be
emptied at any time."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0008_live_alerts"),
    ]

    operations = [
        migrations.CreateModel(
            name="DerivedResult",
            fields=[
                ("key", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("data", models.BinaryField()),
                ("made", models.DateTimeField(db_index=True)),
            ],
            options={
                "db_table": "derived_results",
            },
        ),
        migrations.CreateModel(
            name="RenderedPage",
            fields=[
                ("key", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("patient_id", models.CharField(db_index=True, max_length=40)),
                ("data_key", models.CharField(max_length=64)),
                ("html", models.TextField()),
                ("made", models.DateTimeField()),
            ],
            options={
                "db_table": "rendered_pages",
            },
        ),
    ]
