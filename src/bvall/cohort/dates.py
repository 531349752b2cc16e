"""Dates of cohort records checked against today, the diagnosis and the patient's D1.

Pure functions: ``today`` is an argument, read from the clock only at the edges (the store's
write path, imports, the API, ``bvall cohort validate``). Study days count from D1, the first day
of the patient's (earliest) induction course: D1 = 1, the day before = 0 (see
:mod:`bvall.cohort.schema`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from bvall.cohort.problems import Problem


@dataclass(frozen=True)
class DateLimits:
    """How far a recorded date may lie from today and from the diagnosis (named settings).

    ``future_tolerance_days``: a measurement, dose or event may be dated at most this many days
    after today. Default 1: a value drawn this morning at a site whose clock is ahead of the
    server's is dated "tomorrow" in server time; a day covers every time zone, and anything later
    is a typed-in year or month, not an observation.

    ``before_diagnosis_days``: how long before the patient's diagnosis date a record may lie.
    Default 90: the referral blood count, an outside marrow or the work-up can precede the
    confirmed diagnosis by weeks; a quarter of a year covers them and still catches a wrong year,
    the commonest slip. Concomitant medicines' start dates are exempt (a long-standing medicine
    may have been started years before).
    """

    future_tolerance_days: int = 1
    before_diagnosis_days: int = 90

    def __post_init__(self) -> None:
        for name in ("future_tolerance_days", "before_diagnosis_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"DateLimits.{name} must be a whole number of days ≥ 0, got {value!r}"
                )


#: Tables whose rows carry a date and (or) a study day: (date column, study-day column) pairs.
#: Treatment courses are left out: a course may be planned ahead, and its start is D1 itself.
DATED_COLUMNS: dict[str, tuple[tuple[str | None, str | None], ...]] = {
    "patients": (("diagnosis_date", None), ("enrolment_date", None)),
    "dose_administrations": (("date_start", "study_day_start"), ("date_end", "study_day_end")),
    "concomitant_medications": (("start_date", "start_day"), ("end_date", "end_day")),
    "labs": (("date", "study_day"),),
    "vitals": (("date", "study_day"),),
    "neuro_assessments": (("date", "study_day"),),
    "marrow_assessments": (("date", "study_day"),),
    "adverse_events": (("onset_date", "onset_day"), ("resolution_date", "resolution_day")),
    "transfusions": (("date", "study_day"),),
    "follow_up_events": (("date", "study_day"),),
}

#: Columns whose date may lie any time before the diagnosis (see :class:`DateLimits`).
_ANY_TIME_BEFORE = {("concomitant_medications", "start_date"), ("patients", "diagnosis_date")}


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def derive_study_day(date: dt.date, d1: dt.date) -> int:
    """Study day of ``date`` for induction start ``d1`` (D1 = 1, the day before = 0)."""
    return (date - d1).days + 1


def derive_date(study_day: int, d1: dt.date) -> dt.date:
    """Calendar date of ``study_day`` for induction start ``d1`` (inverse of
    :func:`derive_study_day`)."""
    return d1 + dt.timedelta(days=study_day - 1)


def derive_d1(courses: pa.Table) -> dict[str, dt.date]:
    """Each patient's D1: the earliest start date of an induction course (as the criteria engine
    reads it); patients without a dated induction course have none."""
    out: dict[str, dt.date] = {}
    for pid, ctype, start in zip(
        courses.column("patient_id").to_pylist(),
        courses.column("course_type").to_pylist(),
        courses.column("start_date").to_pylist(),
        strict=True,
    ):
        if ctype == "induction" and pid is not None and start is not None:
            out[pid] = min(start, out.get(pid, start))
    return out


def complete_when(
    row: Mapping[str, Any], date_col: str, day_col: str, d1: dt.date | None
) -> tuple[dt.date | None, int | None, str]:
    """The date and study day of a record, one derived from the other when only one is given.

    Returns ``(date, study_day, note)``: ``note`` says what was derived and from what, or why it
    could not be ("the patient has no induction D1"); nothing is invented. Typed values expected.
    """
    date, day = row.get(date_col), row.get(day_col)
    if date is not None and day is None:
        if d1 is None:
            return date, None, f"{day_col} cannot be derived: the patient has no induction D1 date"
        day = derive_study_day(date, d1)
        return date, day, f"{day_col} {day} derived from {date_col} {date} and D1 {d1}"
    if day is not None and date is None:
        if d1 is None:
            return None, day, f"{date_col} cannot be derived: the patient has no induction D1 date"
        date = derive_date(day, d1)
        return date, day, f"{date_col} {date} derived from {day_col} {day} and D1 {d1}"
    return date, day, ""


def check_dates(
    tables: Mapping[str, pa.Table],
    *,
    today: dt.date | None,
    limits: DateLimits = DateLimits(),
    files: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Problems with the dates of typed cohort tables (pure: ``today`` is an argument).

    * a date (given, or derived from the study day and the patient's D1) after
      ``today + limits.future_tolerance_days`` (skipped when ``today`` is None: a bundled or
      archived dataset is checked without a clock);
    * a date more than ``limits.before_diagnosis_days`` before the patient's diagnosis date;
    * a date and a study day that disagree with the patient's D1 (earliest induction start).
    """
    files = files or {}
    d1 = derive_d1(tables["treatment_courses"])
    patients = tables["patients"]
    diagnosis = {
        pid: d
        for pid, d in zip(
            patients.column("patient_id").to_pylist(),
            patients.column("diagnosis_date").to_pylist(),
            strict=True,
        )
        if d is not None
    }
    latest = None if today is None else today + dt.timedelta(days=limits.future_tolerance_days)
    problems: list[Problem] = []
    for name, pairs in DATED_COLUMNS.items():
        t = tables[name]
        if t.num_rows == 0:
            continue
        pids = t.column("patient_id").to_pylist()
        for date_col, day_col in pairs:
            dates = t.column(date_col).to_pylist() if date_col else [None] * t.num_rows
            days = t.column(day_col).to_pylist() if day_col else [None] * t.num_rows
            for i, (pid, date, day) in enumerate(zip(pids, dates, days, strict=True)):
                start = d1.get(pid)
                column, value, when = date_col, date, date
                if date is None and day is not None and start is not None:
                    column, value, when = day_col, day, derive_date(day, start)
                if date is not None and day is not None and start is not None:
                    expected_day = derive_study_day(date, start)
                    if day != expected_day:
                        problems.append(
                            Problem(
                                name,
                                i + 1,
                                day_col,
                                day,
                                f"study day {expected_day}, the day of {date_col} {date} for "
                                f"the patient's D1 {start} (correct the date or the day, or give "
                                "only one)",
                                "consistency",
                                files.get(name),
                            )
                        )
                if when is None:
                    continue
                shown = "" if column == date_col else f" (= {when} for D1 {start})"
                if latest is not None and when > latest:
                    problems.append(
                        Problem(
                            name,
                            i + 1,
                            column,
                            value,
                            f"a date no later than {latest} (today {today} + "
                            f"{_days(limits.future_tolerance_days)} tolerance){shown}: a record "
                            "cannot be dated in the future; check the year and month",
                            "range",
                            files.get(name),
                        )
                    )
                dx = diagnosis.get(pid)
                if dx is None or (name, date_col) in _ANY_TIME_BEFORE:
                    continue
                earliest = dx - dt.timedelta(days=limits.before_diagnosis_days)
                if when < earliest:
                    problems.append(
                        Problem(
                            name,
                            i + 1,
                            column,
                            value,
                            f"a date on or after {earliest} ({limits.before_diagnosis_days} days "
                            f"before the patient's diagnosis on {dx}){shown}; check the year",
                            "range",
                            files.get(name),
                        )
                    )
    return problems
