"""Make the monitoring audit append-only: crossing events and the plans' history refuse UPDATE and
DELETE in the database itself, with the triggers of migration ``0003``."""

from __future__ import annotations

import importlib
from typing import Any

from django.db import migrations

_0003 = importlib.import_module("bvall.store.migrations.0003_history_append_only")
TABLES = ["monitoring_events", "monitoring_plans_history"]


def forwards(apps: Any, schema_editor: Any) -> None:
    _0003.add_append_only(schema_editor, TABLES)


def backwards(apps: Any, schema_editor: Any) -> None:
    _0003.drop_append_only(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [("store", "0004_monitoring_plans_and_events")]
    operations = [migrations.RunPython(forwards, backwards)]
