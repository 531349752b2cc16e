"""`bvall db ...` and `bvall user ...`: create, upgrade, load, export, back up and restore the
study database, and manage accounts from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bvall.cli._output import console, print_table

app = typer.Typer(
    help="The study database: init, upgrade, load, export, backup, restore.",
    no_args_is_help=True,
)
users = typer.Typer(
    help="Accounts of the web app: add, list, reset a password.", no_args_is_help=True
)
sites = typer.Typer(
    help="Sites of the study: add, list (patients and users name existing sites only).",
    no_args_is_help=True,
)

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (sqlite:///path or postgres://...); default BVALL_DATABASE_URL or "
        "sqlite:///./bvall.db.",
    ),
]


def _setup(database: str | None) -> str:
    from bvall.store.database import describe_url, setup

    return describe_url(setup(database).database_url)


def _require_initialised() -> None:
    from bvall.errors import ConfigurationError
    from bvall.store.database import is_initialised, pending_migrations

    if not is_initialised():
        raise ConfigurationError("The database is not initialised; run `bvall db init` first.")
    pending = pending_migrations()
    if pending:
        raise ConfigurationError(
            f"The database needs {len(pending)} migration(s) ({', '.join(pending)}); back it up "
            "(`bvall db backup FILE`), then run `bvall db upgrade`."
        )


def print_new_password(username: str, password: str) -> None:
    console.print(
        f"[bold]Account[/] {username}  [bold]password[/] {password}\n"
        "[dim]Shown once and stored only as an Argon2 hash: note it now.[/]",
        highlight=False,
    )


@app.command("init")
def init(
    database: DatabaseOpt = None,
    admin: Annotated[str, typer.Option(help="User name of the first administrator.")] = "admin",
) -> None:
    """Create the tables of a new database and its first administrator (password printed once)."""
    url = _setup(database)
    from bvall.store.database import initialise

    account = initialise(admin)
    console.print(f"initialised {url}")
    print_new_password(account.username, account.password)


@app.command("upgrade")
def upgrade(database: DatabaseOpt = None) -> None:
    """Apply new migrations (back the database up first)."""
    url = _setup(database)
    from bvall.store.database import upgrade as run

    applied = run()
    console.print(f"{url}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))


@app.command("status")
def status(database: DatabaseOpt = None) -> None:
    """Show the database, its pending migrations and the rows per table."""
    url = _setup(database)
    from bvall.store.database import is_initialised, pending_migrations

    console.print(f"database {url}")
    if not is_initialised():
        console.print("not initialised (run `bvall db init`)")
        return
    pending = pending_migrations()
    console.print("migrations: " + (", ".join(pending) + " pending" if pending else "up to date"))
    from bvall.store.models import COHORT_MODELS

    print_table(
        [{"table": t, "rows": m.objects.count()} for t, m in COHORT_MODELS.items()],
        title="Rows",
    )


@app.command("load")
def load(
    cohort: Annotated[
        str, typer.Argument(help="A bundled dataset name or a path (CSV folder, .xlsx, Parquet).")
    ],
    database: DatabaseOpt = None,
    reason: Annotated[str | None, typer.Option(help="Reason stored in the audit trail.")] = None,
    create_sites: Annotated[
        bool,
        typer.Option(
            "--create-sites",
            help="Create the sites the cohort's patients name that do not exist yet (without "
            "it, an unknown site is refused; add sites with `bvall site add`).",
        ),
    ] = False,
) -> None:
    """Validate a cohort against the database and add all its rows, or none (every problem listed)."""
    _setup(database)
    _require_initialised()
    from bvall.cohort import load_cohort
    from bvall.store.gate import load_cohort as load_into_database

    c = load_cohort(cohort)
    report = load_into_database(
        c, reason=reason or f"bvall db load {cohort}", create_sites=create_sites
    )
    added = ", ".join(f"{t} {n}" for t, n in report.new_rows.items())
    console.print(f"loaded {c.name}: {added or 'nothing new'}")
    if report.sites_created:
        console.print(f"created site(s) {', '.join(report.sites_created)}")


@app.command("export")
def export(
    to: Annotated[Path, typer.Option("--to", help="Folder to write into.")],
    database: DatabaseOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or parquet.")] = "csv",
    overwrite: Annotated[bool, typer.Option(help="Replace files that already exist.")] = False,
) -> None:
    """Export the database as a cohort (validated on the way out)."""
    _setup(database)
    _require_initialised()
    from bvall.cohort import write_cohort
    from bvall.store.convert import read_database

    written = write_cohort(read_database(), to, fmt, overwrite=overwrite)
    console.print(f"wrote {len(written)} file(s) to {to}")


@app.command("backup")
def backup(
    file: Annotated[
        Path, typer.Argument(help="New backup file (gzip JSON), e.g. bvall.backup.gz.")
    ],
    database: DatabaseOpt = None,
) -> None:
    """Write a consistent backup: data, full audit trail, users, roles, sites, token hashes."""
    _setup(database)
    _require_initialised()
    from bvall.store.database import backup as run

    counts = run(file)
    console.print(f"backed up {sum(counts.values())} rows to {file}")


@app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `bvall db backup`.")],
    database: DatabaseOpt = None,
) -> None:
    """Restore a backup into a new, empty database (never over existing data)."""
    url = _setup(database)
    from bvall.store.database import restore as run

    counts = run(file)
    console.print(f"restored {sum(counts.values())} rows into {url}")


@users.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="admin, investigator, data_entry or monitor.")],
    site: Annotated[
        list[str] | None, typer.Option(help="A site code (repeat for several).")
    ] = None,
    all_sites: Annotated[bool, typer.Option(help="See every site's patients.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Add an account; its random password is printed once."""
    _setup(database)
    _require_initialised()
    from bvall.store.database import create_user

    account = create_user(
        username,
        role,
        sites=tuple(site or ()),
        all_sites=all_sites,
        reason=f"bvall user add {username}",
    )
    print_new_password(account.username, account.password)


@users.command("password")
def user_password(
    username: Annotated[str, typer.Argument(help="User name.")],
    database: DatabaseOpt = None,
) -> None:
    """Give an account a new random password (printed once)."""
    _setup(database)
    _require_initialised()
    from bvall.store.database import set_password

    account = set_password(username)
    print_new_password(account.username, account.password)


@users.command("list")
def user_list(database: DatabaseOpt = None) -> None:
    """List accounts with their role and sites."""
    _setup(database)
    _require_initialised()
    from django.contrib.auth import get_user_model

    rows = []
    for u in get_user_model().objects.order_by("username").select_related("profile"):
        profile = getattr(u, "profile", None)
        rows.append(
            {
                "user": u.username,
                "active": u.is_active,
                "role": profile.role if profile else None,
                "sites": "all"
                if profile and profile.all_sites
                else ", ".join(s.code for s in profile.sites.all())
                if profile
                else None,
                "last login": u.last_login.isoformat(timespec="minutes") if u.last_login else None,
            }
        )
    print_table(rows, title="Accounts")


@users.command("token")
def user_token(
    username: Annotated[str, typer.Argument(help="User name the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "command line",
    database: DatabaseOpt = None,
) -> None:
    """Create an API token for a user (printed once; only its hash is stored)."""
    _setup(database)
    _require_initialised()
    from django.contrib.auth import get_user_model

    from bvall.errors import InputError
    from bvall.store.tokens import create_token

    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise InputError(f"No active user {username!r}.")
    from bvall.store.access import COMMAND_LINE

    _, raw = create_token(user, name, actor=COMMAND_LINE)
    console.print(f"token {raw}", highlight=False, soft_wrap=True)
    console.print("[dim]Shown once; use it as 'Authorization: Bearer <token>' on /api/.[/]")


@sites.command("add")
def site_add(
    code: Annotated[str, typer.Argument(help="Site code, as in patients.site_id (e.g. JSPH).")],
    name: Annotated[str, typer.Option(help="The site's name.")] = "",
    reason: Annotated[str | None, typer.Option(help="Reason stored in the audit trail.")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Add a site (patients and users may then name it)."""
    _setup(database)
    _require_initialised()
    from bvall.store.access import COMMAND_LINE
    from bvall.store.sites import add_site

    site = add_site(COMMAND_LINE, code, name, reason=reason or f"bvall site add {code}")
    console.print(f"added site {site}")


@sites.command("list")
def site_list(database: DatabaseOpt = None) -> None:
    """List the sites with their patients and users."""
    _setup(database)
    _require_initialised()
    from bvall.store.models import Site

    rows = [
        {
            "code": s.code,
            "name": s.name,
            "patients": s.patients.count(),
            "users": ", ".join(sorted(p.user.username for p in s.members.select_related("user"))),
        }
        for s in Site.objects.order_by("code")
    ]
    print_table(rows, title="Sites")
