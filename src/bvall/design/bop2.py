"""BOP2: Bayesian optimal phase II design (Zhou, Lee & Yuan 2017, Stat Med 36:3302-3314).

Binary efficacy endpoint, or joint efficacy + toxicity. At each planned look with n evaluable
patients the trial stops

* for futility if Pr(p_E <= phi_E | data) > C(n), and (joint design)
* for toxicity if Pr(p_T > phi_T | data) > C(n),

with C(n) = 1 - lambda * (n / N) ** gamma. At the final look N the regimen is declared promising
when neither rule is met. (lambda, gamma) are calibrated on a grid so that the type I error under
the null scenario(s) is at most alpha while the power under the alternative is maximal (paper,
section 2.3). The posteriors are Beta (binary) or the Beta margins of a Dirichlet (joint), so the
rules reduce before the trial to integer boundaries: stop if responses <= f_k or toxicities >= t_k.

Type I error for the joint design is a named setting, ``type1_control``:

* ``"futile_and_toxic"`` (default): the 2017 paper's single null scenario (phi_E, phi_T).
* ``"each_null"``: the maximum over the three null corners -- futile and toxic (phi_E, phi_T),
  futile but safe (phi_E, p_T1), effective but toxic (p_E1, phi_T). Chen, Zhou, Lee & Yuan
  (BOP2-TE, 2024, arXiv:2408.05816) point out that calibrating at the single corner leaves the
  "effective but toxic" case uncontrolled. With one C(n) for both endpoints this costs much power
  (about 0.43 instead of 0.78 in the paper's N = 40 example), so it is offered, not imposed.

Whatever the setting, the operating characteristics are always reported at all three null corners,
so the probability of declaring an effective-but-toxic regimen promising is never hidden.

The default grid follows the BOP2 web application: lambda in [0.5, 0.999], gamma in [0, 1]. Larger
gamma values make early looks nearly never stop; maximising power alone would drift there, which
defeats the purpose of interim monitoring.

Hand-written: no Python library implements BOP2 (the authors' software is the trialdesign.org web
application; BOP2FE is an R package). SciPy's beta distribution gives the posterior probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from bvall.design.priors import BetaPrior, DirichletPrior, vague_beta_prior, vague_dirichlet_prior
from bvall.design.sequential import (
    EXACT_STATE_LIMIT,
    Boundaries,
    OperatingCharacteristics,
    Scenario,
    compute_exact_characteristics,
    simulate_characteristics,
)
from bvall.design.validation import (
    check_error_rate,
    check_looks,
    check_ordered_rates,
    check_rate,
)
from bvall.errors import InputError

Endpoint = Literal["binary", "efficacy_toxicity"]
TypeOneControl = Literal["each_null", "futile_and_toxic"]
TYPE1_CONTROLS: tuple[str, ...] = ("each_null", "futile_and_toxic")


@dataclass(frozen=True)
class CalibrationGrid:
    """Grid searched for (lambda, gamma); lambda in [lam_min, lam_max], gamma in [0, gamma_max]."""

    lam_min: float = 0.5
    lam_max: float = 0.999
    lam_step: float = 0.001
    gamma_max: float = 1.0
    gamma_step: float = 0.01

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        lam = np.round(np.arange(self.lam_min, self.lam_max + 1e-9, self.lam_step), 6)
        gam = np.round(np.arange(0.0, self.gamma_max + 1e-9, self.gamma_step), 6)
        return lam, gam


#: Coarser default grid for the joint design, whose exact evaluation is 2-D.
JOINT_GRID = CalibrationGrid(lam_step=0.005, gamma_step=0.02)


def compute_bop2_cutoff(n: int, n_max: int, lam: float, gamma: float) -> float:
    """C(n) = 1 - lambda * (n / N) ** gamma (Zhou, Lee & Yuan 2017, eq. 3)."""
    return 1.0 - lam * (n / n_max) ** gamma


def compute_futility_posterior(prior: BetaPrior, phi: float, n: int, responses: int) -> float:
    """Pr(p_E <= phi | responses of n) under a Beta prior."""
    return float(stats.beta.cdf(phi, prior.a + responses, prior.b + n - responses))


def compute_toxicity_posterior(prior: BetaPrior, phi: float, n: int, toxicities: int) -> float:
    """Pr(p_T > phi | toxicities of n) under a Beta prior."""
    return float(stats.beta.sf(phi, prior.a + toxicities, prior.b + n - toxicities))


def _futility_bounds(
    looks: tuple[int, ...], prior: BetaPrior, phi: float, cut: np.ndarray
) -> np.ndarray:
    """f[g, k] = largest x with Pr(p <= phi | x, n_k) > C[g, k] (-1: none); C is (grid, looks)."""
    out = np.empty(cut.shape, dtype=np.int64)
    for k, n in enumerate(looks):
        x = np.arange(n + 1)
        q = stats.beta.cdf(phi, prior.a + x, prior.b + n - x)  # decreasing in x
        # count of x whose posterior exceeds the cut = number of stopping outcomes
        out[:, k] = np.searchsorted(-q, -cut[:, k], side="left") - 1
    return out


def _toxicity_bounds(
    looks: tuple[int, ...], prior: BetaPrior, phi: float, cut: np.ndarray
) -> np.ndarray:
    """t[g, k] = smallest x with Pr(p > phi | x, n_k) > C[g, k] (n_k + 1: none)."""
    out = np.empty(cut.shape, dtype=np.int64)
    for k, n in enumerate(looks):
        x = np.arange(n + 1)
        q = stats.beta.sf(phi, prior.a + x, prior.b + n - x)  # increasing in x
        out[:, k] = np.searchsorted(q, cut[:, k], side="right")
    return out


def compute_bop2_boundaries(
    looks: tuple[int, ...],
    lam: float,
    gamma: float,
    prior_efficacy: BetaPrior,
    phi_efficacy: float,
    prior_toxicity: BetaPrior | None = None,
    phi_toxicity: float | None = None,
) -> Boundaries:
    """Integer boundaries of a BOP2 design at ``looks`` for given (lambda, gamma)."""
    cut = np.array([[compute_bop2_cutoff(n, looks[-1], lam, gamma) for n in looks]])
    f = _futility_bounds(looks, prior_efficacy, phi_efficacy, cut)[0]
    t = None
    if prior_toxicity is not None and phi_toxicity is not None:
        t = tuple(int(v) for v in _toxicity_bounds(looks, prior_toxicity, phi_toxicity, cut)[0])
    return Boundaries(looks, tuple(int(v) for v in f), t)


@dataclass(frozen=True)
class Bop2Design:
    """A calibrated BOP2 design: parameters, boundaries and operating characteristics."""

    endpoint: Endpoint
    looks: tuple[int, ...]
    phi_efficacy: float
    alternative_efficacy: float
    alpha: float
    lam: float
    gamma: float
    prior_efficacy: BetaPrior
    boundaries: Boundaries
    type1_control: TypeOneControl
    null_scenarios: tuple[Scenario, ...]  # the scenarios the type I error is calibrated at
    alternative: Scenario
    attained_alpha: float
    power: float
    characteristics: tuple[OperatingCharacteristics, ...]  # every null corner, then alternative
    phi_toxicity: float | None = None
    alternative_toxicity: float | None = None
    prior_toxicity: BetaPrior | None = None
    prior_joint: DirichletPrior | None = None
    grid: CalibrationGrid = field(default_factory=CalibrationGrid)
    equivalent_grid_points: int = 1

    @property
    def n_max(self) -> int:
        return self.looks[-1]

    def cutoffs(self) -> list[float]:
        return [compute_bop2_cutoff(n, self.n_max, self.lam, self.gamma) for n in self.looks]

    def boundary_rows(self) -> list[dict[str, Any]]:
        """One row per look, as a DSMB reads it."""
        rows = []
        b = self.boundaries
        for k, (n, c) in enumerate(zip(self.looks, self.cutoffs(), strict=True)):
            row: dict[str, Any] = {
                "look": k + 1,
                "patients": n,
                "cutoff": c,
                "stop_if_responses_at_most": b.futility[k] if b.futility else None,
            }
            if b.toxicity is not None:
                row["stop_if_toxicities_at_least"] = b.toxicity[k]
            rows.append(row)
        return rows


def _default_priors(
    endpoint: Endpoint,
    phi_e: float,
    phi_t: float | None,
    null_both: float | None,
) -> tuple[BetaPrior, BetaPrior | None, DirichletPrior | None]:
    if endpoint == "binary":
        return vague_beta_prior(phi_e), None, None
    assert phi_t is not None
    cells = Scenario("null", phi_e, phi_t, null_both).cells
    joint = vague_dirichlet_prior(cells)
    return joint.efficacy, joint.toxicity, joint


def _null_scenarios(
    endpoint: Endpoint,
    control: TypeOneControl,
    phi_e: float,
    p_e1: float,
    phi_t: float | None,
    p_t1: float | None,
    null_both: float | None,
) -> tuple[Scenario, ...]:
    if endpoint == "binary":
        return (Scenario("null", phi_e),)
    assert phi_t is not None
    assert p_t1 is not None
    corner = Scenario("null: futile and toxic", phi_e, phi_t, null_both)
    if control == "futile_and_toxic":
        return (corner,)
    return (
        corner,
        Scenario("null: futile but safe", phi_e, p_t1),
        Scenario("null: effective but toxic", p_e1, phi_t),
    )


def compute_bop2_design(
    looks: list[int] | tuple[int, ...],
    phi_efficacy: float,
    alternative_efficacy: float,
    alpha: float = 0.1,
    phi_toxicity: float | None = None,
    alternative_toxicity: float | None = None,
    null_both: float | None = None,
    alternative_both: float | None = None,
    prior_efficacy: BetaPrior | None = None,
    prior_toxicity: BetaPrior | None = None,
    prior_joint: DirichletPrior | None = None,
    type1_control: TypeOneControl = "futile_and_toxic",
    grid: CalibrationGrid | None = None,
) -> Bop2Design:
    """Calibrate a BOP2 design (binary, or joint when ``phi_toxicity`` is given).

    Rates are proportions (0-1). ``looks`` are the numbers of evaluable patients at each analysis;
    the last is N. ``null_both``/``alternative_both`` give P(response and toxicity) under the null
    corner and the alternative (None: independence). Priors default to the vague BOP2 priors (mean
    at the null, ESS 1); a Dirichlet ``prior_joint`` overrides the two Beta priors.
    """
    lk = check_looks(looks)
    phi_e = check_rate("phi_efficacy (null response rate)", phi_efficacy)
    p_e1 = check_rate("alternative response rate", alternative_efficacy)
    check_ordered_rates("null response rate", phi_e, "alternative response rate", p_e1)
    alpha = check_error_rate("alpha", alpha)
    if type1_control not in TYPE1_CONTROLS:
        raise InputError(
            f"type1_control={type1_control!r} is not known; expected one of {TYPE1_CONTROLS}."
        )
    endpoint: Endpoint = "binary"
    phi_t = p_t1 = None
    if phi_toxicity is not None or alternative_toxicity is not None:
        if phi_toxicity is None or alternative_toxicity is None:
            raise InputError(
                "the joint design needs both phi_toxicity (unacceptable toxicity rate) and "
                "alternative_toxicity (acceptable rate below it)."
            )
        endpoint = "efficacy_toxicity"
        phi_t = check_rate("phi_toxicity (unacceptable toxicity rate)", phi_toxicity)
        p_t1 = check_rate("alternative toxicity rate", alternative_toxicity)
        check_ordered_rates("alternative toxicity rate", p_t1, "unacceptable toxicity rate", phi_t)
    grid = grid or (JOINT_GRID if endpoint == "efficacy_toxicity" else CalibrationGrid())
    d_e, d_t, d_j = _default_priors(endpoint, phi_e, phi_t, null_both)
    if prior_joint is not None:
        d_e, d_t, d_j = prior_joint.efficacy, prior_joint.toxicity, prior_joint
    prior_e = prior_efficacy or d_e
    prior_t = (prior_toxicity or d_t) if endpoint == "efficacy_toxicity" else None
    if prior_efficacy is not None or prior_toxicity is not None:
        d_j = prior_joint  # Beta margins given explicitly: no Dirichlet to report
    nulls = _null_scenarios(endpoint, type1_control, phi_e, p_e1, phi_t, p_t1, null_both)
    alt = Scenario("alternative", p_e1, p_t1, alternative_both)

    lam_v, gam_v = grid.values()
    lam_g, gam_g = np.meshgrid(lam_v, gam_v, indexing="ij")
    lam_f, gam_f = lam_g.ravel(), gam_g.ravel()
    frac = np.asarray(lk, dtype=float) / lk[-1]
    cut = 1.0 - lam_f[:, None] * frac[None, :] ** gam_f[:, None]
    keys = _futility_bounds(lk, prior_e, phi_e, cut)
    if prior_t is not None and phi_t is not None:
        keys = np.hstack([keys, _toxicity_bounds(lk, prior_t, phi_t, cut)])
    uniq, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    # Evaluate each distinct boundary table once; keep grid order (smallest lambda, gamma first).
    order = np.argsort(first)
    k = len(lk)
    best: tuple[float, float, int] | None = None  # (power, -EN0, index)
    for i in order:
        row = uniq[i]
        b = Boundaries(
            lk,
            tuple(int(v) for v in row[:k]),
            tuple(int(v) for v in row[k:]) if prior_t is not None else None,
        )
        t1 = max(_exact(b, s).passed for s in nulls)
        if t1 > alpha + 1e-12:
            continue
        oc_alt = _exact(b, alt)
        score = (oc_alt.passed, -_exact(b, nulls[0]).expected_n)
        if (
            best is None
            or score[0] > best[0] + 1e-12
            or (abs(score[0] - best[0]) <= 1e-12 and score[1] > best[1] + 1e-9)
        ):
            best = (score[0], score[1], int(i))
    if best is None:
        raise InputError(
            f"No (lambda, gamma) on the grid keeps the type I error <= {alpha} with "
            f"{lk[-1]} patients; increase N or alpha."
        )
    i = best[2]
    g = int(first[i])
    return make_bop2_design(
        looks=lk,
        phi_efficacy=phi_e,
        alternative_efficacy=p_e1,
        alpha=alpha,
        lam=float(lam_f[g]),
        gamma=float(gam_f[g]),
        phi_toxicity=phi_t,
        alternative_toxicity=p_t1,
        null_both=null_both,
        alternative_both=alternative_both,
        prior_efficacy=prior_e,
        prior_toxicity=prior_t,
        prior_joint=d_j if endpoint == "efficacy_toxicity" else None,
        type1_control=type1_control,
        grid=grid,
        equivalent_grid_points=int(counts[i]),
    )


def make_bop2_design(
    looks: tuple[int, ...],
    phi_efficacy: float,
    alternative_efficacy: float,
    alpha: float,
    lam: float,
    gamma: float,
    phi_toxicity: float | None = None,
    alternative_toxicity: float | None = None,
    null_both: float | None = None,
    alternative_both: float | None = None,
    prior_efficacy: BetaPrior | None = None,
    prior_toxicity: BetaPrior | None = None,
    prior_joint: DirichletPrior | None = None,
    type1_control: TypeOneControl = "futile_and_toxic",
    grid: CalibrationGrid | None = None,
    equivalent_grid_points: int = 1,
) -> Bop2Design:
    """A BOP2 design with given (lambda, gamma): boundaries and exact operating characteristics.

    Used after calibration and when a saved design is read back; no search is done here.
    """
    lk = check_looks(looks)
    phi_e = check_rate("phi_efficacy (null response rate)", phi_efficacy)
    p_e1 = check_rate("alternative response rate", alternative_efficacy)
    if not (0.0 < lam < 1.0) or not (gamma >= 0.0):
        raise InputError(f"lambda={lam!r} must be in (0, 1) and gamma={gamma!r} >= 0.")
    endpoint: Endpoint = "binary" if phi_toxicity is None else "efficacy_toxicity"
    d_e, d_t, d_j = _default_priors(endpoint, phi_e, phi_toxicity, null_both)
    if prior_joint is not None:
        d_e, d_t, d_j = prior_joint.efficacy, prior_joint.toxicity, prior_joint
    prior_e = prior_efficacy or d_e
    prior_t = (prior_toxicity or d_t) if endpoint == "efficacy_toxicity" else None
    if (
        endpoint == "efficacy_toxicity"
        and (prior_efficacy is not None or prior_toxicity is not None)
        and prior_joint is None
    ):
        d_j = None
    b = compute_bop2_boundaries(lk, lam, gamma, prior_e, phi_e, prior_t, phi_toxicity)
    nulls = _null_scenarios(
        endpoint, type1_control, phi_e, p_e1, phi_toxicity, alternative_toxicity, null_both
    )
    reported = _null_scenarios(
        endpoint, "each_null", phi_e, p_e1, phi_toxicity, alternative_toxicity, null_both
    )
    alt = Scenario("alternative", p_e1, alternative_toxicity, alternative_both)
    ocs = tuple(_exact(b, s) for s in (*reported, alt))
    return Bop2Design(
        endpoint=endpoint,
        looks=lk,
        phi_efficacy=phi_e,
        alternative_efficacy=p_e1,
        alpha=alpha,
        lam=lam,
        gamma=gamma,
        prior_efficacy=prior_e,
        boundaries=b,
        type1_control=type1_control,
        null_scenarios=nulls,
        alternative=alt,
        attained_alpha=max(_exact(b, s).passed for s in nulls),
        power=ocs[-1].passed,
        characteristics=ocs,
        phi_toxicity=phi_toxicity,
        alternative_toxicity=alternative_toxicity,
        prior_toxicity=prior_t,
        prior_joint=d_j if endpoint == "efficacy_toxicity" else None,
        grid=grid or CalibrationGrid(),
        equivalent_grid_points=equivalent_grid_points,
    )


def _exact(b: Boundaries, s: Scenario) -> OperatingCharacteristics:
    return compute_exact_characteristics(b, s)


def compute_bop2_characteristics(
    design: Bop2Design,
    scenarios: list[Scenario],
    method: Literal["auto", "exact", "simulation"] = "auto",
    n_trials: int = 100_000,
    seed: int = 20250101,
) -> list[OperatingCharacteristics]:
    """Operating characteristics under user scenarios: exact where feasible, else simulated."""
    out = []
    for s in scenarios:
        exact_ok = design.endpoint == "binary" or (design.n_max + 1) ** 2 <= EXACT_STATE_LIMIT
        if method == "exact" or (method == "auto" and exact_ok):
            out.append(compute_exact_characteristics(design.boundaries, s))
        else:
            out.append(simulate_characteristics(design.boundaries, s, n_trials, seed))
    return out
