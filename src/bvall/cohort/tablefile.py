"""Uploaded table files read within limits: ``<table>.csv``, ``<table>.parquet`` and ``.xlsx``
workbooks (a sheet per table), for adding rows to a study (the import page and API).

Every file is checked before it is parsed and parsed as a stream that stops at the limits
(:class:`ReadLimits`: bytes per file, rows per table, bytes a workbook unpacks to), so a small
file that unpacks to millions of rows, or a large one, costs bounded time and memory. A file that
cannot be read is described by a :class:`~bvall.cohort.problems.Problem` naming the file, the
sheet, the row and what to do: text that is not UTF-8, a damaged workbook, formulas or error
values in cells, empty or merged header cells, a first row that is data instead of a header.
Nothing is guessed: cells stay text (CSV) or the workbook's own values, and the cohort's
validation types them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bvall.cohort.problems import Problem
from bvall.cohort.schema import TABLES

METADATA_SHEET = "_cohort"
#: File types an import accepts.
SUFFIXES = (".csv", ".xlsx", ".xlsm", ".parquet")


@dataclass(frozen=True)
class ReadLimits:
    """Limits of one import; None is no limit (files on the server, read by the command line).

    ``max_unpacked_bytes`` bounds what a workbook (a zip archive) may unpack to: a few kilobytes
    of zip can hold gigabytes of sheet XML.
    """

    max_bytes: int | None = None
    max_rows: int | None = None
    max_unpacked_bytes: int | None = None

    @classmethod
    def for_upload(cls, max_bytes: int, max_rows: int) -> ReadLimits:
        # sheet XML takes 10 to 40 times the bytes of the values it holds; 10x the upload
        # limit admits every workbook whose data fits the limit as CSV
        return cls(max_bytes, max_rows, 10 * max_bytes)


class Unreadable(Exception):
    """A file that cannot be read; ``problem`` says where and what to do."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _refuse(
    table: str, where: str, value: Any, expected: str, row: int | None = None, column: Any = None
) -> Unreadable:
    return Unreadable(Problem(table, row, column, value, expected, "file", where))


def _check_size(path: Path, limits: ReadLimits) -> None:
    size = path.stat().st_size
    if limits.max_bytes is not None and size > limits.max_bytes:
        raise _refuse(
            path.stem,
            path.name,
            _mb(size),
            f"a file of at most {_mb(limits.max_bytes)} (the import limit, setting "
            "BVALL_IMPORT_MAX_MB); split the rows into several files and import them one by one",
        )


def _too_many_rows(table: str, where: str, limits: ReadLimits) -> Unreadable:
    return _refuse(
        table,
        where,
        f"more than {limits.max_rows} rows",
        f"at most {limits.max_rows} data rows per table in one import (setting "
        "BVALL_IMPORT_MAX_ROWS); split the file and import the parts one by one",
    )


def _check_header(table: str, where: str, header: list[Any]) -> None:
    """A header row that names the table's columns (not a first row of data)."""
    if table not in TABLES:
        return  # validation reports the unknown table with the known ones
    names = TABLES[table].column_names
    if not any(str(h).strip() in names for h in header if h is not None):
        shown = ", ".join(repr(h) for h in header[:6]) + (" ..." if len(header) > 6 else "")
        raise _refuse(
            table,
            where,
            shown,
            f"a first row naming the columns of {table} (for example {', '.join(names[:4])}); "
            "this first row names none of them (is the header row missing?). Add the header row "
            "and upload again",
            row=None,
        )


# --- CSV ---------------------------------------------------------------------------------------


def _check_utf8(path: Path) -> None:
    """Stream the file once; the first line that is not UTF-8 is refused with its number."""
    with path.open("rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = line[exc.start : exc.start + 4]
                raise _refuse(
                    path.stem,
                    path.name,
                    f"bytes {bad!r} at character {exc.start + 1} of line {line_no}",
                    "UTF-8 text (the file seems saved in another encoding, such as Windows "
                    "Latin-1): save it as 'CSV UTF-8' (Excel: File › Save As › CSV UTF-8) and "
                    "upload again",
                    row=line_no - 1 if line_no > 1 else None,
                ) from None


def read_csv_table(path: Path, limits: ReadLimits = ReadLimits()) -> pd.DataFrame:
    """One ``<table>.csv`` as text cells (nothing guessed); raises :class:`Unreadable`."""
    _check_size(path, limits)
    _check_utf8(path)
    opts: dict[str, Any] = {
        "dtype": str,
        "keep_default_na": False,
        "na_values": [],
        "encoding": "utf-8-sig",
    }
    try:
        header = pd.read_csv(path, nrows=0, **opts)
    except pd.errors.EmptyDataError:
        raise _refuse(
            path.stem, path.name, "(empty)", "a header row naming the columns, then the rows"
        ) from None
    _check_header(path.stem, path.name, list(header.columns))
    nrows = None if limits.max_rows is None else limits.max_rows + 1
    try:
        frame = pd.read_csv(path, nrows=nrows, **opts)
    except pd.errors.ParserError as exc:
        raise _refuse(
            path.stem,
            path.name,
            str(exc).strip(),
            "a CSV file with as many cells on every line as in the header (quote cells that "
            'hold a comma, "like, this")',
        ) from None
    if limits.max_rows is not None and len(frame) > limits.max_rows:
        raise _too_many_rows(path.stem, path.name, limits)
    return frame


# --- Parquet -----------------------------------------------------------------------------------


def read_parquet_table(path: Path, limits: ReadLimits = ReadLimits()) -> pd.DataFrame:
    """One ``<table>.parquet`` (its row count is read from the footer before any data)."""
    _check_size(path, limits)
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise _refuse(
            path.stem,
            path.name,
            type(exc).__name__,
            "a readable Parquet file (this one is damaged or not Parquet: write it again, for "
            "example with pandas DataFrame.to_parquet)",
        ) from None
    table = path.stem
    if limits.max_rows is not None and pf.metadata.num_rows > limits.max_rows:
        raise _too_many_rows(table, path.name, limits)
    names = list(pf.schema_arrow.names)
    _check_header(table, path.name, names)
    try:
        return pf.read().to_pandas(date_as_object=True)
    except (pa.ArrowException, OSError) as exc:
        raise _refuse(
            table,
            path.name,
            type(exc).__name__,
            "a readable Parquet file (its data pages are damaged: write it again)",
        ) from None


# --- Excel -------------------------------------------------------------------------------------


def check_workbook(path: Path, limits: ReadLimits = ReadLimits()) -> None:
    """Raise :class:`Unreadable` for a damaged workbook (or one beyond ``limits``)."""
    _check_zip(path, limits)


def _check_zip(path: Path, limits: ReadLimits) -> None:
    damaged: str | None = None
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
            if limits.max_unpacked_bytes is None or unpacked <= limits.max_unpacked_bytes:
                # every member's checksum, reading at most the sizes the archive declares
                damaged = zf.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        damaged, unpacked = "(the archive)", 0
    except Exception:  # zlib.error and friends from a damaged member
        damaged, unpacked = "(a member)", 0
    if damaged is not None:
        raise _refuse(
            path.stem,
            path.name,
            "damaged workbook",
            "an .xlsx workbook saved by Excel or LibreOffice (this file is damaged or not an "
            "Excel workbook; an older .xls must be saved as .xlsx): open it and save it again "
            "as 'Excel Workbook (.xlsx)'",
        )
    if limits.max_unpacked_bytes is not None and unpacked > limits.max_unpacked_bytes:
        raise _refuse(
            path.stem,
            path.name,
            f"unpacks to {_mb(unpacked)}",
            f"a workbook that unpacks to at most {_mb(limits.max_unpacked_bytes)}; split the "
            "rows into several workbooks",
        )
    if limits.max_rows is not None:
        _check_dimensions(path, limits)


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="[A-Z]*\d*(?::[A-Z]+(\d+))?"')


def _check_dimensions(path: Path, limits: ReadLimits) -> None:
    """Each sheet declares its size (Excel and LibreOffice always write it) within the row limit.

    Without the declaration the reader would parse a whole sheet to learn its size before
    reading a row, so a small workbook of millions of rows would cost minutes.
    """
    assert limits.max_rows is not None
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
                continue
            with zf.open(info) as fh:
                head = fh.read(16 * 1024)
            m = _DIMENSION.search(head)
            if m is None:
                raise _refuse(
                    path.stem,
                    path.name,
                    f"{info.filename} does not declare its size",
                    "a workbook saved by Excel or LibreOffice (some programs leave out the size "
                    "of each sheet): open it and save it again as 'Excel Workbook (.xlsx)'",
                )
            last = int(m.group(1) or 1)
            if last - 1 > limits.max_rows:
                raise _refuse(
                    path.stem,
                    path.name,
                    f"{info.filename} has {last} rows",
                    f"at most {limits.max_rows} data rows per table in one import (setting "
                    "BVALL_IMPORT_MAX_ROWS); split the workbook and import the parts one by one",
                )


def _cells(ws: Any) -> Iterator[tuple[Any, ...]]:
    yield from ws.iter_rows()


def _read_sheet(ws: Any, where: str, table: str, limits: ReadLimits) -> pd.DataFrame:
    rows = _cells(ws)
    first = next(rows, None)
    if first is None:
        raise _refuse(table, where, "(empty sheet)", "a header row naming the columns")
    header = [c.value for c in first]
    while header and header[-1] is None:
        header.pop()
    _check_header(table, where, header)
    for i, h in enumerate(header):
        if h is None or (isinstance(h, str) and not h.strip()):
            raise _refuse(
                table,
                where,
                f"column {i + 1} of the header row is empty",
                "one header cell per column, none empty and none merged (merged header cells "
                "leave all but the first empty): unmerge them and name each column",
            )
        if first[i].data_type == "f":
            raise _refuse(table, where, str(h), "a header typed as text, not a formula")
    width = len(header)
    data: list[list[Any]] = []
    formulas: list[tuple[int, int, Any]] = []
    errors: list[tuple[int, int, Any]] = []
    blank_run = 0
    for row_no, cells in enumerate(rows, start=1):
        values = []
        for col, c in enumerate(cells):
            kind = getattr(c, "data_type", None)
            if kind == "f":
                formulas.append((row_no, col, c.value))
            elif kind == "e":
                errors.append((row_no, col, c.value))
            if col < width:
                values.append(c.value)
            elif c.value is not None:
                raise _refuse(
                    table,
                    where,
                    c.value,
                    f"no value right of the last named column ({header[-1]}): give column "
                    f"{col + 1} a header or remove its values",
                    row=row_no,
                )
        values += [None] * (width - len(values))
        if all(v is None for v in values):
            blank_run += 1
        else:
            blank_run = 0
        data.append(values)
        if limits.max_rows is not None and len(data) - blank_run > limits.max_rows:
            raise _too_many_rows(table, where, limits)
    if blank_run:
        del data[-blank_run:]
    for found, what, todo in (
        (
            formulas,
            "a formula",
            "copy the cells and paste them as values (Paste Special › Values), then upload again",
        ),
        (errors, "an Excel error value", "correct the cell (or leave it empty when unknown)"),
    ):
        if found:
            row_no, col, value = found[0]
            more = f"; {len(found) - 1} more cell(s) of this sheet too" if len(found) > 1 else ""
            raise _refuse(
                table,
                where,
                value,
                f"a value, not {what}{more}: {todo}",
                row=row_no,
                column=header[col] if col < width else f"column {col + 1}",
            )
    return pd.DataFrame(data, columns=[str(h).strip() for h in header], dtype=object)


def read_xlsx_tables(path: Path, limits: ReadLimits = ReadLimits()) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook but ``_cohort``, by sheet name; raises :class:`Unreadable`."""
    _check_size(path, limits)
    _check_zip(path, limits)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a malformed workbook
        raise _refuse(
            path.stem,
            path.name,
            type(exc).__name__,
            "an .xlsx workbook saved by Excel or LibreOffice (this one cannot be opened): open "
            "it and save it again as 'Excel Workbook (.xlsx)'",
        ) from None
    try:
        out: dict[str, pd.DataFrame] = {}
        for ws in wb.worksheets:
            if ws.title == METADATA_SHEET:
                continue
            out[ws.title] = _read_sheet(ws, f"{path.name} [{ws.title}]", ws.title, limits)
        return out
    finally:
        wb.close()


# --- several files -----------------------------------------------------------------------------


def read_tables(
    paths: list[Path], limits: ReadLimits = ReadLimits()
) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[Problem]]:
    """Read table files without validating them: ``<table>.csv``, ``<table>.parquet`` and
    ``.xlsx`` workbooks, within ``limits``.

    Returns the raw tables (cells as read, nothing guessed), the file (and sheet) each came from
    and the problems met while reading; a table with a problem is left out.
    """
    raw: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    problems: list[Problem] = []

    def add(name: str, frame: pd.DataFrame, where: str) -> None:
        if name in raw:
            problems.append(
                Problem(
                    name,
                    None,
                    None,
                    where,
                    f"one file per table ({files[name]} also holds it)",
                    "file",
                    where,
                )
            )
            return
        raw[name], files[name] = frame, where

    for path in paths:
        suffix = path.suffix.lower()
        try:
            if suffix == ".csv":
                add(path.stem, read_csv_table(path, limits), path.name)
            elif suffix == ".parquet":
                add(path.stem, read_parquet_table(path, limits), path.name)
            elif suffix in (".xlsx", ".xlsm"):
                for sheet, frame in read_xlsx_tables(path, limits).items():
                    add(sheet, frame, f"{path.name} [{sheet}]")
            else:
                problems.append(
                    Problem(
                        "file",
                        None,
                        None,
                        path.name,
                        "a file named <table>.csv or <table>.parquet, or an .xlsx workbook",
                        "file",
                        path.name,
                    )
                )
        except Unreadable as exc:
            problems.append(exc.problem)
    return raw, files, problems
