"""`bvall report`: a cohort's report (HTML, PDF, DOCX and CSV tables, figure files) in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bvall.cli._output import console, err_console
from bvall.report.write import FORMATS, now_utc

STAGE_LABELS = {
    "load": "Loading the cohort",
    "criteria": "Deriving grades, episodes, response",
    "analysis": "Building the study tables",
    "figures": "Drawing the figures",
    "html": "Rendering the HTML report",
    "pdf": "Rendering the PDF",
    "docx": "Writing the DOCX tables",
    "csv": "Writing the CSV tables",
    "finish": "Moving the report into place",
    "done": "Done",
}


def report(
    cohort: Annotated[
        str, typer.Argument(help="A bundled dataset name (`bvall cohort list`) or a path.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the report to.")],
    formats: Annotated[
        str,
        typer.Option("--format", help=f"Comma-separated formats: {','.join(FORMATS)}."),
    ] = ",".join(FORMATS),
    ci_method: Annotated[
        str, typer.Option("--ci-method", help="Binomial confidence-interval method.")
    ] = "clopper-pearson",
    level: Annotated[float, typer.Option("--level", help="Confidence level.")] = 0.95,
) -> None:
    """Write a cohort's report: self-contained HTML, PDF, tables as DOCX and CSV, figures."""
    from bvall.report import check_formats, write_report

    wanted = check_formats([f for f in formats.split(",") if f.strip()])
    stages = ["load", "criteria", "analysis", "figures", *wanted]
    if "pdf" in wanted and "html" not in wanted:
        stages.append("html")
    with Progress(
        TextColumn("{task.description:<44}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("Starting", total=len(stages) + 1)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(
                task, description=STAGE_LABELS.get(stage, stage), completed=done, total=total
            )

        paths = write_report(
            cohort,
            out,
            formats=wanted,
            ci_method=ci_method,
            level=level,
            generated_at=now_utc(),
            progress=progress,
        )
    console.print(f"[bold]Wrote {len(paths)} files to {out}[/]", highlight=False)
    for p in paths:
        console.print(f"  {p}", highlight=False)
    manifest = _omitted(paths)
    if manifest:
        console.print(f"[bold yellow]{len(manifest)} figures not drawn:[/]")
        for reason in manifest:
            console.print(f"  - {reason}", highlight=False)


def _omitted(paths: list[Path]) -> list[str]:
    import json

    from bvall.report import MANIFEST

    for p in paths:
        if p.name == MANIFEST:
            data = json.loads(p.read_text(encoding="utf-8"))
            return [str(r) for r in data.get("omitted_figures", [])]
    return []
