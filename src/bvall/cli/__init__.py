"""The ``bvall`` command line. Commands are thin: parse, call the library, print.

Start-up is kept short: this module imports no command. :data:`COMMANDS` names each command,
the module holding it and its one-line help; the module is imported only when its command runs
(Click's "lazy group" pattern), so ``bvall --help``, ``bvall --version`` and a mistyped option
import no engine (no pandas, Ibis, matplotlib, Django, DuckDB, NumPy or SciPy). A new command
is one entry of :data:`COMMANDS`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from bvall import __version__
from bvall.errors import BvallError, ValidationFailed


@dataclass(frozen=True)
class CommandEntry:
    """Where a command lives: ``module.attribute`` is a Typer app (a group) or a function."""

    module: str
    attribute: str
    help: str

    def load(self, name: str) -> Any:
        """Import the command's module and build its Click command named ``name``."""
        target = getattr(importlib.import_module(self.module), self.attribute)
        command: Any
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:
            single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            single.command(name)(target)
            command = typer.main.get_command(single)
        command.name = name
        return command


#: Every command, in the order ``bvall --help`` lists them. The help strings repeat the first
#: line of each command's own help (a test keeps them equal).
COMMANDS: dict[str, CommandEntry] = {
    "plan": CommandEntry(
        "bvall.cli.plan",
        "app",
        "Plan a regimen for one patient (`bvall plan --regimen ...`), or compare a cohort's doses "
        "with the plans (`bvall plan deviations NAME|PATH`).",
    ),
    "regimens": CommandEntry(
        "bvall.cli.plan",
        "regimens",
        "List the bundled regimen specs with their sources, or show one.",
    ),
    "cohort": CommandEntry(
        "bvall.cli.cohort", "app", "Show, validate and export cohorts (bundled datasets or files)."
    ),
    "vocab": CommandEntry(
        "bvall.cli.vocab",
        "vocab",
        "List the controlled vocabularies, or the codes of one (also 'lab_tests', 'units').",
    ),
    "derive": CommandEntry(
        "bvall.cli.derive",
        "derive",
        "Derive grades, CRS/ICANS episodes, TLS, response, risk, endpoints or eligibility.",
    ),
    "tables": CommandEntry(
        "bvall.cli.tables",
        "tables",
        "Build the study tables of a cohort, every cell with its provenance.",
    ),
    "figures": CommandEntry(
        "bvall.cli.figures",
        "figures",
        "Regenerate the study figures from patient-level data; say why any is omitted.",
    ),
    "report": CommandEntry(
        "bvall.cli.report",
        "report",
        "Write a cohort's report: self-contained HTML, PDF, tables as DOCX and CSV, figures.",
    ),
    "audit": CommandEntry(
        "bvall.cli.audit",
        "audit",
        "Recompute every claim of a paper from its patient-level data and classify it.",
    ),
    "stats": CommandEntry(
        "bvall.cli.stats",
        "app",
        "Quick calculators: binomial confidence intervals, Fisher's exact test, Kaplan–Meier, "
        "median follow-up.",
    ),
    "design": CommandEntry(
        "bvall.cli.design",
        "app",
        "Design phase II trials (Simon, BOP2, toxicity monitoring) and check data against them.",
    ),
    "cdisc": CommandEntry("bvall.cli.cdisc", "app", "CDISC SDTM and ADaM out of a cohort."),
    "fhir": CommandEntry("bvall.cli.fhir", "app", "FHIR R4 lab feeds: read a Bundle, import it."),
    "redcap": CommandEntry(
        "bvall.cli.redcap", "app", "REDCap: data dictionary, export, import, mapping."
    ),
    "monitor": CommandEntry(
        "bvall.cli.monitor",
        "monitor",
        "Evaluate the monitoring plan(s) on the study database: continue or stop, per look.",
    ),
    "db": CommandEntry(
        "bvall.cli.db",
        "app",
        "The study database: init, upgrade, load, export, backup, restore.",
    ),
    "user": CommandEntry(
        "bvall.cli.db", "users", "Accounts of the web app: add, list, reset a password."
    ),
    "site": CommandEntry(
        "bvall.cli.db",
        "sites",
        "Sites of the study: add, list (patients and users name existing sites only).",
    ),
    "serve": CommandEntry(
        "bvall.cli.serve",
        "serve",
        "Serve the web app (gunicorn; static files by WhiteNoise; no CDN, works offline).",
    ),
}


class _Commands(MutableMapping[str, Any]):
    """The group's commands: every name of :data:`COMMANDS`, each built when first asked for."""

    def __init__(self, given: MutableMapping[str, Any]) -> None:
        self._loaded = dict(given)

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self._loaded[name] = COMMANDS[name].load(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (n for n in self._loaded if n not in COMMANDS)

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._loaded

    def placeholder(self, name: str) -> Any:
        """The loaded command, or a stand-in carrying only its help (for ``--help`` listings)."""
        if name in self._loaded:
            return self._loaded[name]
        return TyperCommand(name=name, help=COMMANDS[name].help)


class LazyGroup(TyperGroup):
    """A Typer group whose commands are imported when they run, not when the CLI starts.

    Names (for parsing and "did you mean" suggestions) come from :data:`COMMANDS`; the help
    listing shows each command's registered help without importing its module.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _Commands(self.commands)
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            return None
        if self._listing:
            assert isinstance(self.commands, _Commands)
            return self.commands.placeholder(cmd_name)
        return self.commands[cmd_name]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Each command's whole help line, wrapped (Click's own listing cuts it to the width).
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, " ".join((command.help or "").split("\n\n")[0].split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="bvall",
    cls=LazyGroup,
    # Click's plain help: Typer's Rich help imports Markdown and Pygments (about 0.2 s)
    rich_markup_mode=None,
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


def _err(message: str) -> None:
    from bvall.cli._output import err_console

    err_console.print(message, highlight=False, markup=True)


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
        from rich.markup import escape  # a message quoting "local[2]" is text, not markup

        _err(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _err("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors
        # Typer bundles its own copy of click, so recognise its exceptions by shape
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        raise
