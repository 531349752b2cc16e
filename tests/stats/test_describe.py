"""Descriptive statistics against R (tests/reference/stats/describe.R)."""

from __future__ import annotations

import math

import pytest

from bvall.errors import InputError, UnknownNameError
from bvall.stats import compute_frequencies, compute_summary
from tests.stats.r_reference import close, num, rows

R_ROWS = rows("describe.csv")


@pytest.mark.parametrize("row", R_ROWS, ids=[r["name"] for r in R_ROWS])
def test_summary_matches_r(row: dict[str, str]) -> None:
    values = [None if v == "NA" else float(v) for v in row["values"].split(";")]
    s = compute_summary(values)
    assert (s.n, s.missing) == (int(row["n"]), int(row["missing"]))
    for got, name in (
        (s.q1, "q1"),
        (s.median, "median"),
        (s.q3, "q3"),
        (s.minimum, "min"),
        (s.maximum, "max"),
        (s.mean, "mean"),
        (s.sd, "sd"),
    ):
        assert close(got, num(row[name]), 1e-12), (name, got, row[name])


def test_format_median_range_and_iqr() -> None:
    ages = [72, 18, 52, 25, 74, 32, 67, 41, 49, 68, 24, 54, 63]  # seed paper, Table 2
    s = compute_summary(ages, unit="years")
    assert s.format() == "52 (18–74)"
    assert s.format(spread="iqr") == "52 (32–67)"
    assert compute_summary([2.02, 1.56, 2.61]).format(decimals=2) == "2.02 (1.56–2.61)"
    assert s.to_dict()["unit"] == "years"


def test_all_missing_is_stated_not_invented() -> None:
    s = compute_summary([None, math.nan])
    assert (s.n, s.missing) == (0, 2)
    assert math.isnan(s.median)
    assert s.format() == "NA (NA–NA)"


def test_frequencies_state_denominator_and_missing() -> None:
    f = compute_frequencies(["M", "F", None, "M", "M"], categories=["M", "F", "U"])
    assert (f.denominator, f.missing) == (4, 1)
    assert f["M"].format() == "3 (75.0%)"
    assert f["F"].format(style="% (n/N)") == "25.0% (1/4)"
    assert f["U"].n == 0
    assert f.to_rows()[0] == {
        "category": "M",
        "n": 3,
        "denominator": 4,
        "percent": 75.0,
        "missing": 1,
    }


def test_frequencies_first_seen_order() -> None:
    f = compute_frequencies(["b", "a", "b"])
    assert [c.category for c in f.counts] == ["b", "a"]


def test_bad_values() -> None:
    with pytest.raises(InputError, match="Value 'x' is not a number"):
        compute_summary([1, "x"])
    with pytest.raises(InputError, match="Value 'Q' is not one of the categories M, F"):
        compute_frequencies(["M", "Q"], categories=["M", "F"])
    with pytest.raises(UnknownNameError, match="Category 'X' is not in this table"):
        compute_frequencies(["M"])["X"]
    with pytest.raises(InputError, match="spread 'sd'"):
        compute_summary([1]).format(spread="sd")
