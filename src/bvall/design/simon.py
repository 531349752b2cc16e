"""Simon's two-stage designs for a single-arm phase II trial with a binary endpoint.

Stage 1 treats ``n1`` patients; the trial stops for futility if ``x1 <= r1`` responses are seen.
Otherwise ``n - n1`` more patients are treated and the regimen is declared promising (H0:
p <= p0 rejected) if the total ``x > r``.

* **Optimal** design: minimises the expected sample size under p0, EN(p0) (Simon 1989).
* **Minimax** design: minimises the maximum sample size n; ties broken by EN(p0) (Simon 1989).
* **Admissible** designs: the designs between the two that minimise ``q*n + (1-q)*EN(p0)`` for
  some weight q in [0, 1], i.e. the lower convex hull of (n, EN(p0)) (Jung, Lee, Kim & George
  2004, Stat Med 23:561-569; the weight range is reported as ``q_low``..``q_high``).

Sources: Simon R. Optimal two-stage designs for phase II clinical trials. Controlled Clinical
Trials 1989;10:1-10 (search rule: for each n, n1 and r1, take the largest r meeting the power
constraint, then check the type I error); R clinfun::ph2simon follows the same rule and is used
as a cross-check in ``tests/reference/design``.

No maintained Python library computes these designs (statsmodels has single-stage binomial
power only), so the search is hand-written: the exact binomial probabilities come from SciPy and
the search over (n1, r1, r) is vectorised over r1 and r with NumPy.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import special

from bvall.design.validation import (
    check_error_rate,
    check_ordered_rates,
    check_positive_int,
    check_rate,
)
from bvall.errors import InputError

SimonKind = Literal["optimal", "minimax", "admissible", "custom"]
NMAX_LIMIT = 500


@dataclass(frozen=True)
class SimonCharacteristics:
    """Operating characteristics of one two-stage design at a true response rate ``p``.

    ``reject``: probability of declaring the regimen promising (x > r); at p0 this is the attained
    type I error, at p1 the attained power. ``pet``: probability of early termination after stage 1.
    ``en``: expected number of patients treated.
    """

    p: float
    reject: float
    pet: float
    en: float


@dataclass(frozen=True)
class SimonDesign:
    """One Simon two-stage design with its operating characteristics under p0 and p1."""

    kind: SimonKind
    r1: int
    n1: int
    r: int
    n: int
    p0: float
    p1: float
    alpha: float
    power: float
    attained_alpha: float
    attained_power: float
    pet0: float
    en0: float
    pet1: float
    en1: float
    q_low: float | None = None
    q_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["type"] = out.pop("kind")
        return out

    def rule_text(self) -> str:
        """The decision rule in words, as a protocol would state it."""
        return (
            f"Treat {self.n1} patients; stop for futility if {self.r1} or fewer respond. "
            f"Otherwise treat {self.n - self.n1} more (total {self.n}); the regimen is promising "
            f"if more than {self.r} of {self.n} respond."
        )


def check_simon_design(r1: int, n1: int, r: int, n: int) -> None:
    """Reject an impossible (r1, n1, r, n): 1 <= n1 < n, 0 <= r1 < n1, r1 <= r < n."""
    for name, v in (("r1", r1), ("n1", n1), ("r", r), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise InputError(f"{name}={v!r} is not a whole number.")
    if not 1 <= n1 < n:
        raise InputError(f"n1={n1} must satisfy 1 <= n1 < n={n}.")
    if not 0 <= r1 < n1:
        raise InputError(f"r1={r1} must satisfy 0 <= r1 < n1={n1}.")
    if not r1 <= r < n:
        raise InputError(f"r={r} must satisfy r1={r1} <= r < n={n}.")


def compute_simon_characteristics(
    r1: int, n1: int, r: int, n: int, p: float
) -> SimonCharacteristics:
    """Exact reject probability, PET and expected sample size of (r1/n1, r/n) at rate ``p``."""
    check_simon_design(r1, n1, r, n)
    check_rate("p", p)
    n2 = n - n1
    x1 = np.arange(r1 + 1, n1 + 1)
    pet = float(special.bdtr(r1, n1, p))
    reject = float(np.sum(binomial_pmf(x1, n1, p) * binomial_sf(r - x1, n2, p)))
    return SimonCharacteristics(p=p, reject=reject, pet=pet, en=n1 + (1.0 - pet) * n2)


def _binomial_tables(nmax: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """pmf[m, k] = P(Bin(m, p) = k) for 0 <= k, m <= nmax, and sf[m, nmax + k] =
    P(Bin(m, p) > k) for -nmax <= k <= nmax (1 for k < 0, 0 for k >= m): one lookup, no
    clipping, in the search's inner loop."""
    m = np.arange(nmax + 1)[:, None]
    k = np.arange(nmax + 1)[None, :]
    return binomial_pmf(k, m, p), binomial_sf(np.arange(-nmax, nmax + 1)[None, :], m, p)


# The binomial distribution from scipy.special (its Cephes/Boost functions are what scipy.stats'
# binom calls): importing scipy.stats would add about a second to `bvall design simon`.


def binomial_pmf(k: Any, m: Any, p: float) -> np.ndarray:
    """P(Bin(m, p) = k), elementwise; 0 where k < 0 or k > m."""
    k, m = np.asarray(k), np.asarray(m)
    inside = (k >= 0) & (k <= m)
    kk, mm = np.where(inside, k, 0), np.where(inside, m, 0)
    return np.where(inside, special.comb(mm, kk) * p**kk * (1 - p) ** (mm - kk), 0.0)


def binomial_sf(k: Any, m: Any, p: float) -> np.ndarray:
    """P(Bin(m, p) > k), elementwise: 1 where k < 0, 0 where k >= m."""
    k, m = np.asarray(k), np.asarray(m)
    inside = (k >= 0) & (k < m)
    tail = special.bdtrc(np.where(inside, k, 0), np.where(inside, m, 1), p)
    return np.where(k < 0, 1.0, np.where(inside, tail, 0.0))


@dataclass(frozen=True)
class _Best:
    n: int
    n1: int
    r1: int
    r: int
    en0: float
    pet0: float


def _best_per_n(p0: float, p1: float, alpha: float, power: float, nmax: int) -> list[_Best]:
    """For each n <= nmax, the design (n1, r1, r) with the smallest EN(p0) among those meeting
    both constraints (Simon's rule: for each n1 and r1 the largest r meeting the power).

    For one n, every (n1, r1, r) is computed at once: R[n1, r1, r] = P(X1 > r1 and X1 + X2 > r)
    is the reverse cumulative sum over x1 of pmf(x1) * P(X2 > r - x1). Rejection needs X > r,
    so R <= P(Bin(n, p1) > r): values of r beyond the single-stage bound never meet the power
    and are not computed (a third of the r range at p1 = 0.4). The type I error is then summed
    at the chosen (n1, r1, r) only, with the same terms in the same order.
    """
    pmf0, sf0 = _binomial_tables(nmax, p0)
    pmf1, sf1 = _binomial_tables(nmax, p1)
    cdf0 = np.cumsum(pmf0, axis=1)
    offset = nmax  # sf[m, offset + k] = P(Bin(m, p) > k)
    best: list[_Best] = []
    # Guard against round-off deciding a tie: a design meets a constraint if it does so to
    # within 1e-12 (exact ties only arise for rational p such as 0.5).
    tol = 1e-12
    for n in range(2, nmax + 1):
        # The 1e-9 slack keeps every r whose two-stage power could round up to the bound.
        single = sf1[n, offset : offset + n + 1]
        r_max = int(np.count_nonzero(single >= power - tol - 1e-9)) - 1
        if r_max < 0:
            continue
        n1 = np.arange(1, n)  # stage-1 sizes
        n2 = n - n1
        x1 = np.arange(n)  # stage-1 responses (pmf is 0 beyond n1, so extra terms add 0.0)
        r = np.arange(r_max + 1)
        tail = offset + r[None, None, :] - x1[None, :, None]  # X2 must exceed r - x1
        terms = pmf1[n1[:, None], x1[None, :]][:, :, None] * sf1[n2[:, None, None], tail]
        rev = np.cumsum(terms[:, ::-1, :], axis=1)[:, ::-1, :]
        n_r1 = min(r_max + 1, n - 1)
        reject1 = rev[:, 1 : n_r1 + 1, :]  # [n1, r1, r]: the sum over x1 = r1 + 1 .. n1
        r_star = (reject1 >= power - tol).sum(axis=2) - 1  # decreasing in r
        r1s = np.arange(n_r1)[None, :]
        valid = (r_star >= r1s) & (r1s < n1[:, None])
        if not valid.any():
            continue
        ai, r1v = np.nonzero(valid)  # n1 index ascending, then r1 ascending
        rv = r_star[ai, r1v]
        terms0 = (
            pmf0[n1[ai][:, None], x1[None, :]]
            * sf0[n2[ai][:, None], offset + rv[:, None] - x1[None, :]]
        )
        rev0 = np.cumsum(terms0[:, ::-1], axis=1)[:, ::-1]
        ok = rev0[np.arange(ai.size), r1v + 1] <= alpha + tol
        ai, r1v, rv = ai[ok], r1v[ok], rv[ok]
        if ai.size == 0:
            continue
        pet = cdf0[n1[ai], r1v]
        en = n1[ai] + (1.0 - pet) * n2[ai]
        cand: _Best | None = None
        starts = np.flatnonzero(np.r_[True, ai[1:] != ai[:-1]])
        for s, e in zip(starts, [*starts[1:], ai.size], strict=True):
            i = s + int(np.argmin(en[s:e]))  # first minimum: the largest-EN tie cannot beat it
            if cand is None or en[i] < cand.en0 - 1e-12:
                k = int(ai[i])
                cand = _Best(n, int(n1[k]), int(r1v[i]), int(rv[i]), float(en[i]), float(pet[i]))
        if cand is not None:
            best.append(cand)
    return best


def _hull(points: list[_Best]) -> list[tuple[_Best, float, float]]:
    """Admissible designs: lower convex hull of (n, EN0) from minimax to optimal, with q ranges.

    A design d minimises q*n + (1-q)*EN0 for q between the slopes of its neighbouring hull
    edges; q = dEN / (dEN - dn) for an edge (Jung et al. 2004, section 2).
    """
    i_opt = min(range(len(points)), key=lambda i: (points[i].en0, points[i].n))
    seq = points[: i_opt + 1]
    chosen = [0]
    while chosen[-1] < len(seq) - 1:
        start = seq[chosen[-1]]
        slopes = [
            ((seq[j].en0 - start.en0) / (seq[j].n - start.n), j)
            for j in range(chosen[-1] + 1, len(seq))
        ]
        best_slope = min(s for s, _ in slopes)
        # Collinear points are admissible too (each minimises the loss at one q), as in clinfun.
        j = min(j for s, j in slopes if s <= best_slope + 1e-12)
        chosen.append(j)
    hull = [seq[i] for i in chosen]
    qs = []
    for a, b in itertools.pairwise(hull):
        dn, den = b.n - a.n, b.en0 - a.en0
        qs.append(den / (den - dn))
    out = []
    for k, d in enumerate(hull):
        q_high = 1.0 if k == 0 else qs[k - 1]
        q_low = 0.0 if k == len(hull) - 1 else qs[k]
        out.append((d, q_low, q_high))
    return out


def compute_simon_designs(
    p0: float, p1: float, alpha: float, power: float, nmax: int = 100
) -> list[SimonDesign]:
    """Minimax, admissible and optimal Simon designs for H0: p <= p0 vs H1: p >= p1.

    ``alpha`` is the one-sided type I error bound at p0, ``power`` the required power at p1
    (power = 1 - beta); ``nmax`` bounds the total sample size searched. Returned in order of
    increasing n: minimax first, then the admissible designs, optimal last. When the minimax
    design is also optimal it is listed twice (once under each name) so that both are always
    present. Raises InputError when no design with n <= nmax meets the constraints.
    """
    p0 = check_rate("p0", p0)
    p1 = check_rate("p1", p1)
    check_ordered_rates("p0", p0, "p1", p1)
    alpha = check_error_rate("alpha", alpha)
    power = check_error_rate("power", power)
    if power <= alpha:
        raise InputError(
            f"power={power!r} must exceed alpha={alpha!r}; a test whose power is below its "
            "type I error cannot separate p0 from p1."
        )
    check_positive_int("nmax", nmax, minimum=2)
    if nmax > NMAX_LIMIT:
        raise InputError(f"nmax={nmax} is above the supported {NMAX_LIMIT}.")
    per_n = _best_per_n(p0, p1, alpha, power, nmax)
    if not per_n:
        raise InputError(
            f"No two-stage design with n <= nmax={nmax} has type I error <= {alpha} at "
            f"p0={p0} and power >= {power} at p1={p1}; increase --nmax or relax alpha/power."
        )
    designs: list[SimonDesign] = []
    hull = _hull(per_n)
    if len(hull) == 1:
        b = hull[0][0]
        return [
            _design("minimax", b, p0, p1, alpha, power, 0.0, 1.0),
            _design("optimal", b, p0, p1, alpha, power, 0.0, 1.0),
        ]
    for k, (b, q_low, q_high) in enumerate(hull):
        kind: SimonKind
        if k == len(hull) - 1:
            kind = "optimal"
        elif k == 0:
            kind = "minimax"
        else:
            kind = "admissible"
        designs.append(_design(kind, b, p0, p1, alpha, power, q_low, q_high))
    return designs


def _design(
    kind: SimonKind,
    b: _Best,
    p0: float,
    p1: float,
    alpha: float,
    power: float,
    q_low: float | None,
    q_high: float | None,
) -> SimonDesign:
    oc0 = compute_simon_characteristics(b.r1, b.n1, b.r, b.n, p0)
    oc1 = compute_simon_characteristics(b.r1, b.n1, b.r, b.n, p1)
    return SimonDesign(
        kind=kind,
        r1=b.r1,
        n1=b.n1,
        r=b.r,
        n=b.n,
        p0=p0,
        p1=p1,
        alpha=alpha,
        power=power,
        attained_alpha=oc0.reject,
        attained_power=oc1.reject,
        pet0=oc0.pet,
        en0=oc0.en,
        pet1=oc1.pet,
        en1=oc1.en,
        q_low=q_low,
        q_high=q_high,
    )


def make_simon_design(
    r1: int, n1: int, r: int, n: int, p0: float, p1: float, alpha: float, power: float
) -> SimonDesign:
    """A user-given (r1/n1, r/n) with its exact characteristics, labelled ``custom``."""
    check_simon_design(r1, n1, r, n)
    p0 = check_rate("p0", p0)
    p1 = check_rate("p1", p1)
    check_ordered_rates("p0", p0, "p1", p1)
    b = _Best(n, n1, r1, r, 0.0, 0.0)
    alpha = check_error_rate("alpha", alpha)
    power = check_error_rate("power", power)
    return _design("custom", b, p0, p1, alpha, power, None, None)
