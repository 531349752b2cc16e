"""`bvall cdisc export`: SDTM and ADaM datasets of a cohort (XPT v5, Dataset-JSON, define.xml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bvall.cli._output import console
from bvall.cohort import load_cohort

app = typer.Typer(help="CDISC SDTM and ADaM out of a cohort.", no_args_is_help=True)


@app.command("export")
def export(
    cohort: Annotated[
        str, typer.Argument(help="A bundled dataset name (`bvall cohort list`) or a path.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the datasets to.")],
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated formats: xpt, json.")
    ] = "xpt,json",
    study_id: Annotated[
        str | None, typer.Option("--study-id", help="STUDYID (default: the cohort name).")
    ] = None,
) -> None:
    """Write SDTM (SDTMIG 3.4) and ADaM (ADaMIG 1.3) datasets and define.xml 2.1."""
    from bvall.interop.cdisc import check_formats, export_cdisc

    chosen = check_formats(formats.split(","))
    data = load_cohort(cohort)
    if data.metadata.synthetic:
        console.print("[bold black on yellow] SYNTHETIC DEMO DATA [/] not real patients")
    result = export_cdisc(data, out, formats=chosen, study_id=study_id)
    for name, frame in result.datasets.items():
        console.print(f"{name:<7} {len(frame):>6} records", highlight=False)
    console.print(f"{len(result.files)} files in {out} (study {result.study_id})", highlight=False)
