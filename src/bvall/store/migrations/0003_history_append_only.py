"""Make the audit trail append-only in the database itself.

Every history table (``*_history``) gets triggers that refuse UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE), so not even a direct SQL session can rewrite the audit trail. Inserts go on
as before. On PostgreSQL a role with enough rights could drop the trigger; that is logged by the
server and outside what an application can prevent.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION bvall_refuse_history_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'bvall: the audit trail (%) is append-only; % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _history_tables(apps: Any) -> list[str]:
    return sorted(
        m._meta.db_table
        for m in apps.get_app_config("store").get_models()
        if m._meta.db_table.endswith("_history")
    )


def forwards(apps: Any, schema_editor: Any) -> None:
    add_append_only(schema_editor, _history_tables(apps))


def add_append_only(schema_editor: Any, tables: list[str]) -> None:
    """Triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``tables``."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)  # '%' belongs to RAISE, not to psycopg
        for t in tables:
            schema_editor.execute(
                f'CREATE TRIGGER "{t}_append_only" BEFORE UPDATE OR DELETE ON "{t}" '
                "FOR EACH ROW EXECUTE FUNCTION bvall_refuse_history_change()"
            )
            schema_editor.execute(
                f'CREATE TRIGGER "{t}_no_truncate" BEFORE TRUNCATE ON "{t}" '
                "FOR EACH STATEMENT EXECUTE FUNCTION bvall_refuse_history_change()"
            )
    elif vendor == "sqlite":
        for t in tables:
            for op in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f'CREATE TRIGGER "{t}_no_{op.lower()}" BEFORE {op} ON "{t}" BEGIN '
                    f"SELECT RAISE(ABORT, 'bvall: the audit trail ({t}) is append-only; "
                    f"{op} is refused'); END"
                )


def backwards(apps: Any, schema_editor: Any) -> None:
    drop_append_only(schema_editor, _history_tables(apps))
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS bvall_refuse_history_change()")


def drop_append_only(schema_editor: Any, tables: list[str]) -> None:
    """Remove the triggers of :func:`add_append_only` from ``tables``."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for t in tables:
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_append_only" ON "{t}"')
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_no_truncate" ON "{t}"')
    elif vendor == "sqlite":
        for t in tables:
            for op in ("update", "delete"):
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_no_{op}"')


class Migration(migrations.Migration):
    dependencies = [("store", "0002_users_roles_and_api_tokens")]
    operations = [migrations.RunPython(forwards, backwards)]
