"""Kaplan–Meier against R survfit (tests/reference/stats/survival.R) and lifelines."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from bvall.errors import InputError
from bvall.stats import KaplanMeier, compute_kaplan_meier, compute_median_followup
from tests.stats.r_reference import close, datasets, num, rows

DATA = datasets("km_data.csv", "status")
REL = 1e-10  # relative tolerance against R's 15 significant digits


def _fit(key: tuple[str, str, float], cache: dict[tuple[str, str, float], KaplanMeier] = {}):  # noqa: B006
    if key not in cache:
        time, status = DATA[key[0]]
        cache[key] = compute_kaplan_meier(time, status, conf_type=key[1], level=key[2])
    return cache[key]


def _key(r: dict[str, str]) -> tuple[str, str, float]:
    return (r["dataset"], r["conf_type"], float(r["level"]))


CURVES: dict[tuple[str, str, float], list[dict[str, str]]] = defaultdict(list)
for _r in rows("km_curve.csv"):
    CURVES[_key(_r)].append(_r)


@pytest.mark.parametrize("key", list(CURVES), ids=["-".join(map(str, k)) for k in CURVES])
def test_curve_matches_r(key: tuple[str, str, float]) -> None:
    km = _fit(key)
    ref = CURVES[key]
    assert len(km.time) == len(ref)
    columns = {
        "time": km.time,
        "n_risk": km.n_risk,
        "n_event": km.n_event,
        "n_censor": km.n_censor,
        "surv": km.survival,
        "std_err": km.std_err_log,
        "lower": km.lower,
        "upper": km.upper,
    }
    for name, values in columns.items():
        for got, r in zip(values, ref, strict=True):
            assert close(float(got), num(r[name]), REL), (name, r, got)


QUANTILES = rows("km_quantile.csv")


@pytest.mark.parametrize(
    "row",
    QUANTILES,
    ids=[f"{r['dataset']}-{r['conf_type']}-{r['level']}-{r['prob']}" for r in QUANTILES],
)
def test_quantiles_match_r(row: dict[str, str]) -> None:
    q = _fit(_key(row)).quantile(float(row["prob"]))
    for got, name in ((q.estimate, "quantile"), (q.lower, "lower"), (q.upper, "upper")):
        assert close(got, num(row[name]), REL), (name, row, q)


LANDMARKS = rows("km_landmark.csv")


@pytest.mark.parametrize(
    "row",
    LANDMARKS,
    ids=[f"{r['dataset']}-{r['conf_type']}-{r['level']}-{r['time']}" for r in LANDMARKS],
)
def test_landmarks_match_r(row: dict[str, str]) -> None:
    (lm,) = _fit(_key(row)).at([float(row["time"])])
    assert lm.n_risk == int(row["n_risk"])
    for got, name in (
        (lm.survival, "surv"),
        (lm.std_err, "std_err"),
        (lm.lower, "lower"),
        (lm.upper, "upper"),
    ):
        assert close(got, num(row[name]), REL), (name, row, lm)


FOLLOW_UP = rows("km_followup.csv")


@pytest.mark.parametrize("row", FOLLOW_UP, ids=[r["dataset"] for r in FOLLOW_UP])
def test_reverse_km_followup_matches_r(row: dict[str, str]) -> None:
    fu = compute_median_followup(*DATA[row["dataset"]])
    for got, name in ((fu.median, "median"), (fu.lower, "lower"), (fu.upper, "upper")):
        assert close(got, num(row[name]), REL), (name, row, fu)
    # the crude median and range: R median(time), range(time)
    assert (fu.observed_median, fu.minimum, fu.maximum) == (
        num(row["observed_median"]),
        num(row["minimum"]),
        num(row["maximum"]),
    )
    assert "reverse Kaplan–Meier" in fu.method


def test_estimate_agrees_with_lifelines() -> None:
    # An independent implementation of the estimate (lifelines 0.30), relative 1e-12.
    from lifelines import KaplanMeierFitter

    for name in ("lung", "random", "ties", "time_zero"):
        time, status = DATA[name]
        km = compute_kaplan_meier(time, status)
        ll = KaplanMeierFitter().fit(time, status)
        ref = ll.survival_function_at_times(km.time).to_numpy()
        np.testing.assert_allclose(km.survival, ref, rtol=1e-12)


def test_median_midpoint_rule() -> None:
    # S = 0.5 exactly on [3, 5): R's median is the midpoint 4 (CLINICAL.md 8.3).
    km = compute_kaplan_meier([1, 2, 3, 5, 6, 7], [1, 1, 1, 1, 0, 0])
    assert km.median().estimate == 4.0
    assert km.survival[2] == 0.5


def test_median_not_reached_is_nan() -> None:
    q = compute_kaplan_meier([1, 2, 3, 4], [1, 0, 0, 0]).median()
    assert math.isnan(q.estimate)
    assert not q.reached


def test_booleans_and_rows() -> None:
    km = compute_kaplan_meier([3, 1, 2], [True, False, True], conf_type="plain")
    assert km.events == 2
    assert km.n == 3
    first = km.to_rows()[0]
    assert first["time"] == 1.0
    assert first["n_censor"] == 1
    assert first["survival"] == 1.0


@pytest.mark.parametrize(
    ("time", "event", "message"),
    [
        ([1, -2], [1, 0], "Time -2 .* negative"),
        ([1, float("nan")], [1, 0], "Time nan .* missing"),
        ([1, 2], [1, 2], "Event indicator 2 .* is not 0/1"),
        ([1, 2], [1], "2 times but 1 event indicators"),
        ([], [], "No subjects"),
        (["a", 2], [1, 0], "Time 'a' is not a number"),
        ([1, 2], ["yes", 0], "Event indicator 'yes'"),
    ],
)
def test_bad_input_is_quoted(time: list[object], event: list[object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        compute_kaplan_meier(time, event)  # type: ignore[arg-type]


def test_bad_conf_type_and_landmark() -> None:
    with pytest.raises(InputError, match="'logit' is not known; expected one of log, log-log"):
        compute_kaplan_meier([1], [1], conf_type="logit")
    with pytest.raises(InputError, match="Landmark time inf"):
        compute_kaplan_meier([1], [1]).at([math.inf])
    with pytest.raises(InputError, match=r"Quantile probability 1\.5"):
        compute_kaplan_meier([1], [1]).quantile(1.5)
