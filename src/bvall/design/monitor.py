"""Continuous toxicity monitoring with a Beta-binomial stopping rule (Thall-Simon-Estey style).

After each monitored patient the trial stops if Pr(p_T > limit | data) > threshold, where p_T is the
toxicity rate (e.g. grade >= 3 CRS or neurological toxicity), ``limit`` the highest acceptable rate
and the posterior is Beta(a + x, b + n - x) under a Beta(a, b) prior. Before the trial this reduces
to a table: stop as soon as the number of toxicities among the first n patients reaches t_n.

Source: Thall PF, Simon RM, Estey EH. Bayesian sequential monitoring designs for single-arm
clinical trials with multiple outcomes. Stat Med 1995;14:357-379 (their rule compares with a prior
for the standard therapy; the fixed-limit form used here is the common simplification, e.g.
Berry, Carlin, Lee & Mueller, Bayesian Adaptive Methods for Clinical Trials, 2010, section 4.3).
SciPy's beta distribution gives the posterior; the table and its exact operating characteristics
are computed by :mod:`bvall.design.sequential`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from bvall.design.priors import BetaPrior, vague_beta_prior
from bvall.design.sequential import (
    Boundaries,
    OperatingCharacteristics,
    Scenario,
    compute_exact_characteristics,
)
from bvall.design.validation import check_error_rate, check_positive_int, check_rate
from bvall.errors import InputError


@dataclass(frozen=True)
class ToxicityMonitor:
    """A toxicity stopping rule, its boundary table and exact operating characteristics."""

    limit: float
    threshold: float
    prior: BetaPrior
    boundaries: Boundaries
    characteristics: tuple[OperatingCharacteristics, ...]

    @property
    def looks(self) -> tuple[int, ...]:
        return self.boundaries.looks

    @property
    def n_max(self) -> int:
        return self.boundaries.n_max

    def boundary_rows(self) -> list[dict[str, Any]]:
        """One row per monitored patient count: the number of toxicities that stops the trial
        (None when no number of toxicities among n patients can cross the threshold)."""
        assert self.boundaries.toxicity is not None
        rows = []
        for n, t in zip(self.looks, self.boundaries.toxicity, strict=True):
            rows.append(
                {
                    "patients": n,
                    "stop_if_toxicities_at_least": t if t <= n else None,
                    "posterior_at_boundary": (
                        compute_monitor_posterior(self.prior, self.limit, n, t) if t <= n else None
                    ),
                }
            )
        return rows


def compute_monitor_posterior(prior: BetaPrior, limit: float, n: int, toxicities: int) -> float:
    """Pr(p_T > limit | toxicities among n) under a Beta prior."""
    return float(stats.beta.sf(limit, prior.a + toxicities, prior.b + n - toxicities))


def compute_monitor_boundaries(
    limit: float, threshold: float, looks: tuple[int, ...], prior: BetaPrior
) -> Boundaries:
    """t_n = smallest x with Pr(p_T > limit | x of n) > threshold (n + 1 when none)."""
    out = []
    for n in looks:
        x = np.arange(n + 1)
        q = stats.beta.sf(limit, prior.a + x, prior.b + n - x)
        out.append(int(np.searchsorted(q, threshold, side="right")))
    return Boundaries(looks, None, tuple(out))


def make_toxicity_monitor(
    limit: float,
    threshold: float,
    n_max: int,
    prior: BetaPrior | None = None,
    first_look: int = 1,
    every: int = 1,
    rates: list[float] | None = None,
) -> ToxicityMonitor:
    """Monitor toxicity after every ``every`` patients from ``first_look`` up to ``n_max``.

    ``limit``: highest acceptable toxicity rate (0-1). ``threshold``: posterior probability above
    which the trial stops (e.g. 0.9). ``rates``: true toxicity rates for the operating
    characteristics (default limit - 0.1, limit, limit + 0.1 within (0, 1)). The default prior is
    vague: mean at the limit, ESS 1.
    """
    limit = check_rate("limit (highest acceptable toxicity rate)", limit)
    threshold = check_error_rate("threshold (posterior probability)", threshold)
    check_positive_int("n_max", n_max)
    check_positive_int("first_look", first_look)
    check_positive_int("every", every)
    if first_look > n_max:
        raise InputError(f"first_look={first_look} is after n_max={n_max}.")
    looks = tuple(range(first_look, n_max + 1, every))
    if looks[-1] != n_max:
        looks = (*looks, n_max)
    prior = prior or vague_beta_prior(limit)
    b = compute_monitor_boundaries(limit, threshold, looks, prior)
    if rates is None:
        rates = [r for r in (round(limit - 0.1, 4), limit, round(limit + 0.1, 4)) if 0 < r < 1]
    scen = [Scenario(f"toxicity {r:g}", p_toxicity=check_rate("toxicity rate", r)) for r in rates]
    ocs = tuple(compute_exact_characteristics(b, s) for s in scen)
    return ToxicityMonitor(limit, threshold, prior, b, ocs)
