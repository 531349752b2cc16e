"""`bvall cohort ...`: show, validate and export cohorts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bvall.cli._output import OutputFormat, console, emit_json, print_problems, print_table
from bvall.cohort import FORMATS, TABLES, dataset_names, load_cohort, read_cohort, write_cohort
from bvall.cohort.overview import patient_overview
from bvall.errors import InputError, ValidationFailed

app = typer.Typer(
    help="Show, validate and export cohorts (bundled datasets or files).", no_args_is_help=True
)

CohortArg = Annotated[
    str,
    typer.Argument(
        help="A bundled dataset name (see `bvall cohort list`) "
        "or a path: CSV folder, .xlsx workbook, Parquet folder."
    ),
]


_SHORT = {
    "Transaminases increased": "TA",
    "Fibrinogen decreased": "Fib",
    "Lung infection": "Pneu",
    "Febrile neutropenia": "FN",
    "Cytokine release syndrome": "CRS",
    "ICANS": "ICANS",
}
_LEGEND = (
    "AEs as reported: TA transaminase elevation, Fib hypofibrinogenaemia, Pneu lung "
    "infection, FN febrile neutropenia, CRS/ICANS by ASTCT; '?' grade not reported. "
    "WBC/PLT 10^9/L, Hb g/L at baseline; d = days; tx = transfusion units in induction."
)


def _short(term: str) -> str:
    return _SHORT.get(term, "".join(w[0] for w in term.split()).upper())


@app.command("list")
def list_datasets(
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
) -> None:
    """List the bundled datasets."""
    names = dataset_names()
    if output is OutputFormat.json:
        emit_json([{"name": n, "description": d} for n, d in names.items()])
        return
    print_table([{"name": n, "description": d} for n, d in names.items()], title="Bundled datasets")


@app.command("show")
def show(
    cohort: CohortArg,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
    table: Annotated[str | None, typer.Option(help=f"Show one table: {', '.join(TABLES)}.")] = None,
    patient: Annotated[str | None, typer.Option(help="Only this patient.")] = None,
) -> None:
    """Show a cohort: one row per patient, or one table with --table."""
    c = load_cohort(cohort)
    if patient:
        c = c.subset([patient])
    meta = c.metadata
    if table:
        rows = c[table].to_pylist()
        if output is OutputFormat.json:
            emit_json({"name": meta.name, "table": table, "rows": rows})
        else:
            print_table(rows, title=f"{meta.name}: {table} ({len(rows)} rows)")
        return
    overview = patient_overview(c)
    if output is OutputFormat.json:
        payload: dict[str, Any] = {**meta.to_dict(), "counts": c.counts(), "patients": overview}
        emit_json(payload)
        return
    if meta.synthetic:
        console.print("[bold black on yellow] SYNTHETIC DEMO DATA [/] not real patients")
    console.print(f"[bold]{meta.title or meta.name}[/]  ({len(c)} patients)")
    if meta.source:
        console.print(f"[dim]{meta.source}[/]")
    rows = []
    for r in overview:
        labs = r["baseline_labs"]
        tx = r["transfusions"]
        rows.append(
            {
                "id": r["patient_id"],
                "sex/age": f"{r['sex']}/{r['age']}",
                "arm": {"concurrent": "conc", "sequential": "seq"}.get(r["arm"], r["arm"]),
                "lesions": [
                    lesion.removesuffix("_r") + ("r" if lesion.endswith("_r") else "")
                    for lesion in r["lesions"]
                ],
                "BM blasts %": r["marrow_blasts_percent"],
                "WBC": labs.get("wbc", {}).get("value"),
                "PLT": labs.get("platelets", {}).get("value"),
                "Hb": labs.get("hemoglobin", {}).get("value"),
                "D14-21": r["marrow_d14_21"]
                or next(
                    (
                        f"? ({a['readings']})"
                        for a in r["ambiguous"]
                        if a["record"] == "timepoint=d14_21"
                    ),
                    None,
                ),
                "pre-C2": r["marrow_pre_consolidation"],
                "AEs (grade)": " ".join(
                    f"{_short(a['term'])}{a['grade'] if a['grade'] is not None else '?'}"
                    for a in r["adverse_events"]
                )
                or None,
                "d ANC<0.5": r["reported"].get("days_anc_below_0_5"),
                "d PLT<20": r["reported"].get("days_plt_below_20"),
                "PLT tx": tx.get("platelets (unit)"),
                "RBC tx": tx.get("rbc (unit)"),
            }
        )
    print_table(rows, title=None, caption=_LEGEND)
    prov = c["provenance"]
    if prov.num_rows:
        statuses = prov.column("status").to_pylist()
        ambiguous = statuses.count("ambiguous")
        console.print(
            f"[dim]Provenance: {prov.num_rows} values traced; {statuses.count('settled_by_text')} "
            f"settled by the text, {ambiguous} ambiguous (left missing; "
            f"`bvall cohort show {cohort} --table provenance`).[/]"
        )


@app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="CSV folder, .xlsx workbook or Parquet folder.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
) -> None:
    """Validate cohort files and list every problem (exit code 1 when there are any)."""
    import datetime as dt

    from bvall.cohort.dates import check_dates

    try:
        c = read_cohort(path)
        # Nothing may be dated after today: the clock is read here, at the edge.
        future = check_dates({t: c[t] for t in TABLES}, today=dt.date.today())
        if future:
            raise ValidationFailed(future, str(path))
    except ValidationFailed as exc:
        if output is OutputFormat.json:
            emit_json({"valid": False, "problems": [p.to_dict() for p in exc.problems]})
        else:
            print_problems(exc.problems)
        raise typer.Exit(1) from None
    if output is OutputFormat.json:
        emit_json({"valid": True, "name": c.name, "patients": len(c), "counts": c.counts()})
    else:
        counts = ", ".join(f"{k} {v}" for k, v in c.counts().items() if v)
        console.print(f"[green]valid[/]: {len(c)} patients ({counts})")


@app.command("export")
def export(
    cohort: CohortArg,
    to: Annotated[Path, typer.Option("--to", help="Folder to write into.")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")] = "csv",
    overwrite: Annotated[bool, typer.Option(help="Replace files that already exist.")] = False,
) -> None:
    """Export a cohort as CSV files, one Excel workbook or Parquet files."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r} is not known; expected one of {', '.join(FORMATS)}.")
    c = load_cohort(cohort)
    written = write_cohort(c, to, fmt, overwrite=overwrite)
    console.print(f"wrote {len(written)} file(s) to {to}")
