"""`bvall fhir ...`: read a FHIR R4 lab bundle, and import it into the study database."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from bvall.cli._output import console, emit_json, print_problems, print_table

app = typer.Typer(help="FHIR R4 lab feeds: read a Bundle, import it.", no_args_is_help=True)

BundleArg = Annotated[Path, typer.Argument(help="A FHIR R4 Bundle (JSON) of lab Observations.")]
TodayOpt = Annotated[
    str | None,
    typer.Option("--today", help="Date no result may be after (YYYY-MM-DD); default today."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="fhir.toml naming the identifier system of bvall's patient id (default: the "
        "Patient resource id; for import, <BVALL_HOME>/fhir.toml when present).",
    ),
]


class LabsFormat(StrEnum):
    json = "json"
    csv = "csv"
    table = "table"


_COLUMNS = (
    "patient_id",
    "test",
    "value",
    "unit",
    "qualifier",
    "date",
    "time",
    "ref_low",
    "ref_high",
)


def _today(text: str | None) -> dt.date:
    from bvall.errors import InputError

    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--today {text!r} is not a date; expected YYYY-MM-DD.") from None


def _read(path: Path) -> bytes:
    from bvall.errors import InputError

    if not path.is_file():
        raise InputError(f"No file {str(path)!r}; give the path of a FHIR Bundle in JSON.")
    return path.read_bytes()


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    src = row["source"]
    return {
        **{c: row[c] for c in _COLUMNS},
        "bundle": src["bundle"],
        "observation": src["observation"],
        "entry": src["entry"],
        "loinc": src["loinc"],
    }


@app.command("labs")
def labs(
    bundle: BundleArg,
    output: Annotated[
        LabsFormat, typer.Option("--format", help="Output format.")
    ] = LabsFormat.table,
    today: TodayOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Print the lab rows a bundle becomes and the entries skipped; nothing is written."""
    from bvall.errors import ValidationFailed
    from bvall.interop.fhir import PatientMatching, derive_lab_rows, load_patient_matching

    matching = load_patient_matching(config) if config else PatientMatching()
    result = derive_lab_rows(
        _read(bundle), today=_today(today), matching=matching, label=bundle.name
    )
    if not result.ok:
        raise ValidationFailed(result.problems, bundle.name)
    data = result.to_dict()
    if output is LabsFormat.json:
        emit_json({"labs": data["labs"], "skipped": data["skipped"]})
    elif output is LabsFormat.csv:
        rows = [_flat(r) for r in data["labs"]]
        writer = csv.DictWriter(
            sys.stdout, fieldnames=[*_COLUMNS, "bundle", "observation", "entry", "loinc"]
        )
        writer.writeheader()
        writer.writerows(rows)
    else:
        print_table([_flat(r) for r in data["labs"]], title=f"Bundle {result.bundle_id}: lab rows")
        if data["skipped"]:
            print_table(data["skipped"], title="Skipped entries")


@app.command("import")
def import_(
    bundle: BundleArg,
    commit: Annotated[bool, typer.Option(help="Write the rows (default: check only).")] = False,
    database: Annotated[
        str | None, typer.Option("--database", help="Database URL (default BVALL_DATABASE_URL).")
    ] = None,
    today: TodayOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Check a bundle against the study database; with --commit write its rows, all or none."""
    from bvall.cli.db import _require_initialised, _setup

    _setup(database)
    _require_initialised()
    from bvall.errors import ValidationFailed
    from bvall.interop.fhir import load_patient_matching
    from bvall.interop.fhir.feed import import_bundle
    from bvall.store.access import COMMAND_LINE

    outcome = import_bundle(
        _read(bundle),
        user=COMMAND_LINE,
        today=_today(today),
        commit=commit,
        matching=load_patient_matching(config) if config else None,
        label=bundle.name,
    )
    if not outcome.ok:
        print_problems(outcome.result.problems)
        raise ValidationFailed(outcome.result.problems, bundle.name)
    skipped = len(outcome.result.skipped)
    n = len(outcome.result.labs)
    if commit:
        console.print(
            f"bundle {outcome.result.bundle_id}: wrote {outcome.new_rows} lab row(s); {skipped} entr(ies) skipped"
        )
    else:
        console.print(
            f"bundle {outcome.result.bundle_id}: {n} lab row(s) would be written, {skipped} "
            "entr(ies) skipped; nothing written (add --commit)"
        )
