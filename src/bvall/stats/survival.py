"""Kaplan–Meier survival curves exactly as R ``survival::survfit`` computes them.

Estimate S(t) = ∏_{tᵢ <= t} (1 − dᵢ/nᵢ) over the distinct observed times; Greenwood variance with
σ(t)² = Σ dᵢ / [nᵢ(nᵢ − dᵢ)] the variance of log S (R's ``std.err``); confidence intervals by the
``log`` (R's default), ``log-log`` or ``plain`` transform, with R's edge rules (no interval where
S = 0, none for log-log where S = 1); quantiles and the median with R's midpoint rule and their
confidence limits read off the interval curves; landmark estimates and the number at risk as R's
``summary(fit, times=, extend=TRUE)`` reports them; median follow-up by reverse Kaplan–Meier.
Source: CLINICAL.md §8.3–8.4; R ``survival`` 3.5 (``survfitKM``, ``survfit_confint``,
``quantile.survfit``); checked against R in ``tests/reference/stats/survival.R``.

Why not lifelines: its ``KaplanMeierFitter`` gives the same estimate but only the log-log
("exponential Greenwood") interval, a different median-CI rule and no R-style landmark
summary; the estimate itself is a few vectorised lines (and much faster at 10⁶ subjects, see
``benchmarks/README.md``). lifelines is used as a cross-check of the estimate in the tests.

Times are durations from the time origin (days, months: the unit is the caller's and is carried
through unchanged). Missing values are an error: the caller decides what a missing time means.
Only equal times are ties; R's ``survfit`` also merges times that differ by floating-point noise
(``timefix``, about 1e-8 relative), which matters only for computed, not recorded, times.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from bvall.errors import InputError

CONF_TYPES: tuple[str, ...] = ("log", "log-log", "plain")
#: From this many subjects on, times are grouped by hashing (pandas) rather than sorting.
HASH_GROUPING_FROM = 100_000
_TOL = math.sqrt(float(np.finfo(float).eps))  # quantile.survfit's tolerance


def _as_arrays(time: Iterable[Any], event: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Validated float times and 0/1 events; vectorised (10⁶ subjects in milliseconds)."""
    t_seq = time if isinstance(time, np.ndarray | list | tuple) else list(time)
    e_seq = event if isinstance(event, np.ndarray | list | tuple) else list(event)
    if len(t_seq) != len(e_seq):
        raise InputError(
            f"{len(t_seq)} times but {len(e_seq)} event indicators; expected one of each per "
            "subject."
        )
    if len(t_seq) == 0:
        raise InputError("No subjects: expected at least one time and event indicator.")
    try:
        t = np.asarray(t_seq, dtype=float)
    except (TypeError, ValueError):
        bad = next(v for v in t_seq if not _is_number(v))
        raise InputError(f"Time {bad!r} is not a number; expected a duration >= 0.") from None
    bad_t = np.flatnonzero(~np.isfinite(t) | (t < 0))
    if bad_t.size:
        i = int(bad_t[0])
        raise InputError(
            f"Time {t_seq[i]!r} (subject {i + 1}) is missing, infinite or negative; expected a "
            "duration >= 0 from the time origin."
        )
    raw = np.asarray(e_seq)
    if raw.dtype.kind in "biuf":
        ok = (raw == 0) | (raw == 1)
        if ok.all():
            return t, raw.astype(np.int64)
        i = int(np.flatnonzero(~ok)[0])
        raise InputError(
            f"Event indicator {e_seq[i]!r} (subject {i + 1}) is not 0/1; expected 1 = event, "
            "0 = censored."
        )
    e = np.empty(len(e_seq), dtype=np.int64)
    for i, v in enumerate(e_seq):
        if isinstance(v, bool | np.bool_):
            e[i] = int(v)
        elif _is_number(v) and float(v) in (0.0, 1.0):
            e[i] = int(float(v))
        else:
            raise InputError(
                f"Event indicator {v!r} (subject {i + 1}) is not 0/1; expected 1 = event, "
                "0 = censored."
            )
    return t, e


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return not isinstance(v, str)


def _check_ci(conf_type: str, level: float) -> None:
    if conf_type not in CONF_TYPES:
        raise InputError(
            f"Confidence-interval type {conf_type!r} is not known; expected one of "
            f"{', '.join(CONF_TYPES)}."
        )
    if not (isinstance(level, int | float) and 0 < level < 1):
        raise InputError(f"level = {level!r} must be between 0 and 1 (e.g. 0.95).")


def compute_survival_ci(
    surv: np.ndarray, se_log: np.ndarray, conf_type: str, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise confidence limits for S from σ = SE(log S), as R ``survfit_confint``.

    NaN where R gives NA: S = 0 (log, log-log, plain with infinite σ) and S = 1 (log-log).
    """
    _check_ci(conf_type, level)
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    s = np.asarray(surv, dtype=float)
    se = np.asarray(se_log, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = se * s * z
            return np.maximum(s - half, 0.0), np.minimum(s + half, 1.0)
        if conf_type == "log":
            xx = np.where(s == 0, np.nan, s)
            return np.exp(np.log(xx) - z * se), np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        xx = np.where((s == 0) | (s == 1), np.nan, s)
        step = z * se / np.log(xx)
        loglog = np.log(-np.log(xx))
        return np.exp(-np.exp(loglog - step)), np.exp(-np.exp(loglog + step))


@dataclass(frozen=True)
class Landmark:
    """The curve at one time t: S(t), its confidence limits, Greenwood SE of S, and n at risk.

    ``n_risk`` counts subjects still under observation at t (time >= t), as R's ``summary``.
    Beyond the last observed time the last values are carried forward with ``n_risk`` 0.
    """

    time: float
    survival: float
    lower: float
    upper: float
    std_err: float
    n_risk: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "survival": self.survival,
            "lower": self.lower,
            "upper": self.upper,
            "std_err": self.std_err,
            "n_risk": self.n_risk,
        }


@dataclass(frozen=True)
class Quantile:
    """The time at which the curve first reaches 1 − ``prob`` (median: prob 0.5), with limits.

    NaN means "not reached" (R's NA): the curve, or the interval curve, never gets that low.
    """

    prob: float
    estimate: float
    lower: float
    upper: float

    @property
    def reached(self) -> bool:
        return not math.isnan(self.estimate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prob": self.prob,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
        }


@dataclass(frozen=True, eq=False)
class KaplanMeier:
    """A Kaplan–Meier curve: one row per distinct observed time (event or censoring), as R.

    ``std_err_log`` is σ = SE(log S) (R's ``fit$std.err``); ``std_err`` is the Greenwood SE of S
    itself, S·σ (R's ``summary()$std.err``). ``lower``/``upper`` hold NaN where R prints NA.
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    std_err_log: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    conf_type: str
    level: float
    n: int
    start_time: float = 0.0

    @property
    def events(self) -> int:
        return int(self.n_event.sum())

    @property
    def std_err(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return self.survival * self.std_err_log

    def at(self, times: Iterable[float]) -> list[Landmark]:
        """Landmark estimates at ``times`` (R ``summary(fit, times=, extend=TRUE)``)."""
        out = []
        left_before = np.concatenate([[0], np.cumsum(self.n_event + self.n_censor)])
        for t in times:
            tf = float(t)
            if not math.isfinite(tf):
                raise InputError(f"Landmark time {t!r} is not a finite number.")
            i = int(np.searchsorted(self.time, tf, side="right")) - 1
            # at risk at t: everyone whose time is >= t
            at_risk = int(self.n - left_before[np.searchsorted(self.time, tf, side="left")])
            if i < 0:  # before the first observed time: nobody has failed yet
                out.append(Landmark(tf, 1.0, 1.0, 1.0, 0.0, at_risk))
                continue
            s = float(self.survival[i])
            out.append(
                Landmark(
                    tf,
                    s,
                    float(self.lower[i]),
                    float(self.upper[i]),
                    float(s * self.std_err_log[i]) if s > 0 else math.nan,
                    at_risk,
                )
            )
        return out

    def quantile(self, prob: float = 0.5) -> Quantile:
        """The ``prob`` quantile of the event-time distribution with limits (R rules)."""
        if not (0 <= prob <= 1):
            raise InputError(f"Quantile probability {prob!r} must be between 0 and 1.")
        x = np.concatenate([[self.start_time], self.time])
        est, lo, hi = (
            _findq(x, np.concatenate([[0.0], 1 - curve]), prob)
            for curve in (self.survival, self.lower, self.upper)
        )
        return Quantile(prob, est, lo, hi)

    def median(self) -> Quantile:
        """Median time to event with its confidence limits (NaN: not reached)."""
        return self.quantile(0.5)

    def to_rows(self) -> list[dict[str, Any]]:
        """The curve as rows (time, n_risk, n_event, n_censor, survival, std_err, lower, upper)."""
        return [
            {
                "time": float(t),
                "n_risk": int(r),
                "n_event": int(d),
                "n_censor": int(c),
                "survival": float(s),
                "std_err": float(se),
                "lower": float(lo),
                "upper": float(hi),
            }
            for t, r, d, c, s, se, lo, hi in zip(
                self.time,
                self.n_risk,
                self.n_event,
                self.n_censor,
                self.survival,
                self.std_err,
                self.lower,
                self.upper,
                strict=True,
            )
        ]


def _findq(x: np.ndarray, y: np.ndarray, p: float) -> float:
    """R ``survival:::findq`` for one probability: where the step curve y(x) first reaches p.

    y = 1 − S is nondecreasing; when it equals p on a flat stretch (within √eps) the answer is
    the midpoint of that stretch (or of the stretch and the last time, at the end of the curve).
    NaN entries of y (interval curves where R gives NA) are skipped, as R's ``approx`` does.
    """
    finite = y[~np.isnan(y)]
    if finite.size == 0 or finite.max() < p:
        return math.nan
    xmax = float(x[-1])
    # keep the first of each run of equal values (R's duplicated(), which also drops repeated NA)
    keep = np.ones(y.size, dtype=bool)
    seen_nan = False
    seen: set[float] = set()
    for i, v in enumerate(y):
        if math.isnan(v):
            keep[i] = not seen_nan
            seen_nan = True
        elif v in seen:
            keep[i] = False
        else:
            seen.add(float(v))
    xs, ys = x[keep], y[keep]

    def first_at_least(shift: float) -> int | None:
        # approx(y + shift, 1:n, p, method = "constant", f = 1): the knot at or right of p
        ok = ~np.isnan(ys)
        knots = ys[ok] + shift
        pos = np.flatnonzero(ok)
        order = np.argsort(knots, kind="stable")
        knots, pos = knots[order], pos[order]
        if p < knots[0] or p > knots[-1]:
            return None
        j = int(np.searchsorted(knots, p, side="left"))
        return int(pos[j])

    i1, i2 = first_at_least(_TOL), first_at_least(-_TOL)
    if p == 0:
        return float(xs[0])
    last = ys[-1]
    if not math.isnan(last) and abs(p - last) < _TOL:
        return math.nan if i1 is None else (float(xs[i1]) + xmax) / 2
    if i1 is None or i2 is None:
        return math.nan
    return (float(xs[i1]) + float(xs[i2])) / 2


def tabulate_times(t: np.ndarray, *indicators: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct times (ascending), subjects per time, and the sum of each indicator per time.

    From :data:`HASH_GROUPING_FROM` subjects on, hash-based grouping (``pandas.factorize``)
    rather than a sort of every subject: about three times as fast at 10⁶ subjects
    (benchmarks/README.md). Below it a sort (``numpy.unique``) is faster than importing pandas.
    """
    if t.size >= HASH_GROUPING_FROM:
        import pandas as pd

        codes, uniques = pd.factorize(t, sort=True)
    else:
        uniques, codes = np.unique(t, return_inverse=True)
    k = len(uniques)
    sums = (np.bincount(codes, weights=x, minlength=k).astype(np.int64) for x in indicators)
    return (np.asarray(uniques, dtype=float), np.bincount(codes, minlength=k), *sums)


def compute_kaplan_meier(
    time: Sequence[float] | np.ndarray,
    event: Sequence[Any] | np.ndarray,
    conf_type: str = "log",
    level: float = 0.95,
) -> KaplanMeier:
    """Kaplan–Meier estimate with Greenwood variance and ``conf_type`` limits at ``level``.

    ``time``: durations >= 0 (any unit); ``event``: 1/True = event, 0/False = censored. Matches
    R ``survfit(Surv(time, event) ~ 1, conf.type=conf_type, conf.int=level)`` row for row.
    """
    _check_ci(conf_type, level)
    t, e = _as_arrays(time, event)
    times, counts, n_event = tabulate_times(t, e)
    n = t.size
    n_risk = n - np.concatenate([[0], np.cumsum(counts)[:-1]])
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore"):
        var_log = np.cumsum(n_event / (n_risk * (n_risk - n_event).astype(float)))
    se_log = np.sqrt(var_log)
    lower, upper = compute_survival_ci(surv, se_log, conf_type, level)
    return KaplanMeier(
        time=times,
        n_risk=n_risk,
        n_event=n_event,
        n_censor=counts - n_event,
        survival=surv,
        std_err_log=se_log,
        lower=lower,
        upper=upper,
        conf_type=conf_type,
        level=float(level),
        n=n,
        start_time=min(0.0, float(times[0])),
    )


@dataclass(frozen=True)
class FollowUp:
    """Median follow-up with its definition named in ``method``.

    ``median``/``lower``/``upper``: the reverse Kaplan–Meier median (censoring as the event) and
    its limits; ``observed_median``, ``minimum``, ``maximum``: crude median and range of every
    subject's observed time (what many papers print as "median follow-up (range)").
    """

    median: float
    lower: float
    upper: float
    observed_median: float
    minimum: float
    maximum: float
    n: int
    method: str = "reverse Kaplan–Meier (Schemper & Smith 1996)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "lower": self.lower,
            "upper": self.upper,
            "observed_median": self.observed_median,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "n": self.n,
            "method": self.method,
        }


def compute_median_followup(
    time: Sequence[float] | np.ndarray,
    event: Sequence[Any] | np.ndarray,
    conf_type: str = "log",
    level: float = 0.95,
) -> FollowUp:
    """Median follow-up by reverse Kaplan–Meier: R ``survfit(Surv(time, 1 - event) ~ 1)``.

    Subjects censored (alive at last contact) are the "events" and the analysis events are
    censored at their time, so the median estimates the potential follow-up (CLINICAL.md §8.4).
    """
    t, e = _as_arrays(time, event)
    km = compute_kaplan_meier(t, 1 - e, conf_type, level)
    q = km.median()
    return FollowUp(
        q.estimate,
        q.lower,
        q.upper,
        float(np.median(t)),
        float(t.min()),
        float(t.max()),
        int(t.size),
    )
