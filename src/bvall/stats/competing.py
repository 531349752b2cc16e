"""Cumulative incidence with competing risks (Aalen–Johansen), as R ``cmprsk::cuminc``.

For the event of interest (e.g. relapse) with competing events (e.g. death without relapse):
F(t) = Σ_{tᵢ <= t} S(tᵢ−) · d₁ᵢ / nᵢ, where S is the Kaplan–Meier curve for "any event".
The variance is Gray's delta-method estimator exactly as ``cmprsk``'s Fortran routine ``cinc``
accumulates it, including its correction for tied events, 1 − (d − 1)/(n − 1); like ``cuminc``,
the variance is updated at the times of the event of interest and carried forward in between.
Estimates beyond the largest observed time are NaN (``timepoints`` gives NA there).

cmprsk gives no confidence interval; the default here is the log-log interval
F^exp(±z·se/(F·log F)) (Choudhury JB, Stat Med 2002;21:1129; Pintilie M, *Competing Risks: A
Practical Perspective*, 2006, §4.2.2), and ``plain`` (F ± z·se, clipped to [0, 1]) is offered.

Why hand-written: lifelines' ``AalenJohansenFitter`` breaks tied event times by random jitter
(results change from run to run) and uses a different variance; cmprsk is R-only. Checked
against R in ``tests/reference/stats/cmprsk.R``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from bvall.errors import InputError
from bvall.stats.survival import tabulate_times

CIF_CONF_TYPES: tuple[str, ...] = ("log-log", "plain")


@dataclass(frozen=True)
class IncidenceLandmark:
    """Cumulative incidence at one time, its limits, SE and the number at risk (time >= t)."""

    time: float
    incidence: float
    lower: float
    upper: float
    std_err: float
    n_risk: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "incidence": self.incidence,
            "lower": self.lower,
            "upper": self.upper,
            "std_err": self.std_err,
            "n_risk": self.n_risk,
        }


@dataclass(frozen=True, eq=False)
class CumulativeIncidence:
    """Cumulative incidence of ``cause`` in the presence of competing events.

    One row per distinct observed time: ``n_risk``, ``n_event`` (the cause of interest),
    ``n_competing``, ``n_censor``, ``incidence``, ``variance`` (Gray), ``lower``/``upper``.
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_competing: np.ndarray
    n_censor: np.ndarray
    incidence: np.ndarray
    variance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    cause: int
    conf_type: str
    level: float
    n: int

    def at(self, times: Iterable[float]) -> list[IncidenceLandmark]:
        """Estimates at ``times`` (R ``cmprsk::timepoints``; NaN beyond the last time)."""
        left_before = np.concatenate(
            [[0], np.cumsum(self.n_event + self.n_competing + self.n_censor)]
        )
        out = []
        for t in times:
            tf = float(t)
            at_risk = int(self.n - left_before[np.searchsorted(self.time, tf, side="left")])
            if tf > self.time[-1]:
                out.append(IncidenceLandmark(tf, math.nan, math.nan, math.nan, math.nan, 0))
                continue
            i = int(np.searchsorted(self.time, tf, side="right")) - 1
            if i < 0:
                out.append(IncidenceLandmark(tf, 0.0, 0.0, 0.0, 0.0, at_risk))
                continue
            out.append(
                IncidenceLandmark(
                    tf,
                    float(self.incidence[i]),
                    float(self.lower[i]),
                    float(self.upper[i]),
                    math.sqrt(float(self.variance[i])),
                    at_risk,
                )
            )
        return out


def _ci(f: np.ndarray, var: np.ndarray, conf_type: str, level: float) -> tuple[Any, Any]:
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    se = np.sqrt(var)
    if conf_type == "plain":
        return np.clip(f - z * se, 0, 1), np.clip(f + z * se, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ff = np.where((f <= 0) | (f >= 1), np.nan, f)
        power = np.exp(z * se / np.abs(ff * np.log(ff)))
        lower, upper = ff**power, ff ** (1 / power)
    # no variance yet (before the first event): the interval is the point
    lower = np.where(se == 0, f, lower)
    upper = np.where(se == 0, f, upper)
    return lower, upper


def compute_cumulative_incidence(
    time: Sequence[float] | np.ndarray,
    cause: Sequence[Any] | np.ndarray,
    event_of_interest: int = 1,
    censor_code: int = 0,
    conf_type: str = "log-log",
    level: float = 0.95,
) -> CumulativeIncidence:
    """Aalen–Johansen cumulative incidence of ``event_of_interest`` with Gray's variance.

    ``time``: durations >= 0; ``cause``: an integer code per subject, ``censor_code`` (0) for
    censored, ``event_of_interest`` (1, e.g. relapse) and any other code a competing event (e.g.
    2 = death without relapse). Matches R ``cmprsk::cuminc(time, cause, cencode=0)``.
    """
    if conf_type not in CIF_CONF_TYPES:
        raise InputError(
            f"Confidence-interval type {conf_type!r} is not known for cumulative incidence; "
            f"expected one of {', '.join(CIF_CONF_TYPES)}."
        )
    if not (isinstance(level, int | float) and 0 < level < 1):
        raise InputError(f"level = {level!r} must be between 0 and 1 (e.g. 0.95).")
    t_list, c_list = list(time), list(cause)
    if len(t_list) != len(c_list) or not t_list:
        raise InputError(
            f"{len(t_list)} times and {len(c_list)} causes; expected one of each per subject "
            "(at least one)."
        )
    t = np.asarray(t_list, dtype=float)
    bad = np.flatnonzero(~np.isfinite(t) | (t < 0))
    if bad.size:
        raise InputError(
            f"Time {t_list[int(bad[0])]!r} (subject {int(bad[0]) + 1}) is missing, infinite or "
            "negative; expected a duration >= 0."
        )
    codes = []
    for i, v in enumerate(c_list):
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise InputError(f"Cause {v!r} (subject {i + 1}) is not an integer code.")
        if v != v or v != int(v):
            raise InputError(f"Cause {v!r} (subject {i + 1}) is not an integer code.")
        codes.append(int(v))
    c = np.asarray(codes)
    if event_of_interest == censor_code:
        raise InputError(
            f"event_of_interest {event_of_interest!r} equals censor_code; they must differ."
        )
    times, counts, d1, d2 = tabulate_times(
        t,
        (c == event_of_interest).astype(np.int64),
        ((c != event_of_interest) & (c != censor_code)).astype(np.int64),
    )
    n = t.size
    rs = (n - np.concatenate([[0], np.cumsum(counts)[:-1]])).astype(float)
    d = d1 + d2
    after = np.cumprod(1.0 - d / rs)  # overall KM just after each time
    before = np.concatenate([[1.0], after[:-1]])  # ... and just before (fk in cinc)
    f = np.cumsum(before * d1 / rs)

    def tie_factor(k: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(k > 1, 1 - (k - 1) / (rs - 1), 1.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(after > 0, 1 / after, 0.0)
        # competing events (only while the overall curve is above 0, as cinc)
        w2 = np.where((d2 > 0) & (after > 0), before**2 * tie_factor(d2) * d2 / rs**2, 0.0)
        a2 = np.where(after > 0, f * inv, 0.0)
        # events of interest
        w1 = np.where(d1 > 0, before**2 * tie_factor(d1) * d1 / rs**2, 0.0)
        a1 = 1 + inv * f
    v1 = np.cumsum(a2 * a2 * w2 + a1 * a1 * w1)
    v2 = np.cumsum(inv * a2 * w2 + inv * a1 * w1)
    v3 = np.cumsum(inv * inv * w2 + inv * inv * w1)
    v_at_events = v1 + f * f * v3 - 2 * f * v2
    # carried forward from the last time with an event of interest (0 before the first)
    last = np.maximum.accumulate(np.where(d1 > 0, np.arange(times.size), -1))
    variance = np.where(last >= 0, v_at_events[np.maximum(last, 0)], 0.0)
    lower, upper = _ci(f, variance, conf_type, float(level))
    return CumulativeIncidence(
        time=times,
        n_risk=rs.astype(np.int64),
        n_event=d1,
        n_competing=d2,
        n_censor=counts - d,
        incidence=f,
        variance=variance,
        lower=lower,
        upper=upper,
        cause=event_of_interest,
        conf_type=conf_type,
        level=float(level),
        n=n,
    )
