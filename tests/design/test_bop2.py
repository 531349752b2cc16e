"""BOP2 (Zhou, Lee & Yuan 2017, Stat Med 36:3302-3314): boundaries, calibration, characteristics.

Published cross-checks:
* BOP2FE R package (CRAN 2024; README examples, which use the BOP2 futility rule C(n) = 1 -
  lambda (n/N)^gamma with the vague prior at the null): binary H0 0.2, N = 40, looks 10, 15, ..., 40,
  lambda 0.909, gamma 1 -> stop if responses <= 1, 2, 3, 5, 7, 9, 11; joint efficacy/toxicity,
  H0 cells (0.15, 0.30, 0.15, 0.40), lambda 0.7, gamma 1 -> responses <= 3, 5, 8, 10, 13, 16, 19 and
  toxicities >= 5, 6, 7, 8, 9, 10, 11.
* The joint efficacy/toxicity example of Zhou et al. 2017 (N = 40, looks every 5 from 10, alpha 0.1,
  H0 cells (0.15, 0.30, 0.15, 0.40), H1 (0.18, 0.42, 0.02, 0.38)): calibrated lambda = 0.625,
  gamma = 0.98, as used by the multibrasBOP2 R package (get_stopbound example, "the table from the
  article of Zhou et al. 2017").
"""

from __future__ import annotations

import itertools

import pytest

from bvall.design import (
    CalibrationGrid,
    Scenario,
    compute_bop2_boundaries,
    compute_bop2_characteristics,
    compute_bop2_design,
    compute_exact_characteristics,
    informed_beta_prior,
    simulate_characteristics,
    vague_beta_prior,
    vague_dirichlet_prior,
)
from bvall.errors import InputError

LOOKS = (10, 15, 20, 25, 30, 35, 40)


def test_binary_boundaries_match_bop2fe_readme() -> None:
    b = compute_bop2_boundaries(LOOKS, 0.909, 1.0, vague_beta_prior(0.2), 0.2)
    assert b.futility == (1, 2, 3, 5, 7, 9, 11)
    assert b.toxicity is None


def test_joint_boundaries_match_bop2fe_readme() -> None:
    prior = vague_dirichlet_prior((0.15, 0.30, 0.15, 0.40))
    b = compute_bop2_boundaries(LOOKS, 0.7, 1.0, prior.efficacy, 0.45, prior.toxicity, 0.30)
    assert b.futility == (3, 5, 8, 10, 13, 16, 19)
    assert b.toxicity == (5, 6, 7, 8, 9, 10, 11)


def test_boundary_is_where_the_posterior_crosses_the_cutoff() -> None:
    """Below/at/above each boundary: the boundary count stops, one more response does not."""
    from scipy import stats

    lam, gamma, prior = 0.909, 1.0, vague_beta_prior(0.2)
    b = compute_bop2_boundaries(LOOKS, lam, gamma, prior, 0.2)
    assert b.futility is not None
    for n, f in zip(LOOKS, b.futility, strict=True):
        c = 1 - lam * (n / 40) ** gamma
        assert stats.beta.cdf(0.2, prior.a + f, prior.b + n - f) > c
        assert stats.beta.cdf(0.2, prior.a + f + 1, prior.b + n - f - 1) <= c


def test_joint_calibration_reproduces_the_paper_example() -> None:
    # The default joint grid (lambda step 0.005, gamma step 0.02) gives the same optimum (checked
    # with `bvall design bop2`, docs/design.md); this sub-grid around it keeps the test fast.
    grid = CalibrationGrid(lam_min=0.55, lam_max=0.70, lam_step=0.005, gamma_step=0.02)
    d = compute_bop2_design(
        LOOKS, 0.45, 0.60, 0.1, phi_toxicity=0.30, alternative_toxicity=0.20,
        null_both=0.15, alternative_both=0.18, grid=grid,
    )  # fmt: skip
    assert (d.lam, d.gamma) == (0.625, 0.98)
    assert d.attained_alpha <= 0.1
    assert d.boundaries.futility == (2, 5, 7, 10, 13, 16, 19)
    assert d.boundaries.toxicity == (5, 6, 8, 9, 10, 11, 12)
    labels = [oc.scenario.label for oc in d.characteristics]
    assert labels == [
        "null: futile and toxic",
        "null: futile but safe",
        "null: effective but toxic",
        "alternative",
    ]
    # The uncontrolled corners are reported, not hidden.
    assert d.characteristics[2].passed > 0.1


def test_binary_calibration_maximises_power_under_alpha() -> None:
    grid = CalibrationGrid(lam_step=0.02, gamma_step=0.1)
    d = compute_bop2_design(LOOKS, 0.2, 0.4, 0.1, grid=grid)
    assert d.attained_alpha <= 0.1
    # Brute force over the same grid: no feasible point has more power.
    lam_v, gam_v = grid.values()
    best = 0.0
    for lam in lam_v:
        for gam in gam_v:
            b = compute_bop2_boundaries(LOOKS, float(lam), float(gam), d.prior_efficacy, 0.2)
            if compute_exact_characteristics(b, Scenario("h0", 0.2)).passed <= 0.1:
                best = max(best, compute_exact_characteristics(b, Scenario("h1", 0.4)).passed)
    assert d.power == pytest.approx(best, abs=1e-12)


def test_boundaries_are_monotone() -> None:
    d = compute_bop2_design(
        LOOKS, 0.45, 0.60, 0.1, phi_toxicity=0.30, alternative_toxicity=0.20,
        grid=CalibrationGrid(lam_step=0.04, gamma_step=0.2),
    )  # fmt: skip
    f, t = d.boundaries.futility, d.boundaries.toxicity
    assert f is not None
    assert t is not None
    assert all(b >= a for a, b in itertools.pairwise(f))
    assert all(b >= a for a, b in itertools.pairwise(t))
    cut = d.cutoffs()
    assert all(b <= a for a, b in itertools.pairwise(cut))


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario("null corner", 0.45, 0.30, 0.15),
        Scenario("alternative", 0.60, 0.20, 0.18),
        Scenario("independent", 0.50, 0.25),
    ],
)
def test_joint_exact_and_simulation_agree(scenario: Scenario) -> None:
    """200 000 simulated trials: every probability and E[N] within 4 Monte Carlo SEs."""
    prior = vague_dirichlet_prior((0.15, 0.30, 0.15, 0.40))
    b = compute_bop2_boundaries(LOOKS, 0.625, 0.98, prior.efficacy, 0.45, prior.toxicity, 0.30)
    exact = compute_exact_characteristics(b, scenario)
    sim = simulate_characteristics(b, scenario, 200_000, seed=11)
    for key in ("stop_futility", "stop_toxicity", "stop_both", "passed", "expected_n"):
        assert abs(getattr(sim, key) - getattr(exact, key)) <= 4 * max(sim.se[key], 1e-6), key
    total = exact.passed + exact.early_stop + exact.final_futility + exact.final_toxicity
    assert total + exact.final_both == pytest.approx(1.0, abs=1e-12)


def test_user_scenarios_exact_or_simulated() -> None:
    d = compute_bop2_design(LOOKS, 0.2, 0.4, 0.1, grid=CalibrationGrid(lam_step=0.02))
    ex = compute_bop2_characteristics(d, [Scenario("0.3", 0.3)])
    si = compute_bop2_characteristics(d, [Scenario("0.3", 0.3)], "simulation", 50_000, 3)
    assert ex[0].method == "exact"
    assert si[0].method == "simulation"
    assert abs(ex[0].passed - si[0].passed) <= 4 * si[0].se["passed"]


def test_informed_prior_is_used_and_alpha_still_holds() -> None:
    prior = informed_beta_prior("cr_mrd_negative", weight=0.5)
    d = compute_bop2_design(
        LOOKS, 0.6, 0.8, 0.1, prior_efficacy=prior, grid=CalibrationGrid(lam_step=0.01)
    )
    assert d.prior_efficacy == prior
    assert d.attained_alpha <= 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phi_efficacy": 0.4, "alternative_efficacy": 0.2}, "must be greater than null response"),
        ({"alpha": 1.2}, r"alpha=1.2 is outside \(0, 1\)"),
        ({"looks": (10, 10, 20)}, "not strictly increasing"),
        ({"looks": ()}, "looks is empty"),
        ({"phi_toxicity": 0.3}, "needs both phi_toxicity"),
        (
            {"phi_toxicity": 0.2, "alternative_toxicity": 0.3},
            "must be greater than alternative toxicity",
        ),
        ({"type1_control": "strict"}, "type1_control='strict' is not known"),
        ({"alpha": 0.001, "looks": (5, 10)}, "No \\(lambda, gamma\\)"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, message) -> None:  # type: ignore[no-untyped-def]
    args = {"looks": LOOKS, "phi_efficacy": 0.2, "alternative_efficacy": 0.4, "alpha": 0.1}
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        compute_bop2_design(**args, grid=CalibrationGrid(lam_step=0.05, gamma_step=0.25))  # type: ignore[arg-type]


def test_impossible_joint_probability() -> None:
    with pytest.raises(InputError, match=r"P\(efficacy and toxicity\)=0.5 is impossible"):
        Scenario("x", 0.45, 0.30, 0.5)
