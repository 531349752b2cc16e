"""Validation of cohort tables: every problem at once, nothing half accepted.

:func:`validate_tables` takes raw tables (as read from CSV, Excel, Parquet or built in Python),
coerces each column to its declared type, and checks required values, vocabularies, patterns,
plausibility ranges, units, ordering of dates and days, one-of groups, duplicate keys,
references between tables and cross-table consistency. It returns the typed tables together with
the complete list of :class:`~bvall.cohort.problems.Problem`; the caller decides (an import is
rejected whole when the list is not empty).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from bvall.cohort.dates import DateLimits, check_dates
from bvall.cohort.problems import Problem
from bvall.cohort.schema import TABLES, Column, TableSchema
from bvall.cohort.units import known_units, load_lab_tests, normalize_unit
from bvall.cohort.vocab import vocabulary
from bvall.errors import UnknownUnitError, suggest

_BOOL_WORDS = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "1": True,
    "0": False,
    "y": True,
    "n": False,
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: Regimens whose arm is implied (used by the arm/regimen consistency check).
_ARM_OF_REGIMEN = {"bv-concurrent": "concurrent", "bv-sequential": "sequential"}


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip() == ""


# --- coercion -------------------------------------------------------------------------------


class _Bad(Exception):
    pass


def _to_string(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        raise _Bad
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating) and float(v).is_integer():
        # Excel stores a typed-in identifier such as 7 as the number 7.0.
        return str(int(v))
    raise _Bad


def _to_integer(v: Any) -> int:
    if isinstance(v, bool | np.bool_):
        raise _Bad
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        if float(v).is_integer():
            return int(v)
        raise _Bad
    if isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v):
        return int(v)
    raise _Bad


def _to_number(v: Any) -> float:
    if isinstance(v, bool | np.bool_):
        raise _Bad
    if isinstance(v, int | float | np.integer | np.floating) or (
        isinstance(v, str) and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", v)
    ):
        f = float(v)
    else:
        raise _Bad
    if not math.isfinite(f):
        raise _Bad
    return f


def _to_date(v: Any) -> dt.date:
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        if v.time() != dt.time(0, 0):
            raise _Bad
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, np.datetime64):
        return _to_date(pd.Timestamp(v))
    if isinstance(v, str) and _ISO_DATE.match(v.strip()):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            raise _Bad from None
    raise _Bad


def _to_boolean(v: Any) -> bool:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer) and int(v) in (0, 1):
        return bool(v)
    if isinstance(v, float) and v in (0.0, 1.0):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[v.strip().lower()]
    raise _Bad


def _to_time(v: Any) -> str:
    if isinstance(v, dt.time):
        return v.strftime("%H:%M")
    if isinstance(v, str):
        return v.strip()
    raise _Bad


_COERCE = {
    "string": _to_string,
    "integer": _to_integer,
    "number": _to_number,
    "date": _to_date,
    "boolean": _to_boolean,
    "time": _to_time,
}

_EXPECTED_TYPE = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number (decimal point '.', no thousands separator)",
    "date": "an ISO date YYYY-MM-DD",
    "boolean": "true or false (also yes/no, 1/0)",
    "time": "a time HH:MM",
}


def _fast_path(series: pd.Series, col: Column) -> pa.Array | None:
    """Columns already typed (Parquet, Python) skip the per-value loop."""
    if col.type == "number" and pd.api.types.is_float_dtype(series.dtype):
        arr = series.to_numpy(dtype=float, na_value=np.nan)
        if np.isfinite(arr[~np.isnan(arr)]).all():
            return pa.array(arr, mask=np.isnan(arr), type=pa.float64())
    if col.type == "integer" and pd.api.types.is_integer_dtype(series.dtype):
        return pa.array(series, type=pa.int64(), from_pandas=True)
    if col.type == "integer" and pd.api.types.is_float_dtype(series.dtype):
        # whole numbers with gaps (pandas stores them as floats): each value as int(value), as
        # the per-value loop converts them; any fraction or infinity takes that loop
        arr = series.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(arr)
        present = arr[~missing]
        whole_numbers = np.isfinite(present).all() and (present == np.trunc(present)).all()
        if whole_numbers and (np.abs(present) < 2.0**63).all():
            whole = np.where(missing, 0.0, arr).astype(np.int64)
            return pa.array(whole, mask=missing, type=pa.int64())
    if col.type == "boolean" and pd.api.types.is_bool_dtype(series.dtype):
        return pa.array(series, type=pa.bool_(), from_pandas=True)
    if series.dtype == object and col.type in _PYTHON_TYPES:
        return _python_values(series.tolist(), col)
    return None


#: Column types whose values may come as Python objects of exactly one type (a database read,
#: a form): those columns skip the per-value conversion, which returns each such value as it is.
_PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "time": str,
    "date": dt.date,
    "boolean": bool,
    "integer": int,
    "number": float,
}


def _python_values(values: list[Any], col: Column) -> pa.Array | None:
    """A column of ``None`` and values of exactly the Python type of ``col`` (no subclass: a
    ``datetime`` is not a date here, a ``bool`` not an integer) as the per-value loop of
    :func:`_coerce` would convert it; ``None`` when any value is of another type."""
    want = _PYTHON_TYPES[col.type]
    for v in values:
        if v is not None and type(v) is not want:
            return None
    if col.type == "string":  # blank text is missing; other text is kept as written
        values = [v if v is not None and v.strip() else None for v in values]
    elif col.type == "time":  # blank is missing; a time is kept without surrounding spaces
        values = [None if v is None else (v.strip() or None) for v in values]
    elif col.type == "number" and not all(v is None or math.isfinite(v) for v in values):
        return None  # NaN is missing and infinity a problem: the loop says which
    return pa.array(values, type=col.arrow_type)


def _coerce(
    series: pd.Series | list[Any],
    col: Column,
    table: str,
    problems: list[Problem],
    file: str | None,
) -> tuple[pa.Array, set[int]]:
    """The column as a typed array, and the 0-based rows whose value could not be read.
    ``series`` may be a list of Python values taken as they are (:class:`ObjectColumns`)."""
    if isinstance(series, list):
        if col.type in _PYTHON_TYPES:
            fast = _python_values(series, col)
            if fast is not None:
                return fast, set()
        series = pd.Series(series, dtype=object)  # as a DataFrame of dtype object holds it
    fast = _fast_path(series, col)
    if fast is not None:
        return fast, set()
    bad: set[int] = set()
    convert = _COERCE[col.type]
    out: list[Any] = []
    for i, v in enumerate(series.tolist()):
        if _is_missing(v):
            out.append(None)
            continue
        try:
            out.append(convert(v))
        except (_Bad, ValueError, OverflowError):
            problems.append(
                Problem(table, i + 1, col.name, v, _EXPECTED_TYPE[col.type], "type", file)
            )
            bad.add(i)
            out.append(None)
    return pa.array(out, type=col.arrow_type), bad


# --- per-column checks -----------------------------------------------------------------------


def _check_column(
    values: list[Any],
    col: Column,
    table: str,
    problems: list[Problem],
    file: str | None,
    unreadable: set[int],
) -> None:
    vocab = vocabulary(col.vocabulary) if col.vocabulary else None
    pattern = re.compile(col.pattern) if col.pattern else None
    unit = f" {col.unit}" if col.unit else ""
    for i, v in enumerate(values):
        row = i + 1
        if v is None:
            if col.required and i not in unreadable:
                problems.append(
                    Problem(table, row, col.name, None, "a value (required)", "required", file)
                )
            continue
        if vocab is not None:
            items = [x.strip() for x in v.split(";")] if col.list_of else [v]
            for item in items:
                if item not in vocab:
                    problems.append(
                        Problem(
                            table,
                            row,
                            col.name,
                            item,
                            vocab.expected() + suggest(item, vocab.codes),
                            "vocabulary",
                            file,
                        )
                    )
        if pattern is not None and not pattern.match(v):
            what = "HH:MM (24 h)" if col.type == "time" else f"text matching {col.pattern}"
            problems.append(Problem(table, row, col.name, v, what, "type", file))
        if col.min is not None and isinstance(v, int | float) and v < col.min:
            problems.append(
                Problem(table, row, col.name, v, f"at least {col.min:g}{unit}", "range", file)
            )
        if col.max is not None and isinstance(v, int | float) and v > col.max:
            problems.append(
                Problem(table, row, col.name, v, f"at most {col.max:g}{unit}", "range", file)
            )


# --- table-specific checks ---------------------------------------------------------------------


def _check_labs(t: pa.Table, problems: list[Problem], file: str | None) -> None:
    tests = load_lab_tests()
    cols = {c: t.column(c).to_pylist() for c in ("test", "value", "unit", "ref_low", "ref_high")}
    for i in range(t.num_rows):
        row = i + 1
        code, _value, unit = cols["test"][i], cols["value"][i], cols["unit"][i]
        if code is None:
            continue
        test = tests.get(code)
        if test is None:
            problems.append(
                Problem(
                    "labs",
                    row,
                    "test",
                    code,
                    "a known lab test code"
                    + suggest(code, list(tests))
                    + f" (known: {', '.join(tests)})",
                    "vocabulary",
                    file,
                )
            )
            continue
        if unit is None:
            continue
        try:
            factor = test.factor(unit)
        except UnknownUnitError:
            problems.append(
                Problem(
                    "labs",
                    row,
                    "unit",
                    unit,
                    f"a unit accepted for {test.name} ({code}): {', '.join(test.accepted_units)}",
                    "unit",
                    file,
                )
            )
            continue
        low, high = test.plausible
        for colname in ("value", "ref_low", "ref_high"):
            v = cols[colname][i]
            if v is None:
                continue
            canonical = v * factor
            if not (low <= canonical <= high):
                problems.append(
                    Problem(
                        "labs",
                        row,
                        colname,
                        v,
                        f"a plausible {test.name} between {low:g} and {high:g} {test.canonical_unit}"
                        + (
                            f" (the value converts to {canonical:g} {test.canonical_unit})"
                            if factor != 1.0
                            else ""
                        ),
                        "range",
                        file,
                    )
                )


def _check_dose_units(t: pa.Table, problems: list[Problem], file: str | None) -> None:
    agents = vocabulary("agent")
    for i, (agent, unit) in enumerate(
        zip(t.column("agent").to_pylist(), t.column("dose_unit").to_pylist(), strict=True)
    ):
        if agent is None or unit is None or agent not in agents:
            continue
        allowed = agents.term(agent).attributes.get("units", [])
        try:
            canonical = normalize_unit(unit)
        except UnknownUnitError:
            canonical = None
        if canonical not in allowed:
            problems.append(
                Problem(
                    "dose_administrations",
                    i + 1,
                    "dose_unit",
                    unit,
                    f"a unit {agent} is dosed in: {', '.join(allowed)}",
                    "unit",
                    file,
                )
            )


def _check_med_units(t: pa.Table, problems: list[Problem], file: str | None) -> None:
    for i, unit in enumerate(t.column("dose_unit").to_pylist()):
        if unit is None:
            continue
        try:
            normalize_unit(unit)
        except UnknownUnitError:
            problems.append(
                Problem(
                    "concomitant_medications",
                    i + 1,
                    "dose_unit",
                    unit,
                    "a known unit" + suggest(unit, known_units()) + " (see `bvall vocab units`)",
                    "unit",
                    file,
                )
            )


_TABLE_CHECKS = {
    "labs": _check_labs,
    "dose_administrations": _check_dose_units,
    "concomitant_medications": _check_med_units,
}


def _check_order(
    t: pa.Table, schema: TableSchema, problems: list[Problem], file: str | None
) -> None:
    for first, second in schema.order:
        a, b = t.column(first).to_pylist(), t.column(second).to_pylist()
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x is not None and y is not None and y < x:
                problems.append(
                    Problem(
                        schema.name, i + 1, second, y, f"on or after {first} ({x})", "order", file
                    )
                )


def _check_one_of(
    t: pa.Table, schema: TableSchema, problems: list[Problem], file: str | None
) -> None:
    for group in schema.one_of:
        cols = [t.column(c).to_pylist() for c in group]
        for i in range(t.num_rows):
            if all(c[i] is None for c in cols):
                problems.append(
                    Problem(
                        schema.name,
                        i + 1,
                        ", ".join(group),
                        None,
                        "at least one of " + ", ".join(group),
                        "required",
                        file,
                    )
                )


def _key_rows(t: pa.Table, cols: Iterable[str]) -> list[tuple[Any, ...]]:
    lists = [t.column(c).to_pylist() for c in cols]
    return list(zip(*lists, strict=True)) if lists else []


def _check_duplicates(
    t: pa.Table, schema: TableSchema, problems: list[Problem], file: str | None
) -> None:
    seen: dict[tuple[Any, ...], int] = {}
    for i, key in enumerate(_key_rows(t, schema.key)):
        if key in seen:
            shown = ", ".join(
                f"{c}={v}" for c, v in zip(schema.key, key, strict=True) if v is not None
            )
            problems.append(
                Problem(
                    schema.name,
                    i + 1,
                    schema.key[-1],
                    shown,
                    f"a unique record (same key as row {seen[key]})",
                    "duplicate",
                    file,
                )
            )
        else:
            seen[key] = i + 1


def _check_references(
    tables: Mapping[str, pa.Table], files: Mapping[str, str], problems: list[Problem]
) -> None:
    for name, schema in TABLES.items():
        t = tables[name]
        for cols, target, target_cols in schema.references:
            existing = set(_key_rows(tables[target], target_cols))
            for i, key in enumerate(_key_rows(t, cols)):
                if any(k is None for k in key) or key in existing:
                    continue
                shown = key[0] if len(key) == 1 else ", ".join(map(str, key))
                problems.append(
                    Problem(
                        name,
                        i + 1,
                        cols[-1],
                        shown,
                        f"a {'/'.join(target_cols)} that exists in {target}",
                        "reference",
                        files.get(name),
                    )
                )


def _check_consistency(
    tables: Mapping[str, pa.Table], files: Mapping[str, str], problems: list[Problem]
) -> None:
    patients = tables["patients"]
    arm = dict(
        zip(
            patients.column("patient_id").to_pylist(),
            patients.column("arm").to_pylist(),
            strict=True,
        )
    )
    courses = tables["treatment_courses"]
    for i, (pid, ctype, regimen) in enumerate(
        zip(
            courses.column("patient_id").to_pylist(),
            courses.column("course_type").to_pylist(),
            courses.column("regimen").to_pylist(),
            strict=True,
        )
    ):
        implied = _ARM_OF_REGIMEN.get(regimen or "")
        recorded = arm.get(pid)
        if (
            ctype == "induction"
            and implied
            and recorded in _ARM_OF_REGIMEN.values()
            and recorded != implied
        ):
            problems.append(
                Problem(
                    "treatment_courses",
                    i + 1,
                    "regimen",
                    regimen,
                    f"the regimen of the patient's arm ({recorded})",
                    "consistency",
                    files.get("treatment_courses"),
                )
            )
    # Nothing can happen to a patient after death.
    events = tables["follow_up_events"]
    death: dict[str, tuple[Any, Any]] = {}
    rows = list(
        zip(
            events.column("patient_id").to_pylist(),
            events.column("event").to_pylist(),
            events.column("date").to_pylist(),
            events.column("study_day").to_pylist(),
            strict=True,
        )
    )
    for pid, event, date, day in rows:
        if event == "death":
            if pid in death:
                problems.append(
                    Problem(
                        "follow_up_events",
                        None,
                        "event",
                        "death",
                        f"one death per patient (patient {pid} has two)",
                        "consistency",
                        files.get("follow_up_events"),
                    )
                )
            death[pid] = (date, day)
    for i, (pid, event, date, day) in enumerate(rows):
        if pid not in death or event == "death":
            continue
        d_date, d_day = death[pid]
        if (date is not None and d_date is not None and date > d_date) or (
            day is not None and d_day is not None and day > d_day
        ):
            problems.append(
                Problem(
                    "follow_up_events",
                    i + 1,
                    "event",
                    event,
                    f"no event after the patient's death ({d_date or 'day ' + str(d_day)})",
                    "consistency",
                    files.get("follow_up_events"),
                )
            )


# --- entry point -------------------------------------------------------------------------------


class ObjectColumns(dict[str, list[Any]]):
    """A table as columns of Python values taken as they are, with no type inferred: what
    ``pd.DataFrame(rows, dtype=object)`` holds, without building it (a database read, a
    form's rows). Columns of one Python type go through :func:`_python_values` directly; any
    other column is validated as that DataFrame's column would be. All columns have one
    length."""

    def __init__(self, columns: Mapping[str, list[Any]], length: int) -> None:
        super().__init__(columns)
        if any(len(v) != length for v in self.values()):
            raise ValueError("internal: the columns of a table differ in length")
        self.length = length

    @property
    def columns(self) -> list[str]:
        return list(self)


def _as_frame(raw: Any) -> pd.DataFrame | ObjectColumns:
    if isinstance(raw, pd.DataFrame | ObjectColumns):
        return raw
    if isinstance(raw, pa.Table):
        return raw.to_pandas(types_mapper=None, date_as_object=True)
    if isinstance(raw, list):
        return pd.DataFrame.from_records(raw)
    if isinstance(raw, Mapping):
        return pd.DataFrame(dict(raw))
    raise TypeError(f"cannot read a table from {type(raw).__name__}")


def _length(frame: pd.DataFrame | ObjectColumns) -> int:
    return frame.length if isinstance(frame, ObjectColumns) else len(frame)


def validate_tables(
    raw: Mapping[str, Any],
    files: Mapping[str, str] | None = None,
    collect: list[Problem] | None = None,
    *,
    today: dt.date | None = None,
    date_limits: DateLimits | None = None,
) -> tuple[dict[str, pa.Table], list[Problem]]:
    """Coerce and check raw tables; return the typed tables and every problem found.

    ``raw`` maps table names to a pandas DataFrame, a PyArrow table, a list of row dicts, a
    dict of columns or :class:`ObjectColumns`. ``files`` maps table names to the file (or
    sheet) they came from, so that problems can name it. Missing tables are empty; ``patients``
    is required. ``today`` enables the check that nothing is dated in the future (see
    :func:`check_dates`); the other date checks always run. ``collect`` receives the problems as they are found (a
    :class:`~bvall.cohort.problems.ProblemList` keeps a bounded number of them).
    """
    files = dict(files or {})
    problems: list[Problem] = [] if collect is None else collect
    typed: dict[str, pa.Table] = {}
    for name in raw:
        if name not in TABLES:
            problems.append(
                Problem(
                    name,
                    None,
                    None,
                    name,
                    "a cohort table"
                    + suggest(name, list(TABLES))
                    + f" (known: {', '.join(TABLES)})",
                    "file",
                    files.get(name),
                )
            )
    if "patients" not in raw:
        problems.append(Problem("patients", None, None, None, "a patients table", "file", None))
    for name, schema in TABLES.items():
        file = files.get(name)
        if name not in raw:
            typed[name] = schema.arrow_schema.empty_table()
            continue
        frame = _as_frame(raw[name])
        unknown = [c for c in frame.columns if c not in schema.column_names]
        for c in unknown:
            problems.append(
                Problem(
                    name,
                    None,
                    str(c),
                    str(c),
                    f"a column of {name}"
                    + suggest(str(c), schema.column_names)
                    + f" (columns: {', '.join(schema.column_names)})",
                    "column",
                    file,
                )
            )
        arrays: list[pa.Array] = []
        for col in schema.columns:
            if col.name not in frame.columns:
                if col.required:
                    problems.append(
                        Problem(
                            name,
                            None,
                            col.name,
                            None,
                            f"a column '{col.name}' (required)",
                            "column",
                            file,
                        )
                    )
                arrays.append(pa.nulls(_length(frame), type=col.arrow_type))
                continue
            arr, unreadable = _coerce(frame[col.name], col, name, problems, file)
            _check_column(arr.to_pylist(), col, name, problems, file, unreadable)
            arrays.append(arr)
        table = pa.Table.from_arrays(arrays, schema=schema.arrow_schema)
        if name in _TABLE_CHECKS:
            _TABLE_CHECKS[name](table, problems, file)
        _check_order(table, schema, problems, file)
        _check_one_of(table, schema, problems, file)
        _check_duplicates(table, schema, problems, file)
        typed[name] = table
    _check_references(typed, files, problems)
    _check_consistency(typed, files, problems)
    problems += check_dates(typed, today=today, limits=date_limits or DateLimits(), files=files)
    return typed, problems
