"""Cumulative incidence against R cmprsk::cuminc (tests/reference/stats/cmprsk.R)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from bvall.errors import InputError
from bvall.stats import compute_cumulative_incidence
from tests.stats.r_reference import close, datasets, num, rows

DATA = datasets("cif_data.csv", "cause")
TIMEPOINTS = rows("cif_timepoints.csv")
REL = 1e-10


@pytest.mark.parametrize(
    "row", TIMEPOINTS, ids=[f"{r['dataset']}-{r['cause']}-{r['time']}" for r in TIMEPOINTS]
)
def test_timepoints_match_r(row: dict[str, str]) -> None:
    # est and var from cuminc/timepoints; lower/upper: the log-log interval written out in R.
    cif = compute_cumulative_incidence(*DATA[row["dataset"]], event_of_interest=int(row["cause"]))
    (lm,) = cif.at([float(row["time"])])
    assert close(lm.incidence, num(row["est"]), REL)
    assert close(lm.std_err**2, num(row["var"]), REL)
    assert close(lm.lower, num(row["lower"]), REL)
    assert close(lm.upper, num(row["upper"]), REL)


def test_every_corner_of_the_step_function_matches_r() -> None:
    # cuminc returns the corners of the step function; the value after each jump (the last
    # corner at a time) is the estimate at that time.
    last: dict[tuple[str, int, float], tuple[float, float]] = {}
    for r in rows("cif_curve.csv"):
        last[(r["dataset"], int(r["cause"]), float(r["time"]))] = (num(r["est"]), num(r["var"]))
    by_fit: dict[tuple[str, int], list[tuple[float, float, float]]] = defaultdict(list)
    for (dataset, cause, t), (est, var) in last.items():
        by_fit[(dataset, cause)].append((t, est, var))
    checked = 0
    for (dataset, cause), points in by_fit.items():
        cif = compute_cumulative_incidence(*DATA[dataset], event_of_interest=cause)
        for (t, est, var), lm in zip(points, cif.at([p[0] for p in points]), strict=True):
            assert close(lm.incidence, est, REL), (dataset, cause, t)
            assert close(lm.std_err**2, var, REL), (dataset, cause, t)
            checked += 1
    assert checked > 200  # every distinct corner time of every curve


def test_incidences_of_all_causes_and_survival_add_up() -> None:
    # F1 + F2 + S = 1 at every time (Aalen–Johansen is a partition of probability).
    from bvall.stats import compute_kaplan_meier

    time, cause = DATA["random"]
    f1 = compute_cumulative_incidence(time, cause, 1)
    f2 = compute_cumulative_incidence(time, cause, 2)
    km = compute_kaplan_meier(time, [int(c != 0) for c in cause])
    total = f1.incidence + f2.incidence + km.survival
    assert total == pytest.approx([1.0] * len(total), abs=1e-12)


def test_beyond_follow_up_is_nan_and_plain_interval() -> None:
    cif = compute_cumulative_incidence([1, 2, 3], [1, 2, 0], conf_type="plain")
    late, early = cif.at([5, 0.5])
    assert late.incidence != late.incidence
    assert late.n_risk == 0
    assert (early.incidence, early.lower, early.upper, early.n_risk) == (0.0, 0.0, 0.0, 3)


@pytest.mark.parametrize(
    ("time", "cause", "kwargs", "message"),
    [
        ([1, -1], [1, 0], {}, "Time -1 .* negative"),
        ([1, 2], [1, 1.5], {}, "Cause 1.5 .* is not an integer code"),
        ([1, 2], [1, "x"], {}, "Cause 'x'"),
        ([1, 2], [1], {}, "2 times and 1 causes"),
        ([1, 2], [1, 0], {"event_of_interest": 0}, "event_of_interest 0 equals censor_code"),
        ([1, 2], [1, 0], {"conf_type": "log"}, "'log' is not known for cumulative incidence"),
    ],
)
def test_bad_input(
    time: list[object], cause: list[object], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        compute_cumulative_incidence(time, cause, **kwargs)  # type: ignore[arg-type]
