"""Small cohorts for criteria tests: one patient per scenario, built from row dicts."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from bvall.cohort import Cohort

D1 = dt.date(2024, 6, 1)


class Builder:
    """Collects rows per table; :meth:`cohort` validates them into a Cohort."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def patient(
        self,
        pid: str,
        *,
        arm: str = "concurrent",
        blin: bool = True,
        d1: dt.date = D1,
        **extra: Any,
    ) -> str:
        self.rows["patients"].append(
            {"patient_id": pid, "sex": "M", "age_years": 50, "arm": arm, **extra}
        )
        self.rows["treatment_courses"].append(
            {
                "patient_id": pid,
                "course_id": "IND",
                "course_type": "induction",
                "regimen": f"bv-{arm}",
                "course_number": 1,
                "start_date": d1,
            }
        )
        if blin:
            start = 1 if arm == "concurrent" else 8
            for first, last, dose in ((start, start + 6, 9.0), (start + 7, start + 13, 28.0)):
                self.dose(pid, "blinatumomab", dose, "µg/day", first, last, route="CIV")
        return pid

    def dose(
        self,
        pid: str,
        agent: str,
        dose: float,
        unit: str,
        first: int,
        last: int,
        route: str = "IV",
        course: str = "IND",
    ) -> None:
        self.rows["dose_administrations"].append(
            {
                "patient_id": pid,
                "course_id": course,
                "agent": agent,
                "dose": dose,
                "dose_unit": unit,
                "route": route,
                "study_day_start": first,
                "study_day_end": last,
                "status": "given",
            }
        )

    def add(self, table: str, **row: Any) -> None:
        self.rows[table].append(row)

    def vital(self, pid: str, day: int, time: str, temperature_c: float = 36.8, **kw: Any) -> None:
        row = {
            "patient_id": pid,
            "study_day": day,
            "time": time,
            "temperature_c": temperature_c,
            "sbp_mmhg": 120.0,
            "oxygen_device": "room_air",
        }
        row.update(kw)
        self.rows["vitals"].append(row)

    def lab(
        self,
        pid: str,
        test: str,
        day: int,
        value: float,
        unit: str,
        low: float | None = None,
        high: float | None = None,
        time: str = "06:00",
        **kw: Any,
    ) -> None:
        self.rows["labs"].append(
            {
                "patient_id": pid,
                "test": test,
                "study_day": day,
                "time": time,
                "value": value,
                "unit": unit,
                "ref_low": low,
                "ref_high": high,
                **kw,
            }
        )

    def cohort(self, **metadata: Any) -> Cohort:
        return Cohort.from_tables(dict(self.rows), {"name": "scenarios", **metadata})
