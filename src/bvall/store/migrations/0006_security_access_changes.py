"""Access changes (accounts, roles, sites, API tokens) recorded append-only, with the triggers of
migration ``0003``."""

import importlib
from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_0003 = importlib.import_module("bvall.store.migrations.0003_history_append_only")


def forwards(apps: Any, schema_editor: Any) -> None:
    _0003.add_append_only(schema_editor, ["access_changes"])


def backwards(apps: Any, schema_editor: Any) -> None:
    _0003.drop_append_only(schema_editor, ["access_changes"])


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0005_monitoring_append_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("recorded", models.DateTimeField(auto_now_add=True)),
                ("table", models.CharField(max_length=40)),
                ("subject", models.CharField(max_length=200)),
                ("action", models.CharField(max_length=20)),
                ("changes", models.JSONField(default=list)),
                ("reason", models.TextField(blank=True)),
                (
                    "user",
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
                "db_table": "access_changes",
                "ordering": ("recorded", "pk"),
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
