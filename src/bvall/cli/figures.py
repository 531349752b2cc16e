"""`bvall figures`: write the study figures of a cohort as SVG, PNG and PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bvall.cli._output import console
from bvall.cohort import load_cohort
from bvall.errors import InputError
from bvall.figures import FORMATS, build_figures, save_figure


def figures(
    cohort: Annotated[
        str, typer.Argument(help="A bundled dataset name (`bvall cohort list`) or a path.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the figures to.")],
    formats: Annotated[
        str, typer.Option("--format", help=f"Comma-separated formats: {', '.join(FORMATS)}.")
    ] = ",".join(FORMATS),
    dpi: Annotated[int, typer.Option("--dpi", help="Resolution of raster output.")] = 300,
) -> None:
    """Regenerate the study figures from patient-level data; say why any is omitted."""
    chosen = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise InputError(
            f"--format {formats!r}: {', '.join(map(repr, unknown)) or 'no format'} not "
            f"supported; expected a comma-separated list of {', '.join(FORMATS)}."
        )
    c = load_cohort(cohort)
    built, reasons = build_figures(c)
    if c.metadata.synthetic:
        console.print("[bold black on yellow] SYNTHETIC DEMO DATA [/] not real patients")
    for fig in built:
        paths = save_figure(fig, out / fig.id, chosen, dpi)
        console.print(
            f"[bold]{fig.id}[/] {fig.title}: " + ", ".join(str(p) for p in paths),
            highlight=False,
        )
    if reasons:
        console.print(f"[bold]Omitted ({len(reasons)}):[/]")
        for reason in reasons:
            console.print(f"  {reason}", highlight=False)
