"""`bvall audit`: check a paper's numeric claims against its patient-level data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bvall.analysis.claims import STATUSES, classify_claims, count_statuses, load_catalogue
from bvall.cli._output import OutputFormat, console, emit_json
from bvall.cohort import load_cohort
from bvall.errors import InputError

_STYLE = {
    "consistent": "green",
    "inconsistent": "bold red",
    "needs-review": "yellow",
    "not-recomputable": "dim",
}


def audit(
    claims: Annotated[
        Path | None,
        typer.Option(
            "--claims", help="Claims catalogue (.toml or .json); default: the seed paper's."
        ),
    ] = None,
    cohort: Annotated[
        str | None,
        typer.Option(
            "--cohort",
            help="Cohort: a bundled dataset name or a path; default: the catalogue's (published).",
        ),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help=f"Only claims with this status: {', '.join(STATUSES)}."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
) -> None:
    """Recompute every claim of a paper from its patient-level data and classify it."""
    if status is not None and status not in STATUSES:
        raise InputError(
            f"--status {status!r} is not known; expected one of {', '.join(STATUSES)}."
        )
    catalogue = load_catalogue(claims)
    data = load_cohort(cohort or catalogue.cohort)
    results = classify_claims(catalogue, data)
    shown = [r for r in results if status is None or r.status == status]
    if output is OutputFormat.json:
        emit_json([r.to_dict() for r in shown])
        return
    console.print(
        f"[bold]{catalogue.title or catalogue.origin}[/]  ({data.name}: {len(data)} patients)"
    )
    table = Table(header_style="bold", show_lines=True)
    table.add_column("claim", max_width=30, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("published", max_width=18, overflow="fold")
    table.add_column("recomputed", max_width=18, overflow="fold")
    table.add_column("explanation", ratio=1, overflow="fold")
    for r in shown:
        table.add_row(
            f"{r.id}\n[dim]{r.location}[/]",
            f"[{_STYLE[r.status]}]{r.status}[/]",
            r.published_text,
            r.recomputed_text,
            Text(r.explanation),
        )
    console.print(table)
    counts = count_statuses(results)
    console.print(
        ", ".join(f"[{_STYLE[s]}]{n} {s}[/]" for s, n in counts.items())
        + f" of {len(results)} claims."
    )
