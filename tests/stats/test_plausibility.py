"""Plausibility of printed percentages and Kaplan–Meier values."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bvall.errors import InputError
from bvall.stats import (
    compute_fraction_candidates,
    compute_km_reachability,
    compute_percent_reachability,
    parse_printed,
)


@pytest.mark.parametrize(
    ("printed", "low", "high", "decimals"),
    [
        ("60.6", Fraction(6055, 100), Fraction(6065, 100), 1),
        ("20.0", Fraction(1995, 100), Fraction(2005, 100), 1),
        (7, Fraction(13, 2), Fraction(15, 2), 0),
        ("0.226", Fraction(2255, 10000), Fraction(2265, 10000), 3),
        ("61.5%", Fraction(6145, 100), Fraction(6155, 100), 1),
    ],
)
def test_parse_printed(printed: str | int, low: Fraction, high: Fraction, decimals: int) -> None:
    assert parse_printed(printed) == (low, high, decimals)


def test_percent_reachability() -> None:
    # 8/13 = 61.54 % prints as 61.5; 5/8 = 62.5 % cannot print as 62.6.
    assert compute_percent_reachability("61.5", 13).numerators == (8,)
    r = compute_percent_reachability("62.6", 8)
    assert not r.reachable
    assert r.nearest[0] == (5, 62.5)


def test_fraction_candidates_find_another_denominator() -> None:
    # 90.9 % is not x/13 but is 10/11.
    assert compute_fraction_candidates("90.9", 13) == [(10, 11)]
    assert (11, 12) in compute_fraction_candidates("91.7", 13)


def test_km_values_of_the_seed_paper() -> None:
    rfs = compute_km_reachability("60.6", 13)
    assert [c.product for c in rfs.candidates] == [Fraction(20, 33), Fraction(63, 104)]
    assert rfs.candidates[0].describe() == "(1 − 1/11)(1 − 1/3) = 20/33 = 60.61%"
    os_ = compute_km_reachability("83.3", 13)
    assert [c.product for c in os_.candidates] == [Fraction(5, 6)]
    assert os_.candidates[0].paths == 3  # (1 − 1/6); (1 − 2/12); (1 − 1/12)(1 − 1/11)


def test_km_event_bounds() -> None:
    assert not compute_km_reachability("83.3", 13, max_events=0).reachable
    two = compute_km_reachability("83.3", 13, min_events=2)
    assert [c.events for c in two.candidates] == [2]
    assert not compute_km_reachability("99.0", 13).reachable  # one event at 13 is already 92.3


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_valid_km_product_is_found(data: st.DataObject) -> None:
    # Build a valid sequence of (n at risk, events) with n <= 12, print its product with one
    # decimal, and the search must return that exact product among the candidates.
    n = data.draw(st.integers(3, 12))
    steps: list[tuple[int, int]] = []
    cap = n
    for _ in range(data.draw(st.integers(1, 3))):
        if cap < 2:
            break
        at_risk = data.draw(st.integers(2, cap))
        d = data.draw(st.integers(1, max(1, at_risk // 3)))
        steps.append((at_risk, d))
        cap = at_risk - d
    product = Fraction(1)
    for at_risk, d in steps:
        product *= Fraction(at_risk - d, at_risk)
    printed = f"{100 * float(product):.1f}"
    if parse_printed(printed)[0] > 100 * product or 100 * product > parse_printed(printed)[1]:
        return  # float formatting of an exact half; not a property of the search
    result = compute_km_reachability(printed, n)
    assert product in {c.product for c in result.candidates}


def test_bad_input() -> None:
    with pytest.raises(InputError, match="Printed value 'abc' is not a number"):
        parse_printed("abc")
    with pytest.raises(InputError, match="n = 0 must be a whole number >= 1"):
        compute_percent_reachability("50", 0)
    with pytest.raises(InputError, match="too large"):
        compute_km_reachability("50.0", 40, node_limit=1000)
