"""Final analysis of Simon trials against R clinfun::twostage.inference (clinfun 1.1.5).

Reference: tests/reference/design/clinfun_inference.csv, written by clinfun_simon.R with
alpha = 0.05 per side (a 90% two-sided interval). clinfun finds the limits on a 0.0001 grid, so
limits are compared within 1e-4; its upper limit solves P(T <= t - 1) = alpha (one outcome below
the observed one), so our exact upper limit at t equals clinfun's at t + 1 when t and t + 1 fall
in the same stage.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from scipy import stats

from bvall.design import compute_simon_analysis
from bvall.design.simon_inference import _tail_ge, _tail_le
from bvall.errors import InputError

REF = Path(__file__).parents[1] / "reference" / "design" / "clinfun_inference.csv"
with open(REF, newline="") as _f:
    ROWS = list(csv.DictReader(_f))


def _analyse(row: dict[str, str], x: int | None = None):  # type: ignore[no-untyped-def]
    r1, n1, n, pu = int(row["r1"]), int(row["n1"]), int(row["n"]), float(row["pu"])
    x = int(row["x"]) if x is None else x
    if x <= r1:
        return compute_simon_analysis(r1, n1, r1, n, pu, x, None, conf_level=0.90)
    return compute_simon_analysis(r1, n1, r1, n, pu, min(x, n1), x, conf_level=0.90)


@pytest.mark.parametrize("row", ROWS, ids=[f"x={r['x']}-n={r['n']}" for r in ROWS])
def test_p_value_umvue_and_lower_limit_match_clinfun(row) -> None:  # type: ignore[no-untyped-def]
    a = _analyse(row)
    assert a.p_value == pytest.approx(float(row["p_value"]), rel=1e-6)
    assert a.estimate == pytest.approx(float(row["umvue"]), abs=1e-8)
    # clinfun's LCL is the first 0.0001 grid point above the exact root
    assert float(row["lcl"]) - 1e-4 <= a.ci_low <= float(row["lcl"]) + 1e-9


def test_upper_limit_is_clinfuns_at_the_next_outcome() -> None:
    by_x = {(r["n"], int(r["x"])): r for r in ROWS}
    pairs = 0
    for (n, x), row in by_x.items():
        nxt = by_x.get((n, x + 1))
        same_stage = nxt is not None and (x <= int(row["r1"])) == (x + 1 <= int(row["r1"]))
        if same_stage:
            assert nxt is not None
            assert _analyse(row).ci_high == pytest.approx(float(nxt["ucl"]), abs=1.1e-4)
            pairs += 1
    assert pairs >= 5


def test_limits_are_exact_tail_roots_and_cover() -> None:
    """At the limits each tail equals (1 - level)/2; exact coverage >= level on a grid of p."""
    r1, n1, r, n = 3, 13, 12, 43
    a = compute_simon_analysis(r1, n1, r, n, 0.2, 5, 14, conf_level=0.95)
    assert _tail_ge(r1, n1, n, 2, 14, a.ci_low) == pytest.approx(0.025, abs=1e-9)
    assert _tail_le(r1, n1, n, 2, 14, a.ci_high) == pytest.approx(0.025, abs=1e-9)
    outcomes = [(1, x) for x in range(r1 + 1)] + [(2, s) for s in range(r1 + 1, n + 1)]
    cis = {}
    for stage, x in outcomes:
        res = compute_simon_analysis(
            r1, n1, r, n, 0.2, x if stage == 1 else min(x, n1), None if stage == 1 else x, 0.95
        )
        cis[(stage, x)] = (res.ci_low, res.ci_high)
    for p in (0.05, 0.2, 0.33, 0.4, 0.6):
        cover = stats.binom.pmf(range(r1 + 1), n1, p) @ [
            cis[(1, x)][0] <= p <= cis[(1, x)][1] for x in range(r1 + 1)
        ]
        for x1 in range(r1 + 1, n1 + 1):
            for x2 in range(n - n1 + 1):
                lo, hi = cis[(2, x1 + x2)]
                if lo <= p <= hi:
                    cover += stats.binom.pmf(x1, n1, p) * stats.binom.pmf(x2, n - n1, p)
        assert cover >= 0.95 - 1e-9, p


def test_early_stop_and_promising_decision() -> None:
    stopped = compute_simon_analysis(3, 13, 12, 43, 0.2, 2)
    assert (stopped.stage, stopped.patients, stopped.promising) == (1, 13, False)
    assert stopped.estimate == pytest.approx(2 / 13)
    go = compute_simon_analysis(3, 13, 12, 43, 0.2, 5, 13)
    assert go.promising
    assert go.p_value < 0.05  # consistent with the design's test (reject iff > r)
    no = compute_simon_analysis(3, 13, 12, 43, 0.2, 5, 12)
    assert not no.promising
    assert no.p_value > 0.05


@pytest.mark.parametrize(
    ("x1", "total", "message"),
    [
        (5, None, "give total_responses"),
        (2, 7, "must be omitted or equal 2"),
        (5, 4, "total_responses=4 must be between stage1_responses=5 and 35"),
        (14, None, "between 0 and n1=13"),
        (-1, None, "between 0 and n1=13"),
    ],
)
def test_inconsistent_data_are_rejected(x1, total, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=message):
        compute_simon_analysis(3, 13, 12, 43, 0.2, x1, total)
