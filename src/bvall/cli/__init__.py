"""The ``bvall`` command line. Commands are thin: parse, call the library, print."""

from __future__ import annotations

import sys

import typer

from bvall import __version__
from bvall.cli import audit as _audit
from bvall.cli import cohort as _cohort
from bvall.cli import db as _db
from bvall.cli import derive as _derive
from bvall.cli import design as _design
from bvall.cli import figures as _figures
from bvall.cli import monitor as _monitor
from bvall.cli import plan as _plan
from bvall.cli import report as _report
from bvall.cli import serve as _serve
from bvall.cli import stats as _stats
from bvall.cli import tables as _tables
from bvall.cli import vocab as _vocab
from bvall.cli._output import err_console
from bvall.errors import BvallError, ValidationFailed

app = typer.Typer(
    name="bvall",
    help="bvall: venetoclax + blinatumomab induction for Ph-negative B-ALL, from the bedside "
    "plan to the published analysis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bvall {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """bvall command line."""


app.add_typer(_cohort.app, name="cohort")
app.add_typer(_db.app, name="db")
app.add_typer(_db.users, name="user")
app.add_typer(_db.sites, name="site")
app.command("serve")(_serve.serve)
app.add_typer(_design.app, name="design")
app.command("monitor")(_monitor.monitor)
app.add_typer(_stats.app, name="stats")
app.command("audit")(_audit.audit)
app.command("vocab")(_vocab.vocab)
app.add_typer(_plan.app, name="plan")
app.command("regimens")(_plan.regimens)
app.command("derive")(_derive.derive)
app.command("tables")(_tables.tables)
app.command("figures")(_figures.figures)
app.command("report")(_report.report)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning bvall errors into a message and exit code 1."""
    try:
        # standalone_mode=False makes click return a typer.Exit's code instead of exiting.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except ValidationFailed as exc:
        from bvall.cli._output import print_problems

        print_problems(exc.problems)
        sys.exit(1)
    except BvallError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors
        # Typer bundles its own copy of click, so recognise its exceptions by shape
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        raise
