"""Configure Django for one database, create and upgrade it, back it up and restore it.

:func:`setup` must run once per process before any model is imported: it activates the
resolved :class:`bvall.settings.Settings` (``--database`` overrides ``BVALL_DATABASE_URL``) and
starts Django with :mod:`bvall.web.settings`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

from bvall.errors import ConfigurationError, InputError
from bvall.settings import Settings, activate, load_settings

BACKUP_FORMAT = "bvall-backup"
BACKUP_VERSION = 1
#: Apps and models a backup holds: the study data, its history, users, roles and tokens.
BACKUP_INCLUDE = ("auth.group", "auth.user", "store", "admin.logentry")  # parents first

_configured: str | None = None


def setup(database_url: str | None = None) -> Settings:
    """Start Django on ``database_url`` (or the configured one); idempotent for one URL."""
    global _configured
    settings = load_settings(database_url)
    if _configured is not None:
        if _configured != settings.database_url:
            raise ConfigurationError(
                f"This process already uses {_configured!r}; cannot switch to "
                f"{settings.database_url!r}."
            )
        return settings
    activate(settings)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bvall.web.settings"
    import django

    django.setup()
    _configured = settings.database_url
    return settings


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in cred else url
    return url


def pending_migrations() -> list[str]:
    """Migrations not yet applied to the database (all of them for a new database)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    loader = executor.loader
    applied = set(loader.applied_migrations)
    # Every migration the code has that the database lacks, ancestors of applied ones included:
    # Django's migration_plan(leaves) is empty once the leaves are recorded, and would let a
    # database with a gap in its history (a migration deleted from django_migrations) through.
    pending: list[str] = []
    for leaf in loader.graph.leaf_nodes():
        for app_label, name in loader.graph.forwards_plan(leaf):
            key = f"{app_label}.{name}"
            if (app_label, name) not in applied and key not in pending:
                pending.append(key)
    return pending


def is_initialised() -> bool:
    """Whether the database has bvall's tables (at least the first migration applied)."""
    from django.db import connection

    return "patients" in connection.introspection.table_names()


def upgrade(verbosity: int = 0) -> list[str]:
    """Apply pending migrations; returns their names."""
    from django.core.management import call_command

    pending = pending_migrations()
    if pending:
        call_command("migrate", interactive=False, verbosity=verbosity)
    return pending


def create_user(username: str, role: str, **kw: Any) -> Any:
    """See :func:`bvall.store.accounts.create_user` (kept here for the command line)."""
    from bvall.store.accounts import create_user as create

    return create(username, role, **kw)


def set_password(username: str, password: str | None = None) -> Any:
    """See :func:`bvall.store.accounts.set_password`."""
    from bvall.store.accounts import set_password as reset

    return reset(username, password)


def initialise(admin_username: str = "admin") -> Any:
    """Create the tables of a new database and its first administrator (password returned once).

    Refuses a database that already holds bvall's tables (use :func:`upgrade` for those).
    """
    if is_initialised():
        raise InputError(
            "The database is already initialised; use `bvall db upgrade` to apply new migrations."
        )
    upgrade()
    return create_user(admin_username, "admin", all_sites=True, reason="database initialised")


# --- backup and restore ------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    from django.apps import apps

    out: dict[str, int] = {}
    for label in BACKUP_INCLUDE:
        models = (
            apps.get_app_config(label).get_models() if "." not in label else [apps.get_model(label)]
        )
        for m in models:
            out[m._meta.label] = m._default_manager.count()
    return out


def backup(path: Path) -> dict[str, int]:
    """Write a consistent, database-independent backup (gzip JSON) of the study to ``path``.

    It holds the cohort tables, their full history, sites, users (password hashes), roles and
    API token hashes. The snapshot is taken in one transaction (on SQLite the write lock is held
    meanwhile, on PostgreSQL a repeatable-read snapshot), so it is consistent. Returns row counts.
    """
    from django.core import serializers
    from django.db import connection, transaction

    path = Path(path)
    if path.exists():
        raise InputError(f"{str(path)!r} already exists; choose a new file name.")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        from django.apps import apps

        objects: list[Any] = []
        for label in BACKUP_INCLUDE:
            models = (
                list(apps.get_app_config(label).get_models())
                if "." not in label
                else [apps.get_model(label)]
            )
            for m in models:
                objects.extend(m._default_manager.order_by("pk").iterator())
        buf = io.StringIO()
        serializers.serialize("json", objects, stream=buf, use_natural_foreign_keys=True)
        counts = _counts()
    doc = {
        "format": BACKUP_FORMAT,
        "version": BACKUP_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "migrations": sorted(_applied_migrations()),
        "counts": counts,
        "objects": json.loads(buf.getvalue()),
    }
    tmp = path.with_name(path.name + ".partial")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False)
    os.replace(tmp, path)
    return counts


def _applied_migrations() -> set[str]:
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    return {f"{a}.{n}" for a, n in MigrationRecorder(connection).applied_migrations()}


def restore(path: Path) -> dict[str, int]:
    """Restore a backup into an empty database (created and migrated here if new).

    A restore never writes over data: the target must hold no rows at all in the tables a backup
    covers (in practice a new database). Everything is restored in one transaction, and the row
    counts are checked against the backup's own counts before it commits.
    """
    from django.core import serializers
    from django.db import transaction

    path = Path(path)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(path)!r} is not a bvall backup ({exc}).") from None
    if not isinstance(doc, dict) or doc.get("format") != BACKUP_FORMAT:
        raise InputError(f"{str(path)!r} is not a bvall backup (no '{BACKUP_FORMAT}' header).")
    if doc.get("version") != BACKUP_VERSION:
        raise InputError(
            f"Backup version {doc.get('version')!r} is not supported; expected {BACKUP_VERSION}."
        )
    upgrade()
    existing = {k: v for k, v in _counts().items() if v}
    if existing:
        raise InputError(
            "The target database is not empty ("
            + ", ".join(f"{k}: {v}" for k, v in sorted(existing.items()))
            + "); restore into a new database (another --database URL or file)."
        )
    with transaction.atomic():
        for obj in serializers.deserialize(
            "json", json.dumps(doc["objects"]), handle_forward_references=True
        ):
            obj.save()
        counts = _counts()
        if counts != doc["counts"]:
            raise InputError(
                f"Restored row counts {counts} differ from the backup's {doc['counts']}; "
                "nothing was restored."
            )
        _reset_sequences()
    return counts


def _reset_sequences() -> None:
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    models = list(apps.get_app_config("store").get_models())
    models += [apps.get_model("auth.user"), apps.get_model("admin.logentry")]
    sql = connection.ops.sequence_reset_sql(no_style(), models)
    if sql:
        with connection.cursor() as cur:
            for stmt in sql:
                cur.execute(stmt)
