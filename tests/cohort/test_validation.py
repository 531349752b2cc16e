"""Every class of validation problem, with its message: boundary tables around each rule.

Each case starts from a small valid cohort, changes one value, and checks that exactly the
expected problem is reported (table, row, column, class, and the words of the message).
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from bvall.cohort import Cohort, lab_test, normalize_unit, validate_tables
from bvall.errors import UnknownUnitError, ValidationFailed


def base() -> dict[str, list[dict[str, Any]]]:
    return {
        "patients": [
            {
                "patient_id": "A1",
                "sex": "F",
                "age_years": "54",
                "arm": "concurrent",
                "diagnosis_date": "2024-03-01",
                "enrolment_date": "2024-03-04",
            },
            {"patient_id": "A2", "sex": "M", "age_years": "18", "arm": "sequential"},
        ],
        "treatment_courses": [
            {
                "patient_id": "A1",
                "course_id": "IND",
                "course_type": "induction",
                "regimen": "bv-concurrent",
                "start_date": "2024-03-08",
                "end_date": "2024-03-21",
            },
        ],
        "dose_administrations": [
            {
                "patient_id": "A1",
                "course_id": "IND",
                "agent": "venetoclax",
                "dose": "100",
                "dose_unit": "mg",
                "route": "PO",
                "study_day_start": "1",
                "study_day_end": "1",
                "status": "given",
            },
        ],
        "labs": [
            {
                "patient_id": "A1",
                "test": "anc",
                "value": "0.4",
                "unit": "10^9/L",
                "ref_low": "1.8",
                "ref_high": "7.5",
                "study_day": "3",
            },
            {
                "patient_id": "A1",
                "test": "hemoglobin",
                "value": "9.2",
                "unit": "g/dL",
                "study_day": "3",
            },
        ],
        "marrow_assessments": [
            {
                "patient_id": "A1",
                "timepoint": "d14_21",
                "study_day": "15",
                "blasts_percent": "2",
                "mrd_status": "negative",
                "mrd_level": "0",
                "mrd_sensitivity": "0.0001",
            },
        ],
        "follow_up_events": [
            {"patient_id": "A1", "event": "relapse", "study_day": "200", "relapse_site": "marrow"},
            {"patient_id": "A1", "event": "death", "study_day": "260"},
        ],
    }


def check(tables: dict[str, Any]) -> list[Any]:
    _, problems = validate_tables(tables)
    return problems


def with_value(table: str, row: int, column: str, value: Any) -> dict[str, Any]:
    t = copy.deepcopy(base())
    if value is _DROP:
        t[table][row].pop(column)
    else:
        t[table][row][column] = value
    return t


_DROP = object()


def test_base_is_valid() -> None:
    assert check(base()) == []
    cohort = Cohort.from_tables(base())
    assert len(cohort) == 2


# (table, row, column, value, problem class or None when valid, words in the message)
BOUNDARIES = [
    # types
    ("patients", 0, "age_years", "seventy", "type", "a whole number"),
    ("patients", 0, "age_years", "54.5", "type", "a whole number"),
    ("patients", 0, "diagnosis_date", "2024/03/01", "type", "ISO date"),
    ("patients", 0, "diagnosis_date", "2024-02-30", "type", "ISO date"),
    ("labs", 0, "value", "0,4", "type", "decimal point"),
    ("labs", 0, "value", "nan", "type", "a number"),
    ("patients", 0, "cd19_positive", "maybe", "type", "true or false"),
    ("patients", 0, "cd19_positive", "yes", None, ""),
    ("labs", 0, "time", "25:00", "type", "HH:MM"),
    ("labs", 0, "time", "23:59", None, ""),
    # required
    ("patients", 0, "sex", "", "required", "required"),
    ("patients", 0, "sex", "   ", "required", "required"),
    # vocabularies (exact codes; a near miss gets a suggestion)
    ("patients", 0, "sex", "female", "vocabulary", "'F'"),
    ("patients", 0, "arm", "Concurrent", "vocabulary", "did you mean 'concurrent'"),
    ("marrow_assessments", 0, "mrd_status", "neg", "vocabulary", "'negative'"),
    # plausibility ranges: below, at and above each bound
    ("patients", 0, "age_years", "-1", "range", "at least 0 years"),
    ("patients", 0, "age_years", "0", None, ""),
    ("patients", 0, "age_years", "120", None, ""),
    ("patients", 0, "age_years", "121", "range", "at most 120 years"),
    ("marrow_assessments", 0, "blasts_percent", "100", None, ""),
    ("marrow_assessments", 0, "blasts_percent", "100.1", "range", "at most 100 %"),
    ("marrow_assessments", 0, "blasts_percent", "-0.1", "range", "at least 0 %"),
    ("marrow_assessments", 0, "mrd_level", "1", None, ""),
    ("marrow_assessments", 0, "mrd_level", "1.01", "range", "at most 1"),
    ("marrow_assessments", 0, "mrd_level", "-0.0001", "range", "at least 0"),
    ("labs", 0, "value", "500", None, ""),  # ANC plausible up to 500 x10^9/L
    ("labs", 0, "value", "500.5", "range", "plausible Absolute neutrophil count"),
    ("labs", 1, "value", "26", None, ""),  # Hb 26 g/dL = 260 g/L, the upper bound
    ("labs", 1, "value", "92", "range", "converts to 920 g/L"),  # typed g/L into a g/dL row
    # units: never guessed
    ("labs", 0, "unit", "IU/mL", "unit", "10^9/L, 10^3/µL, /µL"),
    ("labs", 0, "unit", "x10^9/L", None, ""),
    ("labs", 1, "unit", "mg/dL", "unit", "g/L, g/dL, mmol/L"),
    ("labs", 0, "test", "neutrophils", "vocabulary", "known lab test"),
    ("dose_administrations", 0, "dose_unit", "µg/day", "unit", "venetoclax is dosed in: mg"),
    ("dose_administrations", 0, "dose_unit", "kg", "unit", "venetoclax is dosed in"),
    # order of dates and days
    ("patients", 0, "enrolment_date", "2024-02-29", "order", "on or after diagnosis_date"),
    ("patients", 0, "enrolment_date", "2024-03-01", None, ""),
    ("treatment_courses", 0, "end_date", "2024-03-07", "order", "on or after start_date"),
    ("dose_administrations", 0, "study_day_end", "0", "order", "on or after study_day_start"),
    ("labs", 0, "ref_high", "1.7", "order", "on or after ref_low"),
    # at least one of date / study day / time point
    ("labs", 0, "study_day", "", "required", "at least one of date, study_day, timepoint"),
    # references between tables
    ("labs", 0, "patient_id", "A9", "reference", "exists in patients"),
    ("dose_administrations", 0, "course_id", "CONS1", "reference", "exists in treatment_courses"),
    # consistency across tables
    ("treatment_courses", 0, "regimen", "bv-sequential", "consistency", "arm (concurrent)"),
    (
        "follow_up_events",
        0,
        "study_day",
        "261",
        "consistency",
        "no event after the patient's death",
    ),
    ("follow_up_events", 0, "study_day", "260", None, ""),
]


@pytest.mark.parametrize(("table", "row", "column", "value", "code", "words"), BOUNDARIES)
def test_boundary(
    table: str, row: int, column: str, value: Any, code: str | None, words: str
) -> None:
    problems = check(with_value(table, row, column, value))
    if code is None:
        assert problems == []
        return
    assert len(problems) == 1, [p.message for p in problems]
    p = problems[0]
    assert p.code == code
    assert words in p.message
    if code not in ("reference", "consistency"):
        assert (p.table, p.row) == (table, row + 1)
        assert p.column is not None
        assert column in p.column.split(", ")


def test_duplicates_are_reported_with_the_first_row() -> None:
    t = base()
    t["patients"].append(dict(t["patients"][1]))
    problems = check(t)
    assert [(p.code, p.row) for p in problems] == [("duplicate", 3)]
    assert "same key as row 2" in problems[0].message
    t = base()
    t["labs"].append(dict(t["labs"][0]))
    assert [p.code for p in check(t)] == ["duplicate"]


def test_unknown_and_missing_columns_and_tables() -> None:
    t = base()
    t["patients"][0]["weight"] = "60"
    problems = check(t)
    assert [p.code for p in problems] == ["column"]
    assert "did you mean 'weight_kg'" in problems[0].message
    t = base()
    for r in t["labs"]:
        r.pop("unit")
    problems = check(t)
    assert ("column", "unit") in {(p.code, p.column) for p in problems}
    t = base()
    t["lab"] = t.pop("labs")
    problems = check(t)
    assert problems[0].code == "file"
    assert "did you mean 'labs'" in problems[0].message
    t = base()
    del t["patients"]
    assert "file" in {p.code for p in check(t)}


def test_every_problem_is_reported_at_once() -> None:
    t = base()
    t["patients"][0]["sex"] = "x"
    t["patients"][1]["age_years"] = "200"
    t["labs"][0]["unit"] = "mmHg"
    t["marrow_assessments"][0]["timepoint"] = "day15"
    with pytest.raises(ValidationFailed) as info:
        Cohort.from_tables(t)
    codes = sorted(p.code for p in info.value.problems)
    assert codes == ["range", "unit", "vocabulary", "vocabulary"]
    assert "4 problems found" in str(info.value)
    assert "nothing was written" in str(info.value)


# Conversions: CLINICAL.md §7.4 standard chemistry factors (and Howard 2011's own pairs:
# uric acid 8 mg/dL = 475.8 µmol/L; creatinine 0.3 mg/dL = 26.5 µmol/L).
CONVERSIONS = [
    ("uric_acid", 8.0, "mg/dL", 475.84, 0.01),
    ("creatinine", 0.3, "mg/dL", 26.52, 0.01),
    ("calcium", 7.0, "mg/dL", 1.7465, 1e-4),
    ("phosphate", 4.5, "mg/dL", 1.45305, 1e-5),
    ("hemoglobin", 9.2, "g/dL", 92.0, 1e-9),
    ("fibrinogen", 150.0, "mg/dL", 1.5, 1e-12),
    ("platelets", 25000.0, "/µL", 25.0, 1e-12),
    ("anc", 400.0, "cells/uL", 0.4, 1e-12),
    ("alt", 1.0, "µkat/L", 60.0, 1e-12),
]


@pytest.mark.parametrize(("test", "value", "unit", "expected", "tol"), CONVERSIONS)
def test_unit_conversion(test: str, value: float, unit: str, expected: float, tol: float) -> None:
    assert lab_test(test).to_canonical(value, unit) == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize(("test", "value", "unit", "expected", "tol"), CONVERSIONS)
def test_conversion_between_two_units_goes_both_ways(
    test: str, value: float, unit: str, expected: float, tol: float
) -> None:
    t = lab_test(test)
    canonical = t.canonical_unit
    assert t.convert(value, unit, canonical) == pytest.approx(expected, abs=tol)
    assert t.convert(expected, canonical, unit) == pytest.approx(value, rel=1e-3)
    assert t.convert(value, unit, unit) == pytest.approx(value, rel=1e-12)


def test_unknown_units_are_never_guessed() -> None:
    with pytest.raises(UnknownUnitError, match="'mg/dl/L' is not known"):
        normalize_unit("mg/dl/L")
    with pytest.raises(UnknownUnitError, match="expected one of µmol/L, mg/dL"):
        lab_test("creatinine").factor("mmol/L")
    assert normalize_unit("ug/day") == "µg/day"


def _coerced_value_by_value(values: list[object], col_type: str) -> list[object]:
    """What the per-value loop of validation makes of ``values`` (the reference of the typed
    fast paths): missing values are None, the others go through the type's converter."""
    from bvall.cohort.validate import _COERCE, _is_missing

    return [None if _is_missing(v) else _COERCE[col_type](v) for v in values]


@pytest.mark.parametrize(
    ("col_type", "values"),
    [
        ("string", ["P01", None, "", "   ", " spaced ", "x;y"]),
        ("time", ["06:00", None, "", " 07:30 ", "  "]),
        ("date", [dt.date(2024, 7, 26), None, dt.date(2000, 1, 1)]),
        ("boolean", [True, None, False]),
        ("integer", [1, None, -7, 0, 2**40]),
        ("integer", [1.0, float("nan"), -7.0, 12.0]),  # whole numbers with gaps, as pandas has them
        ("number", [1.5, None, -0.25, 1e300]),
    ],
)
def test_typed_columns_skip_the_loop_with_the_loops_result(
    col_type: str, values: list[object]
) -> None:
    """A column of one Python type (a database read) takes a fast path that gives exactly what
    converting value by value gives: blanks missing, text kept as written, times stripped."""
    from bvall.cohort.schema import Column
    from bvall.cohort.validate import _coerce, _fast_path

    col = Column(name="c", type=col_type, description="test column")
    series = pd.Series(
        values, dtype=float if col_type == "integer" and isinstance(values[0], float) else object
    )
    assert _fast_path(series, col) is not None, "the fast path was not taken"
    problems: list[object] = []
    typed, bad = _coerce(series, col, "t", problems, None)  # type: ignore[arg-type]
    assert (problems, bad) == ([], set())
    assert typed.to_pylist() == _coerced_value_by_value(values, col_type)
    assert typed.type == col.arrow_type


@pytest.mark.parametrize(
    ("col_type", "values"),
    [
        ("date", [dt.date(2024, 7, 26), dt.datetime(2024, 7, 26, 8, 30)]),  # a time of day
        ("integer", [1, True]),  # a boolean is no whole number
        ("integer", [1.0, 2.5]),  # a fraction
        ("string", ["P01", 7]),  # mixed types take the loop
        ("boolean", [True, 1]),
        ("number", [1.5, float("inf")]),  # infinity is a problem the loop reports
        ("number", [1.5, float("nan")]),  # NaN (missing) as the loop says
        ("number", [1.5, 2]),  # an int in a number column is converted by the loop
    ],
)
def test_other_values_take_the_loop(col_type: str, values: list[object]) -> None:
    from bvall.cohort.schema import Column
    from bvall.cohort.validate import _fast_path

    col = Column(name="c", type=col_type, description="test column")
    series = pd.Series(values, dtype=float if values == [1.0, 2.5] else object)
    assert _fast_path(series, col) is None


def _as_rows(table: pa.Table) -> list[dict[str, object]]:
    return table.to_pylist()


@pytest.mark.parametrize("name", ["example", "published"])
def test_object_columns_validate_as_a_dataframe_of_python_values(name: str) -> None:
    """A database read hands validation its columns as Python lists (ObjectColumns): the typed
    tables and the problems are those of the same rows in a DataFrame of dtype object."""
    from bvall.cohort import load_cohort
    from bvall.cohort.validate import ObjectColumns, validate_tables

    cohort = load_cohort(name)
    rows = {t: _as_rows(cohort[t]) for t in cohort.table_names}
    cols = {t: [f.name for f in cohort[t].schema] for t in cohort.table_names}
    frames = {t: pd.DataFrame(rows[t], columns=cols[t], dtype=object) for t in rows}
    lists = {
        t: ObjectColumns({c: [r[c] for r in rows[t]] for c in cols[t]}, len(rows[t])) for t in rows
    }
    typed_frames, problems_frames = validate_tables(frames, today=dt.date(2026, 12, 7))
    typed_lists, problems_lists = validate_tables(lists, today=dt.date(2026, 12, 7))
    assert problems_lists == problems_frames == []
    for t in typed_frames:
        assert typed_lists[t].equals(typed_frames[t]), t


def test_object_columns_report_the_problems_a_dataframe_reports() -> None:
    """Values of other types (a form's text, an infinity, a NaN, a bool among whole numbers, a
    datetime among dates, a blank) are validated as a DataFrame's column of dtype object is:
    the same typed values and the same problems, in the same order."""
    from bvall.cohort.validate import ObjectColumns, validate_tables

    patients = {
        "patient_id": ["P01", "P02", "P03", " ", "P05"],
        "sex": ["F", "M", "X", "F", None],
        "age_years": [34, "41", True, 52.0, float("nan")],
        "diagnosis_date": [dt.date(2024, 1, 2), "2024-02-30", None, dt.datetime(2024, 3, 4, 8), ""],
        "weight_kg": [61.5, float("inf"), "70,5", None, 80],
    }
    n = len(patients["patient_id"])
    frame = pd.DataFrame(patients, dtype=object)
    typed_f, problems_f = validate_tables({"patients": frame}, today=dt.date(2026, 12, 7))
    typed_l, problems_l = validate_tables(
        {"patients": ObjectColumns(patients, n)}, today=dt.date(2026, 12, 7)
    )
    assert problems_f  # the case has problems to report
    assert problems_l == problems_f
    assert typed_l["patients"].equals(typed_f["patients"])
    with pytest.raises(ValueError, match="differ in length"):
        ObjectColumns({"a": [1], "b": [1, 2]}, 1)
