"""Continuous toxicity monitoring (Beta-binomial, Thall-Simon-Estey style)."""

from __future__ import annotations

import itertools

import pytest
from scipy import stats

from bvall.design import (
    Scenario,
    informed_beta_prior,
    make_toxicity_monitor,
    simulate_characteristics,
)
from bvall.errors import InputError


def test_boundary_table_and_posterior_at_each_threshold() -> None:
    m = make_toxicity_monitor(limit=0.2, threshold=0.9, n_max=40)
    assert m.boundaries.toxicity is not None
    for n, t in zip(m.looks, m.boundaries.toxicity, strict=True):

        def post(x: int, n: int = n) -> float:
            return float(stats.beta.sf(0.2, 0.2 + x, 0.8 + n - x))

        if t <= n:
            assert post(t) > 0.9  # at the boundary: stop
        if t - 1 >= 0:
            assert post(t - 1) <= 0.9  # one toxicity fewer: continue


def test_boundaries_are_monotone_with_unit_steps() -> None:
    m = make_toxicity_monitor(limit=0.25, threshold=0.85, n_max=60)
    t = m.boundaries.toxicity
    assert t is not None
    assert all(0 <= b - a <= 1 for a, b in itertools.pairwise(t))


def test_hand_checked_rows() -> None:
    # Beta(0.2, 0.8) prior, limit 0.2, threshold 0.9: Pr(p > 0.2 | 3 of 5) = 0.95 > 0.9 and
    # Pr(p > 0.2 | 2 of 5) = 0.79 (scipy.stats.beta.sf(0.2, 2.2, 3.8)).
    m = make_toxicity_monitor(limit=0.2, threshold=0.9, n_max=10)
    rows = {r["patients"]: r for r in m.boundary_rows()}
    assert rows[5]["stop_if_toxicities_at_least"] == 3
    assert stats.beta.sf(0.2, 3.2, 2.8) > 0.9 > stats.beta.sf(0.2, 2.2, 3.8)


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.35])
def test_exact_and_simulation_agree(rate: float) -> None:
    m = make_toxicity_monitor(limit=0.2, threshold=0.9, n_max=40, rates=[rate])
    exact = m.characteristics[0]
    sim = simulate_characteristics(m.boundaries, Scenario("r", p_toxicity=rate), 200_000, seed=5)
    for key in ("stop_toxicity", "final_toxicity", "passed", "expected_n"):
        assert abs(getattr(sim, key) - getattr(exact, key)) <= 4 * max(sim.se[key], 1e-6), key


def test_stopping_probability_rises_with_the_true_rate() -> None:
    m = make_toxicity_monitor(limit=0.2, threshold=0.9, n_max=40, rates=[0.05, 0.1, 0.2, 0.3, 0.4])
    stops = [1 - oc.passed for oc in m.characteristics]
    assert stops == sorted(stops)


def test_informed_prior_and_cohorts() -> None:
    p = informed_beta_prior("crs_icans_grade3plus", 0.5)
    m = make_toxicity_monitor(0.2, 0.9, 30, prior=p, first_look=6, every=3)
    assert m.looks == (6, 9, 12, 15, 18, 21, 24, 27, 30)
    assert m.prior.ess == pytest.approx(7.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 1.2}, r"limit \(highest acceptable toxicity rate\)=1.2 is outside"),
        ({"threshold": 1.0}, r"threshold \(posterior probability\)=1.0 is outside"),
        ({"n_max": 0}, "n_max=0 is too small"),
        ({"first_look": 50}, "first_look=50 is after n_max=40"),
    ],
)
def test_bad_input(kwargs, message) -> None:  # type: ignore[no-untyped-def]
    args = {"limit": 0.2, "threshold": 0.9, "n_max": 40}
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        make_toxicity_monitor(**args)  # type: ignore[arg-type]
