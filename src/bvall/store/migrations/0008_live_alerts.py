"""Stored alerts (one per value that met an alert rule) and their acknowledgements.

The acknowledgements and the alerts' history refuse UPDATE and DELETE in the database itself,
with the triggers of migration ``0003``: an acknowledgement, once written, stays as written.
"""

import importlib
from typing import Any

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

_0003 = importlib.import_module("bvall.store.migrations.0003_history_append_only")
APPEND_ONLY = ["alert_acknowledgements", "alerts_history"]


def forwards(apps: Any, schema_editor: Any) -> None:
    _0003.add_append_only(schema_editor, APPEND_ONLY)


def backwards(apps: Any, schema_editor: Any) -> None:
    _0003.drop_append_only(schema_editor, APPEND_ONLY)


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0007_patientpage_plural_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Alert",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("patient_id", models.CharField(db_index=True, max_length=40)),
                ("key", models.CharField(max_length=400)),
                ("rule_id", models.CharField(max_length=100)),
                ("rule_version", models.CharField(max_length=40)),
                ("rule_source", models.TextField()),
                ("grade_rule_id", models.CharField(max_length=200)),
                ("grade_rule_version", models.CharField(max_length=100)),
                ("term", models.CharField(max_length=200)),
                ("test", models.CharField(max_length=40)),
                ("day", models.IntegerField(blank=True, null=True)),
                ("time", models.CharField(blank=True, max_length=5)),
                ("grade", models.PositiveSmallIntegerField()),
                ("text", models.TextField()),
                ("explanation", models.TextField()),
                ("source_table", models.CharField(default="labs", max_length=40)),
                ("source_record", models.BigIntegerField(blank=True, null=True)),
                ("raised", models.DateTimeField()),
                (
                    "met",
                    models.BooleanField(default=True, help_text="The value still meets the rule."),
                ),
                ("met_changed", models.DateTimeField(blank=True, null=True)),
                ("met_note", models.TextField(blank=True)),
                (
                    "raised_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "alerts",
                "ordering": ("patient_id", "day", "pk"),
            },
        ),
        migrations.CreateModel(
            name="AlertAcknowledgement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("acknowledged", models.DateTimeField(auto_now_add=True)),
                ("note", models.TextField(blank=True)),
                (
                    "alert",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="acknowledgement",
                        to="store.alert",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "alert_acknowledgements",
                "ordering": ("acknowledged", "pk"),
            },
        ),
        migrations.CreateModel(
            name="HistoricalAlert",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        auto_created=True, blank=True, db_index=True, verbose_name="ID"
                    ),
                ),
                ("patient_id", models.CharField(db_index=True, max_length=40)),
                ("key", models.CharField(max_length=400)),
                ("rule_id", models.CharField(max_length=100)),
                ("rule_version", models.CharField(max_length=40)),
                ("rule_source", models.TextField()),
                ("grade_rule_id", models.CharField(max_length=200)),
                ("grade_rule_version", models.CharField(max_length=100)),
                ("term", models.CharField(max_length=200)),
                ("test", models.CharField(max_length=40)),
                ("day", models.IntegerField(blank=True, null=True)),
                ("time", models.CharField(blank=True, max_length=5)),
                ("grade", models.PositiveSmallIntegerField()),
                ("text", models.TextField()),
                ("explanation", models.TextField()),
                ("source_table", models.CharField(default="labs", max_length=40)),
                ("source_record", models.BigIntegerField(blank=True, null=True)),
                ("raised", models.DateTimeField()),
                (
                    "met",
                    models.BooleanField(default=True, help_text="The value still meets the rule."),
                ),
                ("met_changed", models.DateTimeField(blank=True, null=True)),
                ("met_note", models.TextField(blank=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "raised_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical alert",
                "verbose_name_plural": "historical alerts",
                "db_table": "alerts_history",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.UniqueConstraint(
                fields=("patient_id", "key"), name="alert_once_per_value"
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
