"""Fisher's exact test against R fisher.test (tests/reference/stats/fisher.R)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats.contingency import odds_ratio

from bvall.errors import InputError
from bvall.stats import compute_fisher_exact
from tests.stats.r_reference import close, num, rows

R_2X2 = rows("fisher_2x2.csv")
R_RXC = rows("fisher_rxc.csv")


def _table(r: dict[str, str]) -> list[list[int]]:
    return [[int(r["a"]), int(r["b"])], [int(r["c"]), int(r["d"])]]


@pytest.mark.parametrize(
    "row",
    R_2X2,
    ids=[f"{r['a']}-{r['b']}-{r['c']}-{r['d']}-{r['alternative']}-{r['level']}" for r in R_2X2],
)
def test_2x2_matches_r(row: dict[str, str]) -> None:
    # Relative tolerance 1e-9: p, the conditional MLE and both limits (R solves the last two
    # with uniroot at tol eps^0.25; bvall follows the same zero-finder, so R's digits agree).
    res = compute_fisher_exact(_table(row), row["alternative"], float(row["level"]))
    assert res.conf_int is not None
    assert res.odds_ratio is not None
    got = (res.p_value, res.odds_ratio, res.conf_int[0], res.conf_int[1])
    want = tuple(num(row[k]) for k in ("p_value", "odds_ratio", "conf_low", "conf_high"))
    assert all(close(g, w, 1e-9) for g, w in zip(got, want, strict=True)), (got, want)


@pytest.mark.parametrize("row", R_RXC, ids=[r["table"] for r in R_RXC])
def test_rxc_matches_r(row: dict[str, str]) -> None:
    table = [[int(v) for v in line.split(",")] for line in row["table"].split(";")]
    res = compute_fisher_exact(table)
    assert res.p_value == pytest.approx(float(row["p_value"]), rel=1e-9)
    assert res.odds_ratio is None
    assert res.conf_int is None


def test_crs_table_of_the_seed_paper() -> None:
    # Concurrent 5/8 vs sequential 1/5 with CRS: R fisher.test p = 0.2657 (fisher_2x2.csv);
    # the paper prints p = 0.226.
    res = compute_fisher_exact([[5, 3], [1, 4]])
    assert round(res.p_value, 4) == 0.2657


def test_accurate_roots_agree_with_scipy() -> None:
    # With a tight tolerance the conditional MLE and limits are the exact roots, which SciPy's
    # independent implementation also finds (relative 1e-6).
    for t in ([[3, 1], [1, 3]], [[12, 5], [3, 9]], [[2, 7], [8, 2]]):
        ours = compute_fisher_exact(t, root_tol=1e-13)
        ref = odds_ratio(t, kind="conditional")
        ci = ref.confidence_interval(0.95)
        assert ours.odds_ratio == pytest.approx(ref.statistic, rel=1e-6)
        assert ours.conf_int == pytest.approx((ci.low, ci.high), rel=1e-6)


def test_r_tolerance_is_what_r_prints() -> None:
    # [[3, 1], [1, 3]]: R prints an upper limit of 621.9 although the exact root is 626.2.
    default = compute_fisher_exact([[3, 1], [1, 3]])
    exact = compute_fisher_exact([[3, 1], [1, 3]], root_tol=1e-13)
    assert default.conf_int is not None
    assert exact.conf_int is not None
    assert round(default.conf_int[1], 1) == 621.9
    assert round(exact.conf_int[1], 1) == 626.2


def test_two_sided_uses_relative_tolerance() -> None:
    # A symmetric table: the two tail tables are equally likely; both count (p = 1 for the
    # central table, 0.4857 for [[3, 1], [1, 3]] as R and CLINICAL.md 8.2).
    assert compute_fisher_exact([[2, 2], [2, 2]]).p_value == pytest.approx(1.0, rel=1e-12)
    assert round(compute_fisher_exact([[3, 1], [1, 3]]).p_value, 4) == 0.4857


def test_null_odds_ratio() -> None:
    # A null OR other than 1 shifts the test; OR = 0 and inf reduce to indicator p-values (R).
    t = [[5, 3], [1, 4]]
    assert compute_fisher_exact(t, null_odds_ratio=0).p_value == 0.0
    assert compute_fisher_exact(t, null_odds_ratio=math.inf).p_value == 0.0
    assert compute_fisher_exact(t, null_odds_ratio=5.7).p_value > 0.9


def test_rxc_larger_table_is_fast_enough_and_sums_to_one() -> None:
    # Sanity of the enumeration: the observed table most likely -> p = 1 exactly.
    t = np.array([[4, 4, 4], [4, 4, 4], [4, 4, 4]])
    assert compute_fisher_exact(t).p_value == pytest.approx(1.0, rel=1e-9)


def test_rxc_has_no_one_sided_test() -> None:
    with pytest.raises(InputError, match="exists only for 2 × 2 tables; this table is 2 × 3"):
        compute_fisher_exact([[3, 2, 1], [1, 2, 4]], alternative="less")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([[1, -2], [3, 4]], "Cell -2 is negative"),
        ([[1, 2.5], [3, 4]], "Cell 2.5 is not a whole number"),
        ([[1, 2], [3]], "is not a table"),
        ([[1, 2]], "is not a table"),
        ([[0, 0], [0, 0]], "has no observations"),
        ([[1, "x"], [3, 4]], "Cell 'x' is not a count"),
    ],
)
def test_bad_tables_are_quoted(table: list[list[object]], message: str) -> None:
    with pytest.raises(InputError, match=message):
        compute_fisher_exact(table)  # type: ignore[arg-type]


def test_bad_alternative() -> None:
    with pytest.raises(InputError, match=r"Alternative 'two\.sided' is not known"):
        compute_fisher_exact([[1, 2], [3, 4]], alternative="two.sided")
