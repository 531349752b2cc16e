"""The planned doses of the example cohort, day by day.

:func:`planned_doses` is the one place the generator turns an arm into doses. It follows the seed
paper's schedules (the bv-concurrent / bv-sequential regimens) and returns the same shape as the
regimen planner's plan (``bvall.regimen.plan_regimen(regimen, *, start, weight_kg, height_cm,
inhibitors=(), dex_days=5)`` -> ``Plan.days[*].doses``, each with agent, dose, unit, route), so
that it can be replaced by a call to the planner:

    plan = plan_regimen(f"bv-{arm}", start=d1, weight_kg=weight_kg, height_cm=height_cm,
                        dex_days=dex_days)
    return [PlannedDose(day.day, d.agent, d.dose, d.unit, d.route)
            for day in plan.days for d in day.doses if d.dose is not None]

Schedules (seed paper, Treatment; CLINICAL.md 0, 3.4, 6.1): pre-phase dexamethasone 10 mg daily
for ``dex_days`` days ending the day before D1; allopurinol 300 mg daily from 2 days before the
pre-phase for 12 days; IV hydration 2000 mL/m²/day (Mosteller BSA, 2 decimals) from the first
pre-phase day to D7; venetoclax 100 mg D1, 200 mg D2, 300 mg D3, 400 mg D4-D14; blinatumomab
9 µg/day D1-D7 then 28 µg/day D8-D14 (concurrent) or 9 µg/day D8-D14 then 28 µg/day D15-D21
(sequential). Every example patient weighs >= 45 kg, so blinatumomab is a fixed dose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bvall.errors import InputError


@dataclass(frozen=True)
class PlannedDose:
    """One agent's dose on one study day."""

    day: int
    agent: str
    dose: float
    unit: str
    route: str


def _venetoclax(day: int) -> float:
    return {1: 100.0, 2: 200.0, 3: 300.0}.get(day, 400.0)


def planned_doses(
    arm: str, *, weight_kg: float, height_cm: float, dex_days: int
) -> list[PlannedDose]:
    """Every planned dose of the BV induction of one patient (see the module docstring)."""
    if arm not in ("concurrent", "sequential"):
        raise InputError(f"arm {arm!r} is not known; expected 'concurrent' or 'sequential'.")
    if weight_kg < 45:
        raise InputError(
            f"weight {weight_kg} kg is below 45 kg: blinatumomab would be dosed by BSA; the "
            "example cohort only models fixed-dose patients."
        )
    if not 3 <= dex_days <= 5:
        raise InputError(f"dex_days {dex_days} is outside the seed paper's 3-5 days.")
    bsa = round(math.sqrt(height_cm * weight_kg / 3600.0), 2)
    first_dex = 1 - dex_days
    out: list[PlannedDose] = []
    for day in range(first_dex, 1):
        out.append(PlannedDose(day, "dexamethasone", 10.0, "mg", "PO"))
    for day in range(first_dex - 2, first_dex + 10):
        out.append(PlannedDose(day, "allopurinol", 300.0, "mg", "PO"))
    for day in range(first_dex, 8):
        out.append(PlannedDose(day, "iv_hydration", round(2000.0 * bsa), "mL/day", "IV"))
    for day in range(1, 15):
        out.append(PlannedDose(day, "venetoclax", _venetoclax(day), "mg", "PO"))
    start = 1 if arm == "concurrent" else 8
    for day in range(start, start + 14):
        out.append(
            PlannedDose(day, "blinatumomab", 9.0 if day < start + 7 else 28.0, "µg/day", "CIV")
        )
    return sorted(out, key=lambda d: (d.day, d.agent))
