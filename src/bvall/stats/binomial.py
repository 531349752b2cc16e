"""Confidence intervals for a binomial proportion (x successes out of n).

Eight methods, each named in every result (CLINICAL.md §8.1; Newcombe RG, Stat Med 1998;17:857;
Brown LD, Cai TT, DasGupta A, Stat Sci 2001;16:101):

==================  ===========================================================================
``wald``            p̂ ± z·√(p̂q̂/n), truncated to [0, 1]
``wilson``          Wilson score interval (R ``prop.test(correct=FALSE)``)
``wilson-cc``       Wilson score with continuity correction, Newcombe 1998 method 4
``wilson-hmisc``    Wilson score with Hmisc's adjustment (R ``Hmisc::binconf(x, n)``, its
                    default): at x = 1 the lower limit is −log(1 − α)/n, at x = n − 1 the upper
                    limit is 1 + log(1 − α)/n (the Poisson limits Brown, Cai & DasGupta 2001
                    §4.1.1 recommend near the boundaries)
``agresti-coull``   Agresti–Coull "add z²/2", truncated to [0, 1]
``clopper-pearson`` exact, Beta quantiles (R ``binom.test``)
``jeffreys``        equal-tailed Beta(x + ½, n − x + ½) quantiles with the Brown–Cai–DasGupta
                    boundary rule L = 0 at x = 0 and U = 1 at x = n
``mid-p``           exact mid-p interval, Newcombe 1998 method 6
==================  ===========================================================================

Every bound is returned on its own (``lower``, ``upper``) so that a printed interval can be
checked bound by bound: a paper may print the lower bound of one method and the upper bound of
another (:func:`compute_binomial_cis` gives all of them at once).

The closed forms are written out, and the Beta quantiles and binomial tails come from
``scipy.special``: statsmodels' ``proportion_confint`` (which has five of these) imports pandas
and ``scipy.stats``, seconds of start-up for ``bvall stats ci``, while each formula here is one
line. Every method is checked against R to 1e-9 (``tests/reference/stats/binomial.R``).

Differences from R, on purpose: ``wilson-cc`` always applies the 0.5 correction. R's
``prop.test(x, n, correct=TRUE)`` uses ``min(0.5, |x − n·p0|)`` with the null ``p0 = 0.5``, so it
applies no correction at x = n/2 (x = 10, n = 20: R 0.299–0.701, Newcombe 0.279–0.721); with any
``p0`` far from x/n R gives exactly the values here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from scipy import special

from bvall.errors import InputError, UnknownNameError, suggest
from bvall.stats.binomial_names import BINOMIAL_METHODS, METHOD_LABELS
from bvall.stats.roots import find_root

__all__ = [
    "BINOMIAL_METHODS",
    "METHOD_LABELS",
    "BinomialCI",
    "check_binomial_method",
    "compute_binomial_ci",
    "compute_binomial_cis",
]


@dataclass(frozen=True)
class BinomialCI:
    """A proportion x/n with its confidence interval; ``method`` names how it was computed.

    ``estimate``, ``lower`` and ``upper`` are proportions in [0, 1] (not percentages).
    """

    method: str
    x: int
    n: int
    level: float
    estimate: float
    lower: float
    upper: float

    @property
    def label(self) -> str:
        """The method's display name, e.g. ``"Clopper–Pearson (exact)"``."""
        return METHOD_LABELS[self.method]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self, decimals: int = 1) -> str:
        """``"91.7% (11/12; 95% CI 64.6–99.6%, Wilson score)"``."""
        pct = f"{100 * self.level:g}%"
        return (
            f"{100 * self.estimate:.{decimals}f}% ({self.x}/{self.n}; {pct} CI "
            f"{100 * self.lower:.{decimals}f}–{100 * self.upper:.{decimals}f}%, {self.label})"
        )


def _check(x: int, n: int, level: float) -> tuple[int, int, float]:
    for name, value in (("x", x), ("n", n)):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
            or value != int(value)
        ):
            raise InputError(f"{name} = {value!r} is not a whole number; expected a count.")
    xi, ni = int(x), int(n)
    if ni < 1:
        raise InputError(f"n = {n!r} must be at least 1 (the number of patients or trials).")
    if xi < 0:
        raise InputError(f"x = {x!r} is negative; expected a count between 0 and n = {ni}.")
    if xi > ni:
        raise InputError(f"x = {x!r} is larger than n = {ni}; expected 0 <= x <= n.")
    if not (isinstance(level, int | float) and 0 < float(level) < 1):
        raise InputError(f"level = {level!r} must be between 0 and 1 (e.g. 0.95).")
    return xi, ni, float(level)


def _z(level: float) -> float:
    # R's qnorm algorithm (Wichura's AS 241), in the standard library.
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def _wald(x: int, n: int, level: float) -> tuple[float, float]:
    p = x / n
    half = _z(level) * math.sqrt(p * (1 - p) / n)
    return max(0.0, p - half), min(1.0, p + half)


def _wilson(x: int, n: int, level: float) -> tuple[float, float]:
    z = _z(level)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (0.0 if x == 0 else centre - half), (1.0 if x == n else centre + half)


def _wilson_hmisc(x: int, n: int, level: float) -> tuple[float, float]:
    # Hmisc::binconf(method = "wilson"), Hmisc 4.8 source: the Wilson limits, then
    # `if (x == 1) cl[1] <- -log(1 - alpha)/n` and `if (x == (n - 1)) cl[2] <- 1 + log(1 - alpha)/n`.
    lower, upper = _wilson(x, n, level)
    if x == 1:
        lower = -math.log(level) / n
    if x == n - 1:
        upper = 1 + math.log(level) / n
    return lower, upper


def _agresti_coull(x: int, n: int, level: float) -> tuple[float, float]:
    z = _z(level)
    n_tilde = n + z * z
    p_tilde = (x + z * z / 2) / n_tilde
    half = z * math.sqrt(p_tilde * (1 - p_tilde) / n_tilde)
    return max(0.0, p_tilde - half), min(1.0, p_tilde + half)


def _clopper_pearson(x: int, n: int, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    lower = 0.0 if x == 0 else float(special.betaincinv(x, n - x + 1, a))
    upper = 1.0 if x == n else float(special.betaincinv(x + 1, n - x, 1 - a))
    return lower, upper


def _jeffreys(x: int, n: int, level: float) -> tuple[float, float]:
    # Equal-tailed Beta(x + 1/2, n - x + 1/2) quantiles; Brown, Cai & DasGupta (2001, §4.1.2)
    # set the bound to 0 at x = 0 and to 1 at x = n, which is the interval as published.
    a = (1 - level) / 2
    lower = 0.0 if x == 0 else float(special.betaincinv(x + 0.5, n - x + 0.5, a))
    upper = 1.0 if x == n else float(special.betaincinv(x + 0.5, n - x + 0.5, 1 - a))
    return lower, upper


def _wilson_cc(x: int, n: int, level: float) -> tuple[float, float]:
    # Neither statsmodels nor SciPy has it, and R's prop.test changes the correction near
    # x = n/2 (module docstring). Newcombe 1998, method 4, closed form.
    z = _z(level)
    p = x / n
    q = 1 - p
    denom = 2 * (n + z * z)
    if x == 0:
        lower = 0.0
    else:
        lower = 2 * n * p + z * z - 1 - z * math.sqrt(z * z - 2 - 1 / n + 4 * p * (n * q + 1))
        lower = max(0.0, lower / denom)
    if x == n:
        upper = 1.0
    else:
        upper = 2 * n * p + z * z + 1 + z * math.sqrt(z * z + 2 - 1 / n + 4 * p * (n * q - 1))
        upper = min(1.0, upper / denom)
    return lower, upper


def _binomial_pmf(x: int, n: int, p: float) -> float:
    log_choose = math.lgamma(n + 1) - math.lgamma(x + 1) - math.lgamma(n - x + 1)
    return math.exp(log_choose + special.xlogy(x, p) + special.xlog1py(n - x, -p))


def _mid_p(x: int, n: int, level: float) -> tuple[float, float]:
    # No Python library offers the mid-p interval. The bounds solve
    # P(X > x) + P(X = x)/2 = α/2 (lower) and P(X < x) + P(X = x)/2 = α/2 (upper); both tail
    # functions are monotone in p, so Brent's method on [0, 1] finds the unique root.
    a = (1 - level) / 2

    def lower_eq(p: float) -> float:  # P(X > x) + P(X = x)/2 - a, for 0 < x
        above = float(special.bdtrc(x, n, p)) if x < n else 0.0
        return above + 0.5 * _binomial_pmf(x, n, p) - a

    def upper_eq(p: float) -> float:  # P(X < x) + P(X = x)/2 - a, for x < n
        below = float(special.bdtr(x - 1, n, p)) if x > 0 else 0.0
        return below + 0.5 * _binomial_pmf(x, n, p) - a

    lower = 0.0 if x == 0 else find_root(lower_eq, 0.0, 1.0, 1e-15)
    upper = 1.0 if x == n else find_root(upper_eq, 0.0, 1.0, 1e-15)
    return lower, upper


_METHODS: dict[str, Callable[[int, int, float], tuple[float, float]]] = {
    "wald": _wald,
    "wilson": _wilson,
    "wilson-cc": _wilson_cc,
    "wilson-hmisc": _wilson_hmisc,
    "agresti-coull": _agresti_coull,
    "clopper-pearson": _clopper_pearson,
    "jeffreys": _jeffreys,
    "mid-p": _mid_p,
}


def check_binomial_method(method: str) -> str:
    """Return ``method`` if it is known; :class:`UnknownNameError` lists the names otherwise."""
    if method not in _METHODS:
        raise UnknownNameError(
            f"Confidence-interval method {method!r} is not known{suggest(method, BINOMIAL_METHODS)}"
            f" Methods: {', '.join(BINOMIAL_METHODS)}."
        )
    return method


def compute_binomial_ci(x: int, n: int, method: str = "wilson", level: float = 0.95) -> BinomialCI:
    """Confidence interval for the proportion x/n by ``method`` at confidence ``level``.

    ``x`` and ``n`` are counts (0 <= x <= n, n >= 1); bounds are proportions in [0, 1].
    Raises :class:`InputError` for impossible counts and :class:`UnknownNameError` for an
    unknown method.
    """
    xi, ni, lv = _check(x, n, level)
    check_binomial_method(method)
    lower, upper = _METHODS[method](xi, ni, lv)
    # Floating-point noise must not push a bound outside [0, 1] or past the estimate.
    lower = min(max(lower, 0.0), xi / ni)
    upper = max(min(upper, 1.0), xi / ni)
    return BinomialCI(method, xi, ni, lv, xi / ni, lower, upper)


def compute_binomial_cis(
    x: int, n: int, methods: Iterable[str] | None = None, level: float = 0.95
) -> list[BinomialCI]:
    """:func:`compute_binomial_ci` for several methods (all of them by default), in that order."""
    return [compute_binomial_ci(x, n, m, level) for m in (methods or BINOMIAL_METHODS)]
