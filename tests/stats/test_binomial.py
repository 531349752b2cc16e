"""Binomial confidence intervals against R (tests/reference/stats/binomial.R)."""

from __future__ import annotations

import math

import pytest

from bvall.errors import InputError, UnknownNameError
from bvall.stats import BINOMIAL_METHODS, compute_binomial_ci, compute_binomial_cis
from tests.stats.r_reference import rows

R_ROWS = [r for r in rows("binomial.csv") if r["method"] != "prop-test-default"]


@pytest.mark.parametrize(
    "row", R_ROWS, ids=[f"{r['method']}-{r['x']}/{r['n']}-{r['level']}" for r in R_ROWS]
)
def test_matches_r(row: dict[str, str]) -> None:
    # Tolerance: absolute 1e-9 on proportions (R prints 15 significant digits).
    ci = compute_binomial_ci(int(row["x"]), int(row["n"]), row["method"], float(row["level"]))
    assert ci.lower == pytest.approx(float(row["lower"]), abs=1e-9)
    assert ci.upper == pytest.approx(float(row["upper"]), abs=1e-9)
    assert ci.method == row["method"]


def test_every_method_has_r_reference() -> None:
    assert {r["method"] for r in R_ROWS} == set(BINOMIAL_METHODS)


def test_prop_test_default_differs_only_at_half() -> None:
    # R's prop.test(correct=TRUE) with its default p = 0.5 drops the correction at x = n/2
    # (CLINICAL.md 8.1); everywhere else it is Newcombe's method 4, which wilson-cc always is.
    for r in rows("binomial.csv"):
        if r["method"] != "prop-test-default":
            continue
        x, n, level = int(r["x"]), int(r["n"]), float(r["level"])
        ours = compute_binomial_ci(x, n, "wilson-cc", level)
        same = ours.lower == pytest.approx(float(r["lower"]), abs=1e-9)
        assert same is (2 * x != n), (x, n, level)
    assert compute_binomial_ci(10, 20, "wilson-cc").lower == pytest.approx(0.27854, abs=5e-6)


@pytest.mark.parametrize(
    ("x", "n", "method", "lower", "upper"),
    [
        # CLINICAL.md 8.1 test vectors (4 decimals; computed with SciPy from the formulas)
        (81, 263, "wilson", 0.2553, 0.3662),
        (81, 263, "wilson-cc", 0.2535, 0.3682),
        (0, 20, "jeffreys", 0.0, 0.1166),
        (1, 29, "mid-p", 0.0017, 0.1585),
        (11, 12, "agresti-coull", 0.6247, 1.0),
        (12, 13, "clopper-pearson", 0.6397, 0.9981),
    ],
)
def test_clinical_table(x: int, n: int, method: str, lower: float, upper: float) -> None:
    ci = compute_binomial_ci(x, n, method)
    assert (round(ci.lower, 4), round(ci.upper, 4)) == (lower, upper)


@pytest.mark.parametrize(
    ("x", "n", "printed"),
    # The seed paper (Results): "11 patients (91.7%; 95% CI, 64.6% to 99.6%)" and "Twelve out of
    # the 13 patients (92.3%; 95% CI, 66.7% to 99.6%)", called Agresti–Coull in its methods.
    [(11, 12, "64.6–99.6%"), (12, 13, "66.7–99.6%")],
)
def test_wilson_hmisc_gives_the_papers_intervals(x: int, n: int, printed: str) -> None:
    ci = compute_binomial_ci(x, n, "wilson-hmisc")
    assert f"CI {printed}" in ci.format()
    # ... which Agresti–Coull does not (its upper limit is 100.0%)
    assert f"CI {printed}" not in compute_binomial_ci(x, n, "agresti-coull").format()


def test_wilson_hmisc_adjusts_only_at_one_and_n_minus_one() -> None:
    # Hmisc::binconf: -log(1 - alpha)/n at x = 1 (lower), 1 + log(1 - alpha)/n at x = n - 1 (upper)
    for x in range(0, 8):
        hmisc, wilson = (
            compute_binomial_ci(x, 7, "wilson-hmisc"),
            compute_binomial_ci(x, 7, "wilson"),
        )
        assert (hmisc.lower == wilson.lower) is (x != 1)
        assert (hmisc.upper == wilson.upper) is (x != 6)
    assert compute_binomial_ci(1, 7, "wilson-hmisc").lower == pytest.approx(-math.log(0.95) / 7)
    assert compute_binomial_ci(6, 7, "wilson-hmisc", 0.9).upper == pytest.approx(
        1 + math.log(0.9) / 7
    )


@pytest.mark.parametrize("method", BINOMIAL_METHODS)
def test_boundaries(method: str) -> None:
    zero = compute_binomial_ci(0, 9, method)
    full = compute_binomial_ci(9, 9, method)
    assert zero.lower == 0.0
    assert zero.estimate == 0.0
    assert full.upper == 1.0
    assert full.estimate == 1.0
    assert 0 <= zero.upper <= 1
    assert 0 <= full.lower <= 1


def test_all_methods_in_order_and_named() -> None:
    cis = compute_binomial_cis(11, 12)
    assert [c.method for c in cis] == list(BINOMIAL_METHODS)
    assert cis[0].format() == "91.7% (11/12; 95% CI 76.0–100.0%, Wald)"
    assert "Agresti–Coull" in cis[4].format()


@pytest.mark.parametrize(
    ("x", "n", "level", "message"),
    [
        (5, 3, 0.95, "x = 5 is larger than n = 3"),
        (-1, 3, 0.95, "x = -1 is negative"),
        (1, 0, 0.95, "n = 0 must be at least 1"),
        (1.5, 3, 0.95, "x = 1.5 is not a whole number"),
        (float("nan"), 3, 0.95, "x = nan is not a whole number"),
        (1, float("inf"), 0.95, "n = inf is not a whole number"),
        (1, 3, 1.5, "level = 1.5 must be between 0 and 1"),
        (1, 3, 0, "level = 0 must be between 0 and 1"),
    ],
)
def test_bad_input_is_quoted(x: float, n: int, level: float, message: str) -> None:
    with pytest.raises(InputError, match=message):
        compute_binomial_ci(x, n, "wilson", level)  # type: ignore[arg-type]


def test_numpy_counts_are_accepted() -> None:
    import numpy as np

    ci = compute_binomial_ci(np.int64(11), np.int64(12), "wilson", np.float64(0.95))
    assert ci.x == 11
    assert ci.n == 12
    assert ci.lower == pytest.approx(0.646120088858883, abs=1e-12)  # binomial.csv (prop.test)


def test_unknown_method_suggests() -> None:
    with pytest.raises(UnknownNameError, match="'agresti_coull' is not known; did you mean"):
        compute_binomial_ci(1, 2, "agresti_coull")


def test_method_names_are_the_methods_computed() -> None:
    from bvall.stats import METHOD_LABELS
    from bvall.stats.binomial import _METHODS

    assert tuple(_METHODS) == BINOMIAL_METHODS
    assert tuple(METHOD_LABELS) == BINOMIAL_METHODS
