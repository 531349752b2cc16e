"""The derivations by name: each runs its compiled plan (:mod:`bvall.criteria.plans`).

Their queries (the Ibis expressions a plan is built from) live beside the rules they evaluate
(``grades_query`` in :mod:`bvall.criteria.grades`, ...); this module imports none of them, so
deriving through a plan already built never imports Ibis.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from bvall.cohort.model import Cohort
from bvall.criteria.plans import (
    BACKENDS,
    QUERIES,
    PlanError,
    derive_planned,
    load_plan,
    plan_features,
)
from bvall.criteria.settings import CriteriaSettings


def derive_grades(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """Every lab value graded against its CTCAE v5.0 terms, and every febrile neutropenia and
    reported lung infection graded from observations; one row per value (or event) and term.

    ``grade`` is the grade the evaluable criteria make certain, NULL when the value is not
    gradable (``reason`` says why); ``grade_max`` the highest grade still possible when some
    criteria could not be evaluated (a missing baseline), else equal to ``grade``. Tables count
    the certain grade.
    """
    return derive_planned(cohort, "grades", settings)


def derive_worst_grades(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """Worst grade per patient and term during induction (D1 to the day before the next course,
    at most ``induction_max_day``), derived from observations when they exist, else reported."""
    return derive_planned(cohort, "worst_grades", settings)


def derive_crs(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """CRS episodes of every patient (ASTCT 2019), one row per episode, ordered by patient."""
    return derive_planned(cohort, "crs", settings)


def derive_icans(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """ICANS episodes of every patient (ASTCT 2019, adults), one row per episode."""
    return derive_planned(cohort, "icans", settings)


def derive_tls(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """Laboratory and clinical TLS per patient (criteria set: ``settings.tls_criteria``)."""
    return derive_planned(cohort, "tls", settings)


def derive_response(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """NCCN response and MRD status of every marrow assessment after diagnosis."""
    return derive_planned(cohort, "response", settings)


def derive_risk(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """NCCN B-ALL cytogenetic/molecular risk group of every patient."""
    return derive_planned(cohort, "risk", settings)


def derive_endpoints(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """Per-patient endpoints (columns :data:`ENDPOINT_COLUMNS`), derived from raw data where
    they exist, else taken from reported values, else missing (see :mod:`bvall.criteria.endpoints`)."""
    return derive_planned(cohort, "endpoints", settings)


def derive_eligibility(cohort: Cohort, settings: CriteriaSettings | None = None) -> pa.Table:
    """The seed paper's inclusion and exclusion criteria evaluated for every patient."""
    return derive_planned(cohort, "eligibility", settings)


def write_derivation(
    cohort: Cohort,
    what: str,
    out: Path,
    *,
    settings: CriteriaSettings | None = None,
    engine: str = "duckdb",
) -> Path:
    """Derive ``what`` on ``engine`` and write it as Parquet files into ``out/<what>/``: one
    file from DuckDB; from Spark one file per hash partition of ``patient_id`` (each patient's
    rows in one file). Both with the derivation's column types."""
    if engine not in BACKENDS:
        raise PlanError(f"No engine {engine!r}; choose one of: {', '.join(BACKENDS)}.")
    if what not in QUERIES:
        raise PlanError(f"No derivation {what!r}; choose from: {', '.join(QUERIES)}.")
    folder = Path(out) / what
    if engine == "spark":
        from bvall.criteria import spark

        plan = load_plan(what, plan_features(cohort), settings, "spark")
        return spark.write_parquet(plan, cohort, folder)
    import pyarrow.parquet as pq

    table = derive_planned(cohort, what, settings)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    pq.write_table(table, folder / "part-00000.parquet")
    return folder
