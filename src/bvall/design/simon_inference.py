"""Final analysis of a completed (or early-stopped) Simon two-stage trial.

A naive x/m estimate and a Clopper-Pearson interval ignore that the trial could have stopped after
stage 1; they are biased and can contradict the design's own test (Koyama & Chen 2008). This module
reports, with the method named in each result:

* **p-value** and **confidence interval** from the stage-wise ordering of the sample space: every
  outcome that continued to stage 2 is more extreme than every outcome that stopped; stopped
  outcomes are ordered by stage-1 responses and continued ones by total responses. The p-value is
  P_p0(T >= t); the exact two-sided interval inverts it, each tail at (1 - level)/2 (Koyama T, Chen H.
  Proper inference from Simon's two-stage designs. Stat Med 2008;27:3145-3154; the same ordering as
  Jung & Kim 2004).
* **UMVUE** of the response rate (Jung SH, Kim KM. On the estimation of the binomial probability in
  multistage clinical trials. Stat Med 2004;23:881-896): x1/n1 after an early stop, otherwise a ratio
  of sums of binomial coefficients.

No maintained Python library implements these (R has clinfun::twostage.inference and OneArmPhaseTwo
Study); SciPy supplies the binomial distributions and the root finder. Cross-checked against
clinfun 1.1.5 in ``tests/reference/design`` (p-value, UMVUE and lower limit agree; clinfun's upper
limit solves P(T <= t - 1) = alpha rather than P(T <= t) = alpha, see the tests).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy import optimize, stats

from bvall.design.simon import check_simon_design
from bvall.design.validation import check_error_rate, check_rate
from bvall.errors import InputError

METHOD_P_VALUE = "stage-wise ordering (Koyama & Chen 2008)"
METHOD_ESTIMATE = "UMVUE (Jung & Kim 2004)"
METHOD_CI = "exact, inverting the stage-wise ordering (Koyama & Chen 2008)"


@dataclass(frozen=True)
class SimonAnalysis:
    """Result of the final analysis; ``stage`` is 1 after an early stop, else 2."""

    stage: int
    patients: int
    responses: int
    promising: bool
    p_value: float
    p_value_method: str
    estimate: float
    estimate_method: str
    conf_level: float
    ci_low: float
    ci_high: float
    ci_method: str
    naive_estimate: float
    naive_ci_low: float
    naive_ci_high: float
    naive_method: str = "x/m with Clopper-Pearson interval (ignores the design)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tail_ge(r1: int, n1: int, n: int, stage: int, x: int, p: float) -> float:
    """P_p(T >= t) under the stage-wise ordering for the observed outcome t = (stage, x)."""
    n2 = n - n1
    if stage == 1:
        return float(stats.binom.sf(x - 1, n1, p))
    total = 0.0
    for x1 in range(r1 + 1, n1 + 1):
        total += float(stats.binom.pmf(x1, n1, p) * stats.binom.sf(x - x1 - 1, n2, p))
    return total


def _tail_le(r1: int, n1: int, n: int, stage: int, x: int, p: float) -> float:
    """P_p(T <= t) under the stage-wise ordering."""
    n2 = n - n1
    if stage == 1:
        return float(stats.binom.cdf(x, n1, p))
    total = float(stats.binom.cdf(r1, n1, p))
    for x1 in range(r1 + 1, n1 + 1):
        total += float(stats.binom.pmf(x1, n1, p) * stats.binom.cdf(x - x1, n2, p))
    return total


def compute_simon_umvue(r1: int, n1: int, n: int, stage: int, responses: int) -> float:
    """UMVUE of the response rate (Jung & Kim 2004, eq. for two stages); exact integer sums."""
    if stage == 1:
        return responses / n1
    n2 = n - n1
    s = responses
    lo, hi = max(r1 + 1, s - n2), min(s, n1)
    num = sum(math.comb(n1 - 1, x1 - 1) * math.comb(n2, s - x1) for x1 in range(lo, hi + 1))
    den = sum(math.comb(n1, x1) * math.comb(n2, s - x1) for x1 in range(lo, hi + 1))
    return num / den


def compute_simon_analysis(
    r1: int,
    n1: int,
    r: int,
    n: int,
    p0: float,
    stage1_responses: int,
    total_responses: int | None = None,
    conf_level: float = 0.95,
) -> SimonAnalysis:
    """Analyse a Simon trial: ``stage1_responses`` among the first n1 patients and, when the trial
    continued (stage1_responses > r1), ``total_responses`` among all n patients.

    Assumes the second stage enrolled exactly n - n1 patients as planned; a trial that over- or
    under-ran needs the adapted method of Koyama & Chen (2008, section 4), which is not provided.
    """
    check_simon_design(r1, n1, r, n)
    p0 = check_rate("p0", p0)
    level = check_error_rate("conf_level", conf_level)
    n2 = n - n1
    x1 = stage1_responses
    if isinstance(x1, bool) or not isinstance(x1, int) or not 0 <= x1 <= n1:
        raise InputError(f"stage1_responses={x1!r} must be a whole number between 0 and n1={n1}.")
    if x1 <= r1:
        if total_responses is not None and total_responses != x1:
            raise InputError(
                f"stage1_responses={x1} <= r1={r1} means the trial stopped after stage 1; "
                f"total_responses={total_responses!r} must be omitted or equal {x1}."
            )
        stage, x, m = 1, x1, n1
    else:
        if total_responses is None:
            raise InputError(
                f"stage1_responses={x1} > r1={r1}: the trial continued to stage 2; give "
                "total_responses over all n patients (the final analysis needs stage 2 complete)."
            )
        s = total_responses
        if isinstance(s, bool) or not isinstance(s, int) or not x1 <= s <= x1 + n2:
            raise InputError(
                f"total_responses={s!r} must be between stage1_responses={x1} and "
                f"{x1 + n2} (stage 1 responses plus the {n2} stage-2 patients)."
            )
        stage, x, m = 2, s, n
    side = (1.0 - level) / 2.0
    p_value = _tail_ge(r1, n1, n, stage, x, p0)
    lowest = stage == 1 and x == 0
    highest = stage == 2 and x == n
    eps = 1e-12
    ci_low = (
        0.0
        if lowest
        else float(
            optimize.brentq(
                lambda p: _tail_ge(r1, n1, n, stage, x, p) - side, eps, 1 - eps, xtol=1e-12
            )
        )
    )
    ci_high = (
        1.0
        if highest
        else float(
            optimize.brentq(
                lambda p: _tail_le(r1, n1, n, stage, x, p) - side, eps, 1 - eps, xtol=1e-12
            )
        )
    )
    naive = stats.binomtest(x, m).proportion_ci(confidence_level=level, method="exact")
    return SimonAnalysis(
        stage=stage,
        patients=m,
        responses=x,
        promising=stage == 2 and x > r,
        p_value=p_value,
        p_value_method=METHOD_P_VALUE,
        estimate=compute_simon_umvue(r1, n1, n, stage, x),
        estimate_method=METHOD_ESTIMATE,
        conf_level=level,
        ci_low=ci_low,
        ci_high=ci_high,
        ci_method=METHOD_CI,
        naive_estimate=x / m,
        naive_ci_low=float(naive.low),
        naive_ci_high=float(naive.high),
    )
