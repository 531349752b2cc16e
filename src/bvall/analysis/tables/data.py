"""What the study tables are built from: a cohort with its derivations, per patient.

:func:`collect_study_data` runs the criteria engine once per derivation (``endpoints``,
``worst_grades``, ``response``, ``crs``, ``icans``, ``tls``, ``risk``) and keeps the results as
pandas frames beside the cohort. Every table builder reads this one bundle, so a table never
derives anything twice and all tables of an analysis rest on the same derivation.

The derivations are per patient (a patient's endpoints depend on that patient's records only),
so :meth:`StudyData.restrict` gives the same frames as deriving a subset cohort, without paying
the engine's compile time again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import pyarrow as pa

from bvall.cohort.model import Cohort
from bvall.cohort.vocab import vocabulary
from bvall.criteria import CriteriaSettings, derive
from bvall.criteria.rules import RULE_FILES

#: The derivations a study analysis reads.
DERIVED = ("endpoints", "worst_grades", "response", "crs", "icans", "tls", "risk")

#: Criteria files behind those derivations (``bvall/criteria/data/<file>.toml``): every one
#: but eligibility, which decides who enters the study, not a value in its tables.
CRITERIA_FILES = tuple(f for f in RULE_FILES if f != "eligibility")


def is_missing(value: Any) -> bool:
    """None, NaN and pandas' NA are missing."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def present(value: Any) -> Any:
    """``value`` with every kind of missing turned into ``None`` (numpy scalars to Python)."""
    if is_missing(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


@dataclass(frozen=True)
class StudyData:
    """A cohort and its derivations as frames (one per name in :data:`DERIVED`).

    ``derived[name]`` has the columns of ``derive(cohort, name)``; ``endpoints`` is indexed by
    ``patient_id``. ``arms`` lists (arm code, patient ids) in vocabulary order, every arm of the
    vocabulary included even when no patient is in it.
    """

    cohort: Cohort
    settings: CriteriaSettings
    derived: dict[str, pd.DataFrame]

    @property
    def patient_ids(self) -> list[str]:
        return self.cohort.patient_ids

    @property
    def endpoints(self) -> pd.DataFrame:
        return self.derived["endpoints"]

    def frame(self, name: str) -> pd.DataFrame:
        return self.derived[name]

    @property
    def arms(self) -> list[tuple[str, list[str]]]:
        patients = self.cohort.frame("patients")
        arm_of = dict(zip(patients["patient_id"], patients["arm"], strict=True))
        return [
            (term.code, [p for p in self.patient_ids if arm_of.get(p) == term.code])
            for term in vocabulary("arm").terms
        ]

    def columns(self) -> list[tuple[str, list[str]]]:
        """The table columns: (header, patient ids) for all patients, then each arm.

        Patients without an arm are counted in "All" only.
        """
        ids = self.patient_ids
        out = [(f"All (N={len(ids)})", ids)]
        for code, members in self.arms:
            out.append((f"{code.capitalize()} (n={len(members)})", members))
        return out

    def restrict(self, patient_ids: Iterable[str]) -> StudyData:
        """The same data for a subset of patients (see the module docstring)."""
        cohort = self.cohort.subset(patient_ids)
        keep = set(cohort.patient_ids)
        derived = {}
        for name, frame in self.derived.items():
            if name == "endpoints":
                derived[name] = frame.loc[[p for p in frame.index if p in keep]]
            else:
                derived[name] = frame[frame["patient_id"].isin(keep)].reset_index(drop=True)
        return replace(self, cohort=cohort, derived=derived)


def _frame(table: pa.Table) -> pd.DataFrame:
    # Object columns keep None for missing booleans and strings instead of NaN.
    return table.to_pandas(date_as_object=True, types_mapper=None)


def collect_study_data(cohort: Cohort, settings: CriteriaSettings | None = None) -> StudyData:
    """Derive everything the study tables need from ``cohort`` (criteria ``settings``)."""
    settings = settings or CriteriaSettings()
    derived = {name: _frame(derive(cohort, name, settings=settings)) for name in DERIVED}
    derived["endpoints"] = derived["endpoints"].set_index("patient_id", drop=False)
    return StudyData(cohort=cohort, settings=settings, derived=derived)


#: Codes of ``cir_status``: censored, relapse, death without relapse (competing).
CIR_CODES = {"censored": 0, "relapse": 1, "death": 2}


def compute_cir_status(rfs_event: Any, relapse: Any) -> int | None:
    """Competing-risk code of one patient's RFS record: 1 relapse, 2 death without relapse
    (competing), 0 censored; ``None`` when the RFS event itself is missing."""
    if is_missing(rfs_event):
        return None
    if not bool(rfs_event):
        return CIR_CODES["censored"]
    return CIR_CODES["relapse"] if bool(present(relapse)) else CIR_CODES["death"]


def derive_survival_data(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """Per patient: ``patient_id``, ``arm``, ``os_days``, ``os_event``, ``rfs_days``,
    ``rfs_event`` and ``cir_status`` (0 censored, 1 relapse, 2 death without relapse), from
    ``derive(cohort, "endpoints")``. Days count from D1 (OS) or from the first CR (RFS, CIR);
    a patient without follow-up has them missing (never 0)."""
    e = derive(cohort, "endpoints", settings=settings)
    rows = e.select(
        ["patient_id", "arm", "os_days", "os_event", "rfs_days", "rfs_event", "relapse"]
    ).to_pylist()
    status = [compute_cir_status(r["rfs_event"], r["relapse"]) for r in rows]
    return pa.table(
        {
            "patient_id": pa.array([r["patient_id"] for r in rows], pa.string()),
            "arm": pa.array([r["arm"] for r in rows], pa.string()),
            "os_days": pa.array([r["os_days"] for r in rows], pa.int64()),
            "os_event": pa.array([r["os_event"] for r in rows], pa.bool_()),
            "rfs_days": pa.array([r["rfs_days"] for r in rows], pa.int64()),
            "rfs_event": pa.array([r["rfs_event"] for r in rows], pa.bool_()),
            "cir_status": pa.array(status, pa.int64()),
        }
    )
