"""Fisher's exact test: 2 × 2 with R's conventions, and r × c by exact enumeration.

2 × 2 (``R stats::fisher.test``, CLINICAL.md §8.2): condition on all margins, so the top-left
cell X is (non-central) hypergeometric on lo = max(0, k − n) … hi = min(k, m).

* two-sided p: the sum of the null densities d(j) with d(j) <= d(x)·(1 + 10⁻⁷) (R's relative
  tolerance; SciPy's ``fisher_exact`` uses 1 + 10⁻¹⁴, which changes p when two tables are equally
  likely up to rounding, so the rule is written out here);
* one-sided: ``less`` = P(X <= x), ``greater`` = P(X >= x);
* odds ratio: the conditional maximum-likelihood estimate (root of E[X; ψ] = x), 0 when x = lo
  and ∞ when x = hi; confidence limits invert the non-central hypergeometric tails (α/2 each for
  two-sided).

The estimate and limits are found exactly as R finds them: Brent's zero-finder on R's
parametrisation with R's ``uniroot`` tolerance (``.Machine$double.eps^0.25``). That tolerance
limits R's own accuracy (for [[3, 1], [1, 3]] R prints an upper limit of 621.9 where the exact
root is 626.2), and a report that disagrees with R in the fourth digit confuses every reader who
checks it in R; pass ``root_tol`` (e.g. 1e-12) for the accurate roots instead. SciPy's
``contingency.odds_ratio`` solves to full precision and so differs from R in those digits.

r × c: R uses the FEXACT network algorithm; no Python library computes it exactly (SciPy offers
Monte Carlo or permutation approximations only). Here every table with the observed margins is
enumerated column by column, merging partial tables whose remaining row totals are the same
multiset (the idea behind the network algorithm), and the p-value sums the probabilities of the
tables no more likely than the observed one, with FEXACT's tolerance: log p <= log p_obs +
3.45254e-7. Checked against R ``fisher.test`` (tests/reference/stats/fisher.R).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from bvall.errors import InputError
from bvall.stats.roots import find_root

Alternative = Literal["two-sided", "less", "greater"]
ALTERNATIVES: tuple[str, ...] = ("two-sided", "less", "greater")

#: R's ``uniroot`` default tolerance, ``.Machine$double.eps^0.25``.
R_UNIROOT_TOL = float(np.finfo(float).eps) ** 0.25
_R_REL_ERR = 1 + 1e-7  # fisher.test, 2 x 2 two-sided
_FEXACT_TOL = 3.45254e-07  # FEXACT's TOL, added to the observed log path length
_MAX_NODES = 2_000_000


@dataclass(frozen=True)
class FisherResult:
    """The result of Fisher's exact test.

    ``odds_ratio`` (conditional MLE) and ``conf_int`` are given for 2 × 2 tables only (``None``
    for r × c). ``method`` says which algorithm produced the p-value.
    """

    p_value: float
    odds_ratio: float | None
    conf_int: tuple[float, float] | None
    alternative: str
    level: float
    table: tuple[tuple[int, ...], ...]
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "p_value": self.p_value,
            "odds_ratio": self.odds_ratio,
            "conf_int": list(self.conf_int) if self.conf_int is not None else None,
            "alternative": self.alternative,
            "level": self.level,
            "table": [list(r) for r in self.table],
            "method": self.method,
        }


def _as_table(table: Sequence[Sequence[Any]] | np.ndarray) -> tuple[tuple[int, ...], ...]:
    rows = [list(r) for r in table]
    if len(rows) < 2 or any(len(r) != len(rows[0]) for r in rows) or len(rows[0]) < 2:
        shape = [len(r) for r in rows]
        raise InputError(
            f"Table {rows!r} (row lengths {shape}) is not a table of at least 2 rows and 2 "
            "columns with equal row lengths."
        )
    out = []
    for r in rows:
        cells = []
        for v in r:
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
                raise InputError(f"Cell {v!r} is not a count; expected a whole number >= 0.")
            if v != v or v != int(v):
                raise InputError(f"Cell {v!r} is not a whole number; expected a count >= 0.")
            if v < 0:
                raise InputError(f"Cell {v!r} is negative; counts must be >= 0.")
            cells.append(int(v))
        out.append(tuple(cells))
    if sum(map(sum, out)) == 0:
        raise InputError(f"Table {rows!r} has no observations (every cell is 0).")
    return tuple(out)


def compute_fisher_exact(
    table: Sequence[Sequence[Any]] | np.ndarray,
    alternative: str = "two-sided",
    level: float = 0.95,
    null_odds_ratio: float = 1.0,
    root_tol: float = R_UNIROOT_TOL,
) -> FisherResult:
    """Fisher's exact test of a contingency table of counts (rows × columns).

    For a 2 × 2 table [[a, b], [c, d]] the result matches R's
    ``fisher.test(matrix(c(a, c, b, d), 2), alternative=, conf.level=, or=)``: p-value,
    conditional MLE odds ratio and its confidence interval. For larger tables only the
    two-sided p-value exists (R: FEXACT). ``alternative`` is ``two-sided``, ``less`` or
    ``greater``; ``level`` is the confidence level of the odds-ratio interval.
    """
    t = _as_table(table)
    if alternative not in ALTERNATIVES:
        raise InputError(
            f"Alternative {alternative!r} is not known; expected one of {', '.join(ALTERNATIVES)}."
        )
    if not (isinstance(level, int | float) and 0 < level < 1):
        raise InputError(f"level = {level!r} must be between 0 and 1 (e.g. 0.95).")
    if not (null_odds_ratio >= 0):
        raise InputError(f"null_odds_ratio = {null_odds_ratio!r} must be >= 0.")
    if len(t) == 2 and len(t[0]) == 2:
        return _fisher_2x2(t, alternative, float(level), float(null_odds_ratio), root_tol)
    if alternative != "two-sided":
        raise InputError(
            f"Alternative {alternative!r} exists only for 2 × 2 tables; this table is "
            f"{len(t)} × {len(t[0])}. Use 'two-sided'."
        )
    p = _fisher_rxc(t)
    return FisherResult(
        p,
        None,
        None,
        "two-sided",
        float(level),
        t,
        "Fisher's exact test (r × c, exact enumeration)",
    )


# -- 2 x 2 ---------------------------------------------------------------------------------------


class _NonCentralHypergeometric:
    """R's ``dnhyper``/``mnhyper``/``pnhyper`` for one 2 × 2 table (Fisher's non-central)."""

    def __init__(self, x: int, m: int, n: int, k: int) -> None:
        self.x, self.m, self.n, self.k = x, m, n, k
        self.lo = max(0, k - n)
        self.hi = min(k, m)
        self.support = np.arange(self.lo, self.hi + 1)
        # The central hypergeometric weights C(m, j)·C(n, k − j), exact integers (R's dhyper to
        # the last bit; SciPy's hypergeom would add seconds of scipy.stats import for it).
        self.counts = [math.comb(m, j) * math.comb(n, k - j) for j in range(self.lo, self.hi + 1)]
        self.total = math.comb(m + n, k)
        self.logdc = np.array([math.log(c) - math.log(self.total) for c in self.counts])

    def density(self, ncp: float) -> np.ndarray:
        d = self.logdc + math.log(ncp) * self.support
        d = np.exp(d - d.max())
        # math.fsum: R's sum() accumulates in long double; an exactly rounded sum keeps the
        # root finder on R's path.
        return d / math.fsum(d)

    def mean(self, ncp: float) -> float:
        if ncp == 0:
            return float(self.lo)
        if math.isinf(ncp):
            return float(self.hi)
        return math.fsum(self.support * self.density(ncp))

    def tail(self, q: int, ncp: float, upper: bool) -> float:
        if ncp == 1:  # R's phyper, exactly: a ratio of integers, rounded once
            j = q - self.lo
            part = self.counts[max(j, 0) :] if upper else self.counts[: max(j + 1, 0)]
            return float(Fraction(sum(part), self.total))
        if ncp == 0:
            return float(q <= self.lo if upper else q >= self.lo)
        if math.isinf(ncp):
            return float(q <= self.hi if upper else q >= self.hi)
        d = self.density(ncp)
        mask = self.support >= q if upper else self.support <= q
        return math.fsum(d[mask])


def _fisher_2x2(
    t: tuple[tuple[int, ...], ...], alternative: str, level: float, null_or: float, tol: float
) -> FisherResult:
    (a, b), (c, d) = t
    h = _NonCentralHypergeometric(x=a, m=a + c, n=b + d, k=a + b)
    x, lo, hi = a, h.lo, h.hi
    eps = float(np.finfo(float).eps)

    if alternative == "less":
        p = h.tail(x, null_or, upper=False)
    elif alternative == "greater":
        p = h.tail(x, null_or, upper=True)
    elif null_or == 0:
        p = float(x == lo)
    elif math.isinf(null_or):
        p = float(x == hi)
    else:
        dens = h.density(null_or)
        p = math.fsum(dens[dens <= dens[x - lo] * _R_REL_ERR])
    p = min(1.0, max(0.0, p))

    def mle() -> float:
        if x == lo:
            return 0.0
        if x == hi:
            return math.inf
        mu = h.mean(1)
        if mu > x:
            return find_root(lambda s: h.mean(s) - x, 0.0, 1.0, tol)
        if mu < x:
            return 1 / find_root(lambda s: h.mean(1 / s) - x, eps, 1.0, tol)
        return 1.0

    def ncp_upper(alpha: float) -> float:
        if x == hi:
            return math.inf
        pp = h.tail(x, 1, upper=False)
        if pp < alpha:
            return find_root(lambda s: h.tail(x, s, upper=False) - alpha, 0.0, 1.0, tol)
        if pp > alpha:
            return 1 / find_root(lambda s: h.tail(x, 1 / s, upper=False) - alpha, eps, 1.0, tol)
        return 1.0

    def ncp_lower(alpha: float) -> float:
        if x == lo:
            return 0.0
        pp = h.tail(x, 1, upper=True)
        if pp > alpha:
            return find_root(lambda s: h.tail(x, s, upper=True) - alpha, 0.0, 1.0, tol)
        if pp < alpha:
            return 1 / find_root(lambda s: h.tail(x, 1 / s, upper=True) - alpha, eps, 1.0, tol)
        return 1.0

    if alternative == "less":
        ci = (0.0, ncp_upper(1 - level))
    elif alternative == "greater":
        ci = (ncp_lower(1 - level), math.inf)
    else:
        alpha = (1 - level) / 2
        ci = (ncp_lower(alpha), ncp_upper(alpha))
    return FisherResult(
        p,
        mle(),
        ci,
        alternative,
        level,
        t,
        "Fisher's exact test (2 × 2, conditional MLE odds ratio)",
    )


# -- r x c ---------------------------------------------------------------------------------------


def _compositions(total: int, caps: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every way to split ``total`` into len(caps) parts with part i <= caps[i]."""
    out: list[tuple[int, ...]] = []
    room = [sum(caps[i:]) for i in range(len(caps))] + [0]

    def rec(i: int, left: int, acc: list[int]) -> None:
        if i == len(caps) - 1:
            if left <= caps[i]:
                out.append((*acc, left))
            return
        for v in range(max(0, left - room[i + 1]), min(caps[i], left) + 1):
            acc.append(v)
            rec(i + 1, left - v, acc)
            acc.pop()

    rec(0, total, [])
    return out


def _fisher_rxc(t: tuple[tuple[int, ...], ...]) -> float:
    arr = np.array(t, dtype=np.int64)
    arr = arr[arr.sum(axis=1) > 0][:, arr.sum(axis=0) > 0]  # empty rows/columns change nothing
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        return 1.0
    if arr.shape[0] > arr.shape[1]:
        arr = arr.T  # fewer rows: smaller states
    rows = tuple(int(v) for v in arr.sum(axis=1))
    cols = sorted((int(v) for v in arr.sum(axis=0)), reverse=True)
    total = sum(rows)
    lf = [math.lgamma(i + 1) for i in range(total + 1)]
    # log P(table) = const - sum(log cell!); const from the margins.
    const = sum(lf[r] for r in rows) + sum(lf[c] for c in cols) - lf[total]
    observed = -sum(lf[int(v)] for v in arr.ravel())

    # state: sorted remaining row totals -> {partial -sum(log cell!) rounded: (value, count)}
    layer: dict[tuple[int, ...], dict[float, list[float]]] = {
        tuple(sorted(rows)): {0.0: [0.0, 1.0]}
    }
    nodes = 0
    for col in cols:
        nxt: dict[tuple[int, ...], dict[float, list[float]]] = {}
        for state, paths in layer.items():
            for split in _compositions(col, state):
                step = -sum(lf[v] for v in split)
                new_state = tuple(sorted(s - v for s, v in zip(state, split, strict=True)))
                bucket = nxt.setdefault(new_state, {})
                for value, count in paths.values():
                    length = value + step
                    key = round(length, 9)  # far below FEXACT's tolerance of 3.45e-7
                    if key in bucket:
                        bucket[key][1] += count
                    else:
                        bucket[key] = [length, count]
                        nodes += 1
            if nodes > _MAX_NODES:
                raise InputError(
                    f"Table {[list(r) for r in t]} is too large for exact enumeration "
                    f"(more than {_MAX_NODES:,} partial tables); collapse categories."
                )
        layer = nxt
    (final,) = layer.values()
    p = math.fsum(
        count * math.exp(const + value)
        for value, count in final.values()
        if value <= observed + _FEXACT_TOL
    )
    return min(1.0, max(0.0, p))
