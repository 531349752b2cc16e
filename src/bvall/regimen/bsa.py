"""Body surface area (m²) from weight (kg) and height (cm).

| formula     | equation                                   | reference                                       |
|-------------|--------------------------------------------|-------------------------------------------------|
| mosteller   | √(H × W / 3600)                            | Mosteller RD. N Engl J Med 1987;317:1098         |
| dubois      | 0.007184 × W^0.425 × H^0.725               | Du Bois D, Du Bois EF. Arch Intern Med 1916;17:863 |

Mosteller is the default for oncology dosing (CLINICAL.md 7.1). Rounding is an institutional
choice: the planner rounds once, before any dose is computed, and never again.
"""

from __future__ import annotations

import math

from bvall.errors import InputError, UnknownNameError, suggest

BSA_FORMULAS = {
    "mosteller": "Mosteller RD. N Engl J Med 1987;317:1098",
    "dubois": "Du Bois D, Du Bois EF. Arch Intern Med 1916;17:863-71",
}

#: Adult ranges accepted by the planner; values outside them are almost always entry errors
#: (grams for kilograms, metres or inches for centimetres).
WEIGHT_RANGE_KG = (2.0, 400.0)
HEIGHT_RANGE_CM = (40.0, 250.0)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_weight(weight_kg: float) -> None:
    """Reject a weight outside the accepted range, quoting the value."""
    lo, hi = WEIGHT_RANGE_KG
    if not _number(weight_kg) or not lo <= weight_kg <= hi:
        raise InputError(
            f"weight {weight_kg!r} kg is not accepted; expected a body weight in kilograms from "
            f"{lo:g} to {hi:g} kg."
        )


def check_height(height_cm: float) -> None:
    """Reject a height outside the accepted range, quoting the value."""
    lo, hi = HEIGHT_RANGE_CM
    if not _number(height_cm) or not lo <= height_cm <= hi:
        raise InputError(
            f"height {height_cm!r} cm is not accepted; expected a height in centimetres from "
            f"{lo:g} to {hi:g} cm."
        )


def check_body_size(weight_kg: float, height_cm: float) -> None:
    """Reject a weight or height outside the accepted ranges, quoting the value."""
    check_weight(weight_kg)
    check_height(height_cm)


def compute_bsa(
    weight_kg: float, height_cm: float, formula: str = "mosteller", *, decimals: int | None = None
) -> float:
    """Body surface area in m² by ``formula`` (``mosteller`` or ``dubois``).

    ``decimals`` rounds the result (half away from zero is not used: Python rounds half to even,
    which matters only at exact ties of the last digit); ``None`` returns the unrounded value.
    """
    check_body_size(weight_kg, height_cm)
    if formula == "mosteller":
        bsa = math.sqrt(height_cm * weight_kg / 3600.0)
    elif formula == "dubois":
        bsa = 0.007184 * weight_kg**0.425 * height_cm**0.725
    else:
        names = list(BSA_FORMULAS)
        raise UnknownNameError(
            f"BSA formula {formula!r} is not known{suggest(formula, names)} "
            f"Accepted: {', '.join(names)}."
        )
    if decimals is not None:
        if not isinstance(decimals, int) or not 0 <= decimals <= 4:
            raise InputError(f"BSA decimals {decimals!r}; expected a whole number from 0 to 4.")
        bsa = round(bsa, decimals)
    return bsa


def format_bsa(bsa_m2: float, decimals: int | None) -> str:
    """BSA as written on an order: with its rounding's decimals (1.70, not 1.7)."""
    return f"{bsa_m2:.{decimals}f}" if decimals is not None else f"{bsa_m2:.4g}"
