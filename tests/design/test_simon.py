"""Simon two-stage designs against Simon (1989) and R clinfun::ph2simon.

Published values: Simon R. Optimal two-stage designs for phase II clinical trials. Controlled
Clinical Trials 1989;10:1-10, Table 1 (p1 - p0 = 0.20) and Table 2 (p1 - p0 = 0.15); each row
gives r1/n1, r/n, EN(p0) (1 decimal) and PET(p0) (2 decimals) for the optimal and minimax
designs. Tolerances: designs exact; EN within 0.05 and PET within 0.005 (the table's rounding).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bvall.design import (
    Scenario,
    compute_exact_characteristics,
    compute_simon_characteristics,
    compute_simon_designs,
    simulate_characteristics,
)
from bvall.design.sequential import Boundaries
from bvall.errors import InputError

REF = Path(__file__).parents[1] / "reference" / "design"

# (table, p0, p1, alpha, beta, optimal (r1, n1, r, n, EN0, PET0), minimax (...))
SIMON_1989 = [
    ("T1", 0.05, 0.25, 0.10, 0.10, (0, 9, 2, 24, 14.5, 0.63), (0, 13, 2, 20, 16.4, 0.51)),
    ("T1", 0.10, 0.30, 0.05, 0.20, (1, 10, 5, 29, 15.0, 0.74), (1, 15, 5, 25, 19.5, 0.55)),
    ("T1", 0.20, 0.40, 0.05, 0.20, (3, 13, 12, 43, 20.6, 0.75), (4, 18, 10, 33, 22.3, 0.72)),
    ("T1", 0.30, 0.50, 0.10, 0.10, (7, 22, 17, 46, 29.9, 0.67), (7, 28, 15, 39, 35.0, 0.36)),
    ("T1", 0.50, 0.70, 0.05, 0.10, (13, 24, 36, 61, 34.0, 0.73), (14, 27, 32, 53, 36.1, 0.65)),
    ("T1", 0.70, 0.90, 0.05, 0.20, (4, 6, 22, 27, 14.8, 0.58), (19, 23, 21, 26, 23.2, 0.95)),
    ("T2", 0.05, 0.20, 0.10, 0.10, (0, 12, 3, 37, 23.5, 0.54), (0, 18, 3, 32, 26.4, 0.40)),
    ("T2", 0.10, 0.25, 0.05, 0.10, (2, 21, 10, 66, 36.8, 0.65), (3, 31, 9, 55, 40.0, 0.62)),
]


@pytest.mark.parametrize(
    ("table", "p0", "p1", "alpha", "beta", "optimal", "minimax"),
    SIMON_1989,
    ids=[f"{r[0]}-p0={r[1]}-a={r[3]}-b={r[4]}" for r in SIMON_1989],
)
def test_reproduces_simon_1989_tables(table, p0, p1, alpha, beta, optimal, minimax) -> None:  # type: ignore[no-untyped-def]
    # nmax just above the published optimal n keeps the test fast; the designs do not change.
    designs = compute_simon_designs(p0, p1, alpha, 1 - beta, nmax=optimal[3] + 10)
    by_kind = {d.kind: d for d in designs}
    for kind, ref in (("optimal", optimal), ("minimax", minimax)):
        d = by_kind[kind]
        assert (d.r1, d.n1, d.r, d.n) == ref[:4], f"Simon 1989 {table} {kind}"
        assert d.en0 == pytest.approx(ref[4], abs=0.05)
        assert d.pet0 == pytest.approx(ref[5], abs=0.005)
        # Constraints hold exactly.
        assert d.attained_alpha <= alpha
        assert d.attained_power >= 1 - beta


def _clinfun_rows() -> dict[tuple[float, float, float, float], list[dict[str, str]]]:
    out: dict[tuple[float, float, float, float], list[dict[str, str]]] = {}
    with open(REF / "clinfun_ph2simon.csv", newline="") as f:
        for row in csv.DictReader(f):
            key = (float(row["p0"]), float(row["p1"]), float(row["alpha"]), float(row["beta"]))
            out.setdefault(key, []).append(row)
    return out


# Rows of tests/reference/design/clinfun_ph2simon.csv (clinfun 1.1.5, ph2simon(..., nmax=150)
# printed with twostage.admissible). A few cases keep the test fast; all 48 agree (checked once,
# about 5 minutes) including the collinear admissible design 16/33, 43/76 at p0 = 0.5, p1 = 0.65.
CLINFUN_CASES = [
    (0.2, 0.4, 0.05, 0.2),
    (0.1, 0.3, 0.05, 0.2),
    (0.05, 0.25, 0.1, 0.1),
    (0.6, 0.8, 0.1, 0.1),
]


@pytest.mark.parametrize("case", CLINFUN_CASES)
def test_matches_clinfun_including_admissible_designs(case) -> None:  # type: ignore[no-untyped-def]
    ref = _clinfun_rows()[case]
    p0, p1, alpha, beta = case
    designs = compute_simon_designs(p0, p1, alpha, 1 - beta, nmax=int(ref[-1]["n"]) + 10)
    assert [(d.kind, d.r1, d.n1, d.r, d.n) for d in designs] == [
        (r["type"], int(r["r1"]), int(r["n1"]), int(r["r"]), int(r["n"])) for r in ref
    ]
    for d, r in zip(designs, ref, strict=True):
        assert d.en0 == pytest.approx(float(r["en0"]), abs=1e-9)
        assert d.pet0 == pytest.approx(float(r["pet0"]), abs=1e-9)
        # clinfun rounds q to 3 decimals
        assert d.q_low == pytest.approx(float(r["q_low"]), abs=6e-4)
        assert d.q_high == pytest.approx(float(r["q_high"]), abs=6e-4)


def test_characteristics_at_p0_and_p1() -> None:
    # 3/13, 12/43 at p0 = 0.2: clinfun::oc.twostage.bdry(0.2, 0.4, 3, 13, 12, 43) gives
    # P(reject | p0) = 0.0496, P(reject | p1) = 0.8002, PET(p0) = 0.7473, EN(p0) = 20.58.
    oc0 = compute_simon_characteristics(3, 13, 12, 43, 0.2)
    oc1 = compute_simon_characteristics(3, 13, 12, 43, 0.4)
    assert oc0.reject == pytest.approx(0.0496, abs=5e-5)
    assert oc1.reject == pytest.approx(0.8002, abs=5e-5)
    assert oc0.pet == pytest.approx(0.7473, abs=5e-5)
    assert oc0.en == pytest.approx(20.58, abs=5e-3)


def test_exact_and_simulated_characteristics_agree() -> None:
    """Simulation of 200 000 trials agrees with the exact values within 4 Monte Carlo SEs."""
    b = Boundaries((13, 43), (3, 12), None)
    for p in (0.2, 0.4):
        exact = compute_exact_characteristics(b, Scenario("p", p))
        sim = simulate_characteristics(b, Scenario("p", p), 200_000, seed=7)
        assert abs(sim.passed - exact.passed) <= 4 * sim.se["passed"]
        assert abs(sim.stop_futility - exact.stop_futility) <= 4 * sim.se["stop_futility"]
        assert abs(sim.expected_n - exact.expected_n) <= 4 * sim.se["expected_n"]
        simon = compute_simon_characteristics(3, 13, 12, 43, p)
        assert exact.passed == pytest.approx(simon.reject, abs=1e-12)
        assert exact.expected_n == pytest.approx(simon.en, abs=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p0": 0.4, "p1": 0.2, "alpha": 0.05, "power": 0.8}, "must be greater than p0=0.4"),
        ({"p0": 0.2, "p1": 0.2, "alpha": 0.05, "power": 0.8}, "must be greater than p0=0.2"),
        ({"p0": 0.2, "p1": 0.4, "alpha": 0.0, "power": 0.8}, "alpha=0.0 is outside (0, 1)"),
        ({"p0": 0.2, "p1": 0.4, "alpha": 1.5, "power": 0.8}, "alpha=1.5 is outside (0, 1)"),
        ({"p0": 0.2, "p1": 0.4, "alpha": 0.05, "power": 1.0}, "power=1.0 is outside (0, 1)"),
        ({"p0": -0.1, "p1": 0.4, "alpha": 0.05, "power": 0.8}, "p0=-0.1 is outside (0, 1)"),
        ({"p0": 0.2, "p1": 0.4, "alpha": 0.5, "power": 0.3}, "power=0.3 must exceed alpha=0.5"),
        ({"p0": 0.2, "p1": 0.25, "alpha": 0.05, "power": 0.9, "nmax": 30}, "No two-stage design"),
        ({"p0": 0.2, "p1": 0.4, "alpha": 0.05, "power": 0.8, "nmax": 1}, "nmax=1 is too small"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as err:
        compute_simon_designs(**kwargs)
    assert message in str(err.value)


def test_impossible_design_is_rejected() -> None:
    with pytest.raises(InputError, match=r"r1=13 must satisfy 0 <= r1 < n1=13"):
        compute_simon_characteristics(13, 13, 20, 43, 0.2)
    with pytest.raises(InputError, match=r"n1=43 must satisfy 1 <= n1 < n=43"):
        compute_simon_characteristics(3, 43, 12, 43, 0.2)


def test_binomial_functions_agree_with_scipy_stats() -> None:
    # simon.py takes the binomial distribution from scipy.special (start-up time); it must give
    # scipy.stats.binom's values, including k < 0 and k > m.
    import numpy as np
    from scipy import stats

    from bvall.design.simon import binomial_pmf, binomial_sf

    m = np.arange(0, 61)[:, None]
    k = np.arange(-3, 64)[None, :]
    for p in (0.01, 0.2, 0.5, 0.73, 0.99):
        assert np.allclose(binomial_pmf(k, m, p), stats.binom.pmf(k, m, p), rtol=1e-12, atol=1e-15)
        assert np.allclose(binomial_sf(k, m, p), stats.binom.sf(k, m, p), rtol=1e-12, atol=1e-15)


def _loop_best_per_n(
    p0: float, p1: float, alpha: float, power: float, nmax: int
) -> list[tuple[int, int, int, int]]:
    """Simon's rule as plain loops over every n, n1, r1 and r (no bound on r, scipy.stats'
    binomial): for each n the (n, n1, r1, r) of least EN(p0) among the designs meeting both
    constraints, the first found on ties within 1e-12."""
    from scipy.stats import binom

    pmf = {p: [list(binom.pmf(range(nmax + 1), m, p)) for m in range(nmax + 1)] for p in (p0, p1)}
    sf = {p: [list(binom.sf(range(nmax + 1), m, p)) for m in range(nmax + 1)] for p in (p0, p1)}

    def reject(p: float, n1: int, r1: int, n2: int, r: int) -> float:
        return sum(
            pmf[p][n1][x1] * (1.0 if r - x1 < 0 else sf[p][n2][r - x1])
            for x1 in range(r1 + 1, n1 + 1)
        )

    out = []
    for n in range(2, nmax + 1):
        best: tuple[float, tuple[int, int, int, int]] | None = None
        for n1 in range(1, n):
            n2 = n - n1
            for r1 in range(n1):
                # the largest r meeting the power (power falls as r grows)
                r = next(
                    (r for r in range(n, r1 - 1, -1) if reject(p1, n1, r1, n2, r) >= power - 1e-12),
                    None,
                )
                if r is None:
                    continue
                if reject(p0, n1, r1, n2, r) > alpha + 1e-12:
                    continue
                en = n1 + (1 - binom.cdf(r1, n1, p0)) * n2
                if best is None or en < best[0] - 1e-12:
                    best = (en, (n, n1, r1, r))
        if best is not None:
            out.append(best[1])
    return out


@pytest.mark.parametrize(
    ("p0", "p1", "alpha", "power"),
    [(0.1, 0.4, 0.05, 0.8), (0.5, 0.8, 0.1, 0.8), (0.7, 0.95, 0.05, 0.9), (0.05, 0.3, 0.1, 0.9)],
)
def test_search_finds_what_plain_loops_find(
    p0: float, p1: float, alpha: float, power: float
) -> None:
    """The vectorised search skips every r above the single-stage bound (power can only fall
    when a first stage may stop the trial); plain loops over every r must find the same
    design for every n (nmax 24: the loops are slow)."""
    from bvall.design.simon import _best_per_n

    got = [(b.n, b.n1, b.r1, b.r) for b in _best_per_n(p0, p1, alpha, power, 24)]
    assert got == _loop_best_per_n(p0, p1, alpha, power, 24)
    assert got  # every case has designs with n <= 24
