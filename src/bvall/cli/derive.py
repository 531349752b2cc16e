"""`bvall derive`: grades, CRS/ICANS episodes, TLS, response, risk, endpoints, eligibility."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from bvall.cli._output import console, emit_json, print_table
from bvall.cohort import load_cohort
from bvall.criteria import DERIVATIONS, CriteriaSettings
from bvall.criteria import derive as derive_table
from bvall.errors import InputError

#: Columns shown in the table view (the JSON view has every column).
SHOWN: dict[str, tuple[str, ...]] = {
    "grades": ("patient_id", "term_id", "day", "value", "unit", "grade", "rule_id"),
    "worst_grades": (
        "patient_id",
        "term_id",
        "worst_grade",
        "worst_grade_source",
        "reported_grade",
        "agrees",
        "worst_day",
    ),
    "crs": (
        "patient_id",
        "episode",
        "onset_day",
        "onset_time",
        "end_day",
        "end_time",
        "duration_hours",
        "max_grade",
        "vasopressors",
        "oxygen_device",
        "treatment",
    ),
    "icans": (
        "patient_id",
        "episode",
        "onset_day",
        "end_day",
        "duration_hours",
        "max_grade",
        "ice_min",
        "symptoms",
        "treatment",
    ),
    "tls": (
        "patient_id",
        "criteria",
        "window_start_day",
        "window_end_day",
        "laboratory_tls",
        "clinical_tls",
        "grade",
        "criteria_met",
        "analytes_not_assessed",
    ),
    "response": (
        "patient_id",
        "timepoint",
        "day",
        "blasts_percent",
        "anc",
        "platelets",
        "response",
        "response_source",
        "mrd_negative",
    ),
    "risk": ("patient_id", "risk_group", "poor_risk_factors", "standard_risk_factors"),
    "endpoints": (
        "patient_id",
        "arm",
        "days_anc_below_0_5",
        "days_plt_below_20",
        "crs_max_grade",
        "icans_max_grade",
        "best_response",
        "mrd_negative",
        "cr_day",
        "relapse_day",
        "death_day",
        "os_days",
        "rfs_days",
        "disagreements",
    ),
    "eligibility": ("patient_id", "eligible", "criteria_not_met", "criteria_unknown"),
}
_LABEL = {"crs": "episode", "icans": "episode", "response": "timepoint", "grades": "term_id"}


class DeriveFormat(StrEnum):
    table = "table"
    json = "json"
    parquet = "parquet"


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


def _settings(pairs: list[str]) -> CriteriaSettings | None:
    if not pairs:
        return None
    raw: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(
                f"--set {pair!r} must read NAME=VALUE (e.g. count_recovery_comparator=>)."
            )
        name, value = pair.split("=", 1)
        raw[name.strip()] = value
    return CriteriaSettings.from_mapping(raw)


def _row_for_json(row: dict[str, Any]) -> dict[str, Any]:
    if isinstance(row.get("inputs"), str):
        row["inputs"] = json.loads(row["inputs"])
    return row


def derive(
    cohort: Annotated[
        str, typer.Argument(help="A bundled dataset name (`bvall cohort list`) or a path.")
    ],
    what: Annotated[str, typer.Option("--what", help=f"What to derive: {', '.join(DERIVATIONS)}.")],
    patient: Annotated[str | None, typer.Option(help="Only this patient.")] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Print each row's explanation in words.")
    ] = False,
    output: Annotated[
        DeriveFormat,
        typer.Option("--format", help="Output format (parquet: a folder under --out)."),
    ] = DeriveFormat.table,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine", help="Where the rules run: in-process DuckDB, or Apache Spark (pyspark)."
        ),
    ] = Engine.duckdb,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="Spark master URL (local[2], spark://HOST:7077, yarn); default: the active "
            "session (spark-submit), else local[2].",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the result as Parquet into DIR/<what>/ (with --format parquet)."
        ),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="grades: also list grade-0 values in the table view.")
    ] = False,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="A criteria setting NAME=VALUE (repeatable); see docs/criteria.md."
        ),
    ] = None,
) -> None:
    """Derive grades, CRS/ICANS episodes, TLS, response, risk, endpoints or eligibility."""
    if (output is DeriveFormat.parquet) != (out is not None):
        raise InputError("--format parquet and --out DIR go together.")
    if spark_master is not None and engine is not Engine.spark:
        raise InputError(f"--spark-master {spark_master!r} needs --engine spark.")
    settings = _settings(setting or [])
    c = load_cohort(cohort)
    if patient:
        c = c.subset([patient])
    if engine is Engine.spark:
        from bvall.criteria import spark

        spark.session(spark_master)  # the session the derivation then runs in
    if out is not None:
        from bvall.criteria.derivations import write_derivation

        folder = write_derivation(c, what, out, settings=settings, engine=engine.value)
        console.print(f"wrote {what} of {c.metadata.name} ({engine.value}) to {folder}")
        return
    table = derive_table(c, what, settings=settings, engine=engine.value)
    rows = table.to_pylist()
    if output is DeriveFormat.json:
        emit_json([_row_for_json(r) for r in rows])
        return
    if c.metadata.synthetic:
        console.print("[bold black on yellow] SYNTHETIC DEMO DATA [/] not real patients")
    title = f"{c.metadata.name}: {what} ({len(rows)} rows)"
    if what == "grades" and not show_all:
        hidden = sum(1 for r in rows if r["grade"] == 0)
        rows = [r for r in rows if r["grade"] != 0]
        title += f"; {hidden} grade-0 values hidden (--all shows them)"
    if explain:
        console.print(f"[bold]{title}[/]")
        for r in rows:
            label = r.get(_LABEL.get(what, ""), None)
            head = f"{r['patient_id']}" + (f" {label}" if label is not None else "")
            console.print(f"[bold]{head}[/]: {r['explanation']}", highlight=False)
            console.print(f"  [dim]{r['rule_id']} ({r['rule_version']})[/]", highlight=False)
        return
    print_table(rows, columns=SHOWN.get(what), title=title)
