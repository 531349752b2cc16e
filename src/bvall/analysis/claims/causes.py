"""Probable causes of a disagreement between a printed number and the recomputed one.

Each helper looks for one kind of explanation and returns sentences (empty when it finds
none). They know nothing about any particular paper: they compare digits, denominators,
rounding, units, subsets of patients and alternative methods.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from bvall.stats.plausibility import compute_fraction_candidates, parse_printed


def printed_decimals(text: Any) -> int:
    return parse_printed(text)[2]


def agrees(printed: Any, value: float) -> bool:
    """Whether ``value`` prints as ``printed`` (within half a unit of its last digit)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    low, high, _ = parse_printed(printed)
    v = Fraction(value) if not isinstance(value, Fraction) else value
    # floating noise in the recomputed value must not decide a boundary case
    eps = Fraction(1, 10**9)
    return low - eps <= v <= high + eps


def fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def digit_slip(printed: Any, value: float) -> str | None:
    """ "one digit differs" / "two digits transposed" between the printed and recomputed value."""
    decimals = printed_decimals(printed)
    shown = str(printed).strip().rstrip("%").strip()
    expected = fmt(value, decimals)
    if len(shown) != len(expected) or shown == expected:
        return None
    diff = [i for i, (a, b) in enumerate(zip(shown, expected, strict=True)) if a != b]
    if len(diff) == 1:
        return (
            f"{shown} differs from the recomputed {expected} in one digit: probably a "
            "transcription slip"
        )
    if len(diff) == 2 and diff[1] == diff[0] + 1:
        i = diff[0]
        if shown[i] == expected[i + 1] and shown[i + 1] == expected[i]:
            return f"{shown} is the recomputed {expected} with two digits transposed"
    return None


def rounding(printed: Any, value: float) -> str | None:
    """Truncation instead of rounding, or a last digit one unit off."""
    decimals = printed_decimals(printed)
    shown = float(str(printed).strip().rstrip("%"))
    unit = 10.0**-decimals
    truncated = math.floor(value / unit + 1e-9) * unit
    if abs(truncated - shown) < unit / 2 and not agrees(printed, value):
        return f"{value:.{decimals + 2}f} was truncated to {shown:.{decimals}f} instead of rounded"
    if abs(abs(shown - value) - unit) < unit / 2 + 1e-9 and not agrees(printed, value):
        return (
            f"the last digit is one unit off ({value:.{decimals + 2}f} prints as "
            f"{fmt(value, decimals)}): a rounding or transcription slip"
        )
    return None


def other_fractions(
    percent: Any, n_patients: int, exclude: tuple[int, int] | None = None
) -> list[tuple[int, int]]:
    """Fractions x/m (m <= patients) that print as ``percent``, the likeliest first.

    Likeliest: same denominator as ``exclude`` (another numerator), then same numerator
    (another denominator), then the rest by denominator.
    """
    found = compute_fraction_candidates(percent, n_patients)
    seen: set[Fraction] = set()
    unique = []
    for x, m in found:
        if Fraction(x, m) in seen and m > 0:
            continue
        seen.add(Fraction(x, m))
        unique.append((x, m))
    if exclude is not None:
        unique = [f for f in unique if Fraction(*f) != Fraction(*exclude)]
        x0, n0 = exclude
        unique.sort(key=lambda f: (f[1] != n0, f[0] != x0, f[1]))
    return unique


def describe_fraction(x: int, m: int) -> str:
    return f"{x}/{m} = {100 * x / m:.2f}%"
