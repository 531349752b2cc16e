"""Small hand-made cohorts for the claims-audit tests (every value visible in the test)."""

from __future__ import annotations

from typing import Any

from bvall.cohort import Cohort


def patients(*specs: tuple[str, str, int, str]) -> list[dict[str, Any]]:
    """(id, sex, age, arm) tuples as patient rows."""
    return [{"patient_id": p, "sex": s, "age_years": str(a), "arm": arm} for p, s, a, arm in specs]


def ambiguous(table: str, pid: str, record: str, column: str, readings: str) -> dict[str, Any]:
    return {
        "table_name": table,
        "patient_id": pid,
        "record": record,
        "column_name": column,
        "source": "test",
        "location": f"Table X, {pid}",
        "printed": "??",
        "status": "ambiguous",
        "readings": readings,
    }


def cohort(**tables: list[dict[str, Any]]) -> Cohort:
    return Cohort.from_tables(tables, {"name": "test"})
