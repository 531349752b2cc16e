"""Dates checked against today, the diagnosis and D1: boundary tables (issue 12, item 4).

The base cohort (tests/cohort/test_validation.py) has A1 diagnosed 2024-03-01 with induction D1
2024-03-08; A2 has no diagnosis date and no induction course.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from bvall.cohort import validate_tables
from bvall.cohort.dates import DateLimits, complete_when, derive_date, derive_study_day
from tests.cohort.test_validation import base

TODAY = dt.date(2024, 3, 25)
D1 = dt.date(2024, 3, 8)


def _lab(**when: Any) -> dict[str, Any]:
    return {"patient_id": "A1", "test": "platelets", "value": "40", "unit": "10^9/L", **when}


def _problems(table: str, row: dict[str, Any], today: dt.date | None = TODAY, **limits: int):
    t = copy.deepcopy(base())
    t.setdefault(table, []).append(row)
    _, problems = validate_tables(t, today=today, date_limits=DateLimits(**limits))
    # only the added row: the base's own follow-up days lie after this TODAY
    return [p for p in problems if p.table == table and p.row == len(t[table])]


@pytest.mark.parametrize(
    ("date", "codes"),
    [
        ("2024-03-25", []),  # today
        ("2024-03-26", []),  # today + tolerance (1 day): still accepted
        ("2024-03-27", ["range"]),  # one day past the tolerance
        ("2030-01-01", ["range"]),  # the year typed wrong
    ],
)
def test_a_lab_dated_after_today_plus_tolerance_is_refused(date: str, codes: list[str]) -> None:
    found = _problems("labs", _lab(date=date))
    assert [p.code for p in found] == codes
    if codes:
        assert found[0].column == "date"
        assert "no later than 2024-03-26" in found[0].expected
        assert "future" in found[0].expected


def test_the_tolerance_is_a_setting() -> None:
    assert _problems("labs", _lab(date="2024-03-25"), future_tolerance_days=0) == []
    assert [
        p.code for p in _problems("labs", _lab(date="2024-03-26"), future_tolerance_days=0)
    ] == ["range"]


def test_without_a_clock_future_dates_are_not_judged() -> None:
    # a bundled or archived dataset is validated without today
    assert _problems("labs", _lab(date="2030-01-01"), today=None) == []


def test_a_study_day_alone_is_judged_by_the_date_it_stands_for() -> None:
    # D1 2024-03-08: day 19 = 2024-03-26 (today + 1, accepted), day 20 = 2024-03-27 (refused)
    assert _problems("labs", _lab(study_day="19")) == []
    found = _problems("labs", _lab(study_day="20"))
    assert [(p.column, p.value, p.code) for p in found] == [("study_day", 20, "range")]
    assert "= 2024-03-27 for D1 2024-03-08" in found[0].expected


@pytest.mark.parametrize(
    ("date", "codes"),
    [
        # diagnosis 2024-03-01, limit 90 days: 2023-12-02 is the earliest date accepted
        ("2023-12-02", []),
        ("2023-12-01", ["range"]),
        ("2019-05-01", ["range"]),
    ],
)
def test_a_lab_long_before_diagnosis_is_refused(date: str, codes: list[str]) -> None:
    found = _problems("labs", _lab(date=date, timepoint="diagnosis"))
    assert [p.code for p in found] == codes
    if codes:
        assert "90 days before the patient's diagnosis on 2024-03-01" in found[0].expected


def test_a_long_standing_medicine_may_start_years_before_diagnosis() -> None:
    med = {"patient_id": "A1", "drug": "amlodipine", "start_date": "2015-01-01"}
    assert _problems("concomitant_medications", med) == []


def test_a_date_and_a_study_day_that_disagree_with_d1_are_refused() -> None:
    # the case: D1 2026-12-01, date 2026-12-06 (day 6) recorded as day 2
    t = copy.deepcopy(base())
    t["treatment_courses"][0].update(start_date="2026-12-01", end_date="2026-12-14")
    t["patients"][0].update(diagnosis_date="2026-11-20", enrolment_date="2026-11-25")
    t["labs"].append(_lab(date="2026-12-06", study_day="2"))
    _, problems = validate_tables(t)
    assert [(p.table, p.column, p.value, p.code) for p in problems] == [
        ("labs", "study_day", 2, "consistency")
    ]
    assert "study day 6" in problems[0].expected
    t["labs"][-1]["study_day"] = "6"
    assert validate_tables(t)[1] == []


@pytest.mark.parametrize(
    ("table", "row", "column"),
    [
        (
            "dose_administrations",
            {
                "patient_id": "A1",
                "course_id": "IND",
                "agent": "venetoclax",
                "dose": "200",
                "dose_unit": "mg",
                "date_start": "2024-03-09",
                "date_end": "2024-03-30",
                "status": "given",
            },
            "date_end",
        ),
        ("vitals", {"patient_id": "A1", "date": "2024-04-01", "temperature_c": "38.5"}, "date"),
        (
            "neuro_assessments",
            {"patient_id": "A1", "study_day": "40", "ice_score": "8"},
            "study_day",
        ),
        (
            "marrow_assessments",
            {"patient_id": "A1", "timepoint": "follow_up", "date": "2025-03-08"},
            "date",
        ),
        (
            "adverse_events",
            {"patient_id": "A1", "term": "Anemia", "onset_date": "2024-06-01"},
            "onset_date",
        ),
        (
            "transfusions",
            {
                "patient_id": "A1",
                "product": "platelets",
                "amount": "1",
                "amount_unit": "unit",
                "date": "2024-12-01",
            },
            "date",
        ),
        ("follow_up_events", {"patient_id": "A1", "event": "hsct", "date": "2024-09-01"}, "date"),
    ],
)
def test_every_dated_table_refuses_the_future(table: str, row: dict[str, Any], column: str) -> None:
    found = _problems(table, row)
    assert [(p.column, p.code) for p in found] == [(column, "range")]


def test_derived_day_and_date_never_invent() -> None:
    assert derive_study_day(dt.date(2024, 3, 8), D1) == 1
    assert derive_study_day(dt.date(2024, 3, 7), D1) == 0
    assert derive_date(6, D1) == dt.date(2024, 3, 13)
    date, day, note = complete_when({"date": dt.date(2024, 3, 13)}, "date", "study_day", D1)
    assert (date, day) == (dt.date(2024, 3, 13), 6)
    assert note == "study_day 6 derived from date 2024-03-13 and D1 2024-03-08"
    date, day, note = complete_when({"study_day": 6}, "date", "study_day", None)
    assert (date, day) == (None, 6)
    assert note == "date cannot be derived: the patient has no induction D1 date"
    date, day, note = complete_when({"date": D1}, "date", "study_day", None)
    assert day is None
    assert "study_day cannot be derived" in note


def test_limits_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="future_tolerance_days"):
        DateLimits(future_tolerance_days=-1)
