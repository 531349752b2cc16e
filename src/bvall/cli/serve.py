"""`bvall serve`: the web app under gunicorn, on SQLite by default or PostgreSQL.

On the first start with no database it creates one (``bvall.db`` in ``BVALL_HOME``), loads the
demo dataset (:data:`DEMO_DATASET`), creates an administrator and prints the address and the
administrator's password once. Later starts serve what is there; a database that needs migrations
is refused with the command to run, so an upgrade is always a deliberate step after a backup.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
from typing import Annotated, Any

import typer

from bvall.cli._output import console

#: The dataset a new database is filled with (a synthetic full-detail cohort).
DEMO_DATASET = "example"
#: Used only while :data:`DEMO_DATASET` is not a registered dataset.
FALLBACK_DATASET = "published"

log = logging.getLogger("bvall.serve")


def resolve_demo_dataset() -> str:
    """:data:`DEMO_DATASET` when registered, else :data:`FALLBACK_DATASET` with a warning."""
    from bvall.cohort import dataset_names

    if DEMO_DATASET in dataset_names():
        return DEMO_DATASET
    log.warning(
        "Dataset %r is not registered in this build; loading %r instead.",
        DEMO_DATASET,
        FALLBACK_DATASET,
    )
    return FALLBACK_DATASET


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _run_gunicorn(application: Any, options: dict[str, Any]) -> None:
    from gunicorn.app.base import BaseApplication
    from gunicorn.http.wsgi import Response

    # gunicorn has no setting to leave out its "Server: gunicorn" header: drop that one line
    default_headers = Response.default_headers
    Response.default_headers = lambda self: [
        h for h in default_headers(self) if not h.startswith("Server:")
    ]

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    _App().run()


def serve(
    database: Annotated[
        str | None,
        typer.Option(help="Database URL (sqlite:///path or postgres://...); default ./bvall.db."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    empty: Annotated[
        bool, typer.Option(help="On first start, create the database without demo data.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per core, at least 2).")
    ] = None,
    threads: Annotated[int, typer.Option(help="Threads per worker.")] = 4,
    access_log: Annotated[bool, typer.Option(help="Log every request to standard output.")] = True,
) -> None:
    """Serve the web app (gunicorn; static files by WhiteNoise; no CDN, works offline)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from bvall.errors import ConfigurationError
    from bvall.store.database import describe_url, is_initialised, pending_migrations, setup

    cfg = setup(database)
    url = describe_url(cfg.database_url)
    account = None
    if not is_initialised():
        from bvall.store.database import initialise

        console.print(f"creating the database {url}")
        account = initialise()
        if not empty:
            from bvall.cohort import load_cohort
            from bvall.store.gate import load_cohort as load_into_database

            name = resolve_demo_dataset()
            # the demo's sites are created with it, on purpose and in the audit trail
            report = load_into_database(
                load_cohort(name), reason=f"demo dataset {name}", create_sites=True
            )
            console.print(
                f"loaded dataset {name!r} ({report.new_rows.get('patients', 0)} patients)"
            )
    else:
        pending = pending_migrations()
        if pending:
            raise ConfigurationError(
                f"The database {url} needs migration(s) {', '.join(pending)}; back it up "
                "(`bvall db backup FILE`), then run `bvall db upgrade`."
            )
    # WeasyPrint (the report's PDF) takes 0.3-0.5 s to import; imported once here, before the
    # workers fork, a worker's first PDF download does not pay it (it only loads libraries).
    import weasyprint  # noqa: F401
    from django.db import connections

    from bvall.web.wsgi import application

    connections.close_all()  # never share a database connection across the workers' fork
    plans = sys.modules.get("bvall.criteria.plans")
    if plans is not None:  # nor a DuckDB database (loading the demo derives its alerts)
        plans.close_connections()
    shown = f"[{host}]" if ":" in host else host
    console.print(f"bvall is serving [bold]http://{shown}:{port}/[/] (database {url})")
    if account is not None:
        console.print(
            f"log in as [bold]{account.username}[/] with password [bold]{account.password}[/]\n"
            "[dim]The password is shown once and stored only as an Argon2 hash: note it now. "
            "`bvall user password admin` sets a new one.[/]",
            highlight=False,
        )
    n = workers or max(2, multiprocessing.cpu_count())
    _run_gunicorn(
        application,
        {
            "bind": _bind(host, port),
            "workers": n,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 60,
            "keepalive": 5,
            "graceful_timeout": 10,
            "accesslog": "-" if access_log else None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "bvall",
        },
    )
