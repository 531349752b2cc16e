"""Daily lab trajectories for the example cohort (pure functions of the design and an RNG)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from bvall.cohort.example.design import Knots


def log_interpolate(knots: Knots, days: Iterable[int]) -> dict[int, float]:
    """Values on ``days`` interpolated linearly in log space between knots (flat outside)."""
    xs = np.array([k[0] for k in knots], dtype=float)
    ys = np.log(np.array([k[1] for k in knots], dtype=float))
    return {d: float(math.exp(np.interp(d, xs, ys))) for d in days}


def linear_interpolate(knots: Knots, days: Iterable[int]) -> dict[int, float]:
    xs = np.array([k[0] for k in knots], dtype=float)
    ys = np.array([k[1] for k in knots], dtype=float)
    return {d: float(np.interp(d, xs, ys)) for d in days}


def banded_counts(
    knots: Knots,
    days: list[int],
    rng: np.random.Generator,
    *,
    below: tuple[int, int] | None,
    threshold: float,
    floor: float,
    window: tuple[int, int],
    quiet_days: set[int],
    noise: float = 0.06,
    decimals: int = 2,
) -> dict[int, float]:
    """A count trajectory whose days below ``threshold`` inside ``window`` are exactly the run
    ``below`` (inclusive): values on those days are kept under 0.9 x threshold, values on the
    other window days at or above ``floor`` (which must be >= threshold)."""
    base = log_interpolate(knots, days)
    out: dict[int, float] = {}
    start, end = window
    for d in days:
        v = base[d] if d in quiet_days else base[d] * math.exp(rng.normal(0.0, noise))
        if start <= d <= end:
            if below is not None and below[0] <= d <= below[1]:
                v = min(v, 0.9 * threshold)
                v = max(v, 0.02 * threshold)
            else:
                v = max(v, floor)
        out[d] = round(v, decimals)
    return out


def bump(baseline: float, peak_day: int, peak: float, day: int, width: float = 3.0) -> float:
    """A Gaussian bump from ``baseline`` to ``peak`` on ``peak_day``."""
    return baseline + (peak - baseline) * math.exp(-(((day - peak_day) / width) ** 2))


def dip(baseline: float, nadir_day: int, nadir: float, day: int, recovery_days: int = 10) -> float:
    """Linear fall from ``baseline`` on day 0 to ``nadir`` on ``nadir_day``, then back up."""
    if day <= 0:
        return baseline
    if day <= nadir_day:
        return baseline + (nadir - baseline) * day / nadir_day
    return min(baseline, nadir + (baseline - nadir) * (day - nadir_day) / recovery_days)
