"""Reading and writing cohorts as files: a folder of CSV files, one Excel workbook, or Parquet.

Formats (the table names are those of :data:`bvall.cohort.schema.TABLES`):

* **CSV folder**: ``<table>.csv`` per table (UTF-8, header row, ISO dates, ``true``/``false``,
  empty cell = missing) plus ``cohort.json`` with the metadata.
* **Excel workbook** (``.xlsx``): one sheet per table, plus a ``_cohort`` sheet with the metadata
  as key/value rows.
* **Parquet folder**: ``<table>.parquet`` per table plus ``cohort.json``.

Reading is all or nothing: every problem in every table is collected and raised together as
:class:`~bvall.errors.ValidationFailed`. Writing is atomic: files are written to a temporary
place and moved in only when all of them were written.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bvall.cohort import tablefile
from bvall.cohort.model import Cohort, CohortMetadata
from bvall.cohort.problems import Problem
from bvall.cohort.schema import TABLES
from bvall.cohort.tablefile import ReadLimits
from bvall.errors import InputError, ValidationFailed

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet")
METADATA_FILE = "cohort.json"
METADATA_SHEET = "_cohort"


# --- reading ------------------------------------------------------------------------------------


def detect_format(path: Path) -> Format:
    """The format of a cohort at ``path``, from its name and content."""
    if path.is_file():
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return "xlsx"
        raise InputError(
            f"{str(path)!r} is a file but not an Excel workbook (.xlsx); a cohort is a folder of "
            "CSV or Parquet files, or one .xlsx workbook."
        )
    if path.is_dir():
        names = {p.suffix.lower() for p in path.iterdir()}
        if ".parquet" in names and ".csv" in names:
            raise InputError(
                f"Folder {str(path)!r} holds both CSV and Parquet files; keep one format."
            )
        if ".parquet" in names:
            return "parquet"
        if ".csv" in names:
            return "csv"
        raise InputError(f"Folder {str(path)!r} holds no .csv or .parquet table files.")
    raise InputError(f"No file or folder at {str(path)!r}.")


def _read_metadata_json(folder: Path, problems: list[Problem]) -> dict[str, Any]:
    path = folder / METADATA_FILE
    if not path.exists():
        return {"name": folder.name}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(
            Problem("cohort", None, None, str(exc), "valid JSON metadata", "file", METADATA_FILE)
        )
        return {"name": folder.name}
    if not isinstance(raw, dict):
        problems.append(
            Problem(
                "cohort", None, None, type(raw).__name__, "a JSON object", "file", METADATA_FILE
            )
        )
        return {"name": folder.name}
    return raw


def _read_folder(folder: Path, suffix: str, reader: Callable[[Path], pd.DataFrame]) -> Cohort:
    problems: list[Problem] = []
    raw: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != suffix:
            continue
        name = path.stem
        files[name] = path.name
        try:
            raw[name] = reader(path)
        except tablefile.Unreadable as exc:
            problems.append(exc.problem)
        except Exception as exc:  # any parser error becomes a reported problem
            problems.append(
                Problem(
                    name,
                    None,
                    None,
                    f"{type(exc).__name__}: {exc}",
                    f"a readable {suffix[1:].upper()} file",
                    "file",
                    path.name,
                )
            )
    metadata = _read_metadata_json(folder, problems)
    return _build(raw, files, metadata, problems, str(folder))


def _read_csv(path: Path) -> pd.DataFrame:
    # Everything is read as text; the schema decides types, so nothing is guessed by pandas.
    # Text that is not UTF-8 or a missing header is described with its line and what to do.
    return tablefile.read_csv_table(path)


def _read_parquet(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas(date_as_object=True)


def _read_xlsx(path: Path) -> Cohort:
    problems: list[Problem] = []
    try:
        tablefile.check_workbook(path)
    except tablefile.Unreadable as exc:
        raise ValidationFailed([exc.problem], str(path)) from None
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
    except Exception as exc:
        raise ValidationFailed(
            [
                Problem(
                    "workbook",
                    None,
                    None,
                    f"{type(exc).__name__}: {exc}",
                    "a readable .xlsx workbook",
                    "file",
                    path.name,
                )
            ],
            str(path),
        ) from exc
    metadata: dict[str, Any] = {"name": path.stem}
    raw: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    for sheet, frame in sheets.items():
        if sheet == METADATA_SHEET:
            for key, value in zip(frame.iloc[:, 0], frame.iloc[:, 1], strict=False):
                if isinstance(key, str):
                    metadata[key] = (
                        json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value
                    )
            continue
        raw[str(sheet)] = frame
        files[str(sheet)] = f"{path.name} [{sheet}]"
    return _build(raw, files, metadata, problems, str(path))


def _build(
    raw: dict[str, pd.DataFrame],
    files: dict[str, str],
    metadata: dict[str, Any],
    problems: list[Problem],
    source: str,
) -> Cohort:
    if problems:
        # Unreadable files make the rest unreliable to check against; report them with the rest.
        from bvall.cohort.validate import validate_tables

        _, more = validate_tables(dict(raw.items()), files)
        raise ValidationFailed(problems + more, source)
    return Cohort.from_tables(
        raw, CohortMetadata.from_dict(metadata, Path(source).stem), files=files, source=source
    )


def read_tables(
    paths: list[Path], limits: ReadLimits | None = None
) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[Problem]]:
    """Read table files without validating them (see :func:`bvall.cohort.tablefile.read_tables`):
    for adding rows to an existing study, where a file may hold only some tables (a day's labs)
    and the rows are validated together with the stored ones."""
    return tablefile.read_tables(paths, limits or ReadLimits())


def read_cohort(path: str | Path) -> Cohort:
    """Read and validate a cohort from a CSV folder, an ``.xlsx`` workbook or a Parquet folder.

    Raises :class:`ValidationFailed` with every problem when anything is wrong.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "xlsx":
        return _read_xlsx(path)
    if fmt == "parquet":
        return _read_folder(path, ".parquet", _read_parquet)
    return _read_folder(path, ".csv", _read_csv)


# --- writing ------------------------------------------------------------------------------------


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)  # shortest string that reads back to the same double
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _write_csv_table(table: pa.Table, path: Path) -> None:
    columns = [table.column(n).to_pylist() for n in table.column_names]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(table.column_names)
        for row in zip(*columns, strict=True):
            writer.writerow([_cell(v) for v in row])


def _metadata_json(cohort: Cohort) -> str:
    return json.dumps(cohort.metadata.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


def _check_target(target: Path, names: list[str], overwrite: bool) -> None:
    clashes = [n for n in names if (target / n).exists()]
    if clashes and not overwrite:
        raise InputError(
            f"{str(target)!r} already holds {', '.join(clashes[:3])}"
            f"{' ...' if len(clashes) > 3 else ''}; choose an empty folder or pass --overwrite."
        )


def write_cohort(
    cohort: Cohort, target: str | Path, fmt: str = "csv", *, overwrite: bool = False
) -> list[Path]:
    """Write ``cohort`` into the folder ``target`` in ``fmt``; returns the files written.

    CSV and Parquet write one file per table plus ``cohort.json``; Excel writes
    ``<name>.xlsx``. Existing files are never replaced unless ``overwrite`` is true.
    """
    if fmt not in FORMATS:
        raise InputError(f"Format {fmt!r} is not known; expected one of {', '.join(FORMATS)}.")
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise InputError(f"{str(target)!r} exists and is not a folder.")
    if fmt == "xlsx":
        names = [f"{cohort.name}.xlsx"]
    else:
        names = [f"{t}.{fmt}" for t in TABLES] + [METADATA_FILE]
    if target.exists():
        _check_target(target, names, overwrite)
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".bvall-export-", dir=target))
    try:
        if fmt == "xlsx":
            _write_xlsx(cohort, staging / names[0])
        else:
            for t in TABLES:
                if fmt == "csv":
                    _write_csv_table(cohort[t], staging / f"{t}.csv")
                else:
                    pq.write_table(cohort[t], staging / f"{t}.parquet")
            (staging / METADATA_FILE).write_text(_metadata_json(cohort), encoding="utf-8")
        written = []
        for n in names:
            os.replace(staging / n, target / n)
            written.append(target / n)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_xlsx(cohort: Cohort, path: Path) -> None:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        meta = cohort.metadata.to_dict()
        pd.DataFrame(
            {
                "key": list(meta),
                "value": [
                    json.dumps(v) if isinstance(v, list | dict) else v for v in meta.values()
                ],
            }
        ).to_excel(writer, sheet_name=METADATA_SHEET, index=False)
        for name in TABLES:
            table = cohort[name]
            # object dtype keeps whole numbers whole when a column also has missing values
            frame = pd.DataFrame(
                {
                    n: pd.Series(table.column(n).to_pylist(), dtype=object)
                    for n in table.column_names
                },
                columns=table.column_names,
            )
            frame.to_excel(writer, sheet_name=name, index=False)
