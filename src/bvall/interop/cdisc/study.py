"""A cohort seen as one CDISC study: identifiers, reference dates, study days and the criteria
engine's derivations, each derived once per export.

Study days: bvall counts D1 = 1 with day 0 = the day before D1 (plain subtraction); SDTM has no
day 0 (SDTMIG 3.4 §4.4.4: --DY = date − RFSTDTC + 1 on or after RFSTDTC, date − RFSTDTC before),
so :func:`sdtm_day` maps bvall day ``d`` ≤ 0 to ``d − 1``. ADaM ``ADY``/``ASTDY`` keep the bvall
day, the one the analysis tables count with (documented in define.xml).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bvall.cohort.model import Cohort
from bvall.cohort.vocab import vocabulary
from bvall.criteria import CriteriaSettings, derive
from bvall.errors import InputError

#: SAS dates count days from this day.
SAS_EPOCH = dt.date(1960, 1, 1)


def is_missing(v: Any) -> bool:
    """None, NaN, NaT and pandas' NA are missing."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def sdtm_day(day: Any) -> int | None:
    """The SDTM study day of a bvall study day (no day 0; see the module docstring)."""
    if is_missing(day):
        return None
    d = int(day)
    return d if d >= 1 else d - 1


def iso_dtc(date: Any, time: Any = None) -> str:
    """ISO 8601 ``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm``; ``""`` when the date is missing."""
    if is_missing(date):
        return ""
    text = pd.Timestamp(date).date().isoformat()
    if not is_missing(time) and str(time):
        text += f"T{time}"
    return text


def sas_date(date: Any) -> float:
    """Days since 1960-01-01 (a SAS date), NaN when missing."""
    if is_missing(date):
        return math.nan
    return float((pd.Timestamp(date).date() - SAS_EPOCH).days)


def yes(flag: Any) -> str:
    """``"Y"`` for true, ``"N"`` for false, ``""`` for missing (SDTM/ADaM flag convention)."""
    if is_missing(flag):
        return ""
    return "Y" if bool(flag) else "N"


@dataclass
class Study:
    """The cohort of one export with its study id and cached derivations.

    ``d1`` maps a patient to the start date of the first induction course (RFSTDTC, TRTSDT);
    ``derived(name)`` returns ``derive(cohort, name)`` as a pandas frame, computed once.
    """

    cohort: Cohort
    study_id: str
    settings: CriteriaSettings = field(default_factory=CriteriaSettings)
    _derived: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.study_id or len(self.study_id) > 200 or not self.study_id.isascii():
            raise InputError(
                f"Study id {self.study_id!r} must be 1-200 ASCII characters (STUDYID)."
            )
        courses = self.frame("treatment_courses")
        ind = courses[(courses["course_type"] == "induction") & courses["start_date"].notna()]
        self.d1: dict[str, dt.date] = {
            str(p): min(g["start_date"]) for p, g in ind.groupby("patient_id", sort=True)
        }
        arm_terms = {t.code: t.label for t in vocabulary("arm").terms}
        self.arm_label = arm_terms

    @property
    def synthetic(self) -> bool:
        return bool(self.cohort.metadata.synthetic)

    def usubjid(self, patient_id: Any) -> str:
        return f"{self.study_id}-{patient_id}"

    def frame(self, table: str) -> pd.DataFrame:
        """A cohort table as pandas (dates as ``datetime.date``), read once."""
        if table not in self._frames:
            self._frames[table] = self.cohort.frame(table)
        return self._frames[table]

    def derived(self, name: str) -> pd.DataFrame:
        """``derive(cohort, name)`` as pandas (missing booleans stay ``None``), derived once."""
        if name not in self._derived:
            table = derive(self.cohort, name, settings=self.settings)
            self._derived[name] = table.to_pandas(date_as_object=True)
        return self._derived[name]

    def date_of_day(self, patient_id: Any, day: Any) -> dt.date | None:
        """The calendar date of bvall study ``day`` (D1 + day − 1), when D1 is dated."""
        d1 = self.d1.get(str(patient_id))
        if d1 is None or is_missing(day):
            return None
        return d1 + dt.timedelta(days=int(day) - 1)

    def day_of_date(self, patient_id: Any, date: Any) -> int | None:
        """The bvall study day of ``date`` (date − D1 + 1), when D1 is dated."""
        d1 = self.d1.get(str(patient_id))
        if d1 is None or is_missing(date):
            return None
        return (pd.Timestamp(date).date() - d1).days + 1

    def bvall_day(self, patient_id: Any, day: Any, date: Any) -> int | None:
        """The recorded study day, else the one computed from the date (the engine's rule)."""
        if not is_missing(day):
            return int(day)
        return self.day_of_date(patient_id, date)


def add_sequence(frame: pd.DataFrame, column: str, order: list[str]) -> pd.DataFrame:
    """Sort by ``order`` and number the records of each ``USUBJID`` from 1 in ``column``."""
    if frame.empty:
        frame[column] = pd.Series(dtype="float64")
        return frame
    sort = frame.sort_values(order, kind="stable", na_position="first").reset_index(drop=True)
    sort[column] = sort.groupby("USUBJID").cumcount() + 1
    return sort


def records(frame: pd.DataFrame) -> Iterator[Any]:
    """The rows of ``frame`` as named tuples (attributes typed ``Any``: cohort tables are
    checked by their schema, not by the type checker)."""
    return iter(frame.itertuples(index=False))


def rule_ref(rule_id: Any, rule_version: Any) -> str:
    """``<rule id>@<version>`` of a derived row (``rule_version`` is ``<file>@<version>``)."""
    if is_missing(rule_version):
        return "" if is_missing(rule_id) else str(rule_id)
    file, _, version = str(rule_version).partition("@")
    return f"{file if is_missing(rule_id) else rule_id}@{version}"
