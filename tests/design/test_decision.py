"""classify_trial: the live-monitoring evaluation of a design against observed data."""

from __future__ import annotations

import pytest

from bvall.design import (
    CountSnapshot,
    PatientOutcome,
    classify_trial,
    make_bop2_design,
    make_simon_design,
    make_toxicity_monitor,
)
from bvall.errors import InputError

LOOKS = (10, 15, 20, 25, 30, 35, 40)


@pytest.fixture(scope="module")
def joint():  # type: ignore[no-untyped-def]
    # Boundaries: responses <= 2,5,7,10,13,16,19 or toxicities >= 5,6,8,9,10,11,12.
    return make_bop2_design(LOOKS, 0.45, 0.60, 0.1, 0.625, 0.98, 0.30, 0.20, 0.15, 0.18)


def P(resp: bool | None, tox: bool | None = False) -> PatientOutcome:  # noqa: N802
    return PatientOutcome(resp, tox)


def test_simon_boundary_table() -> None:
    d = make_simon_design(3, 13, 12, 43, 0.2, 0.4, 0.05, 0.8)
    # below / at / above the stage-1 boundary r1 = 3 of 13
    assert classify_trial(d, [CountSnapshot(13, 2)]).action == "stop_futility"
    assert classify_trial(d, [CountSnapshot(13, 3)]).action == "stop_futility"
    at4 = classify_trial(d, [CountSnapshot(13, 4)])
    assert (at4.action, at4.next_look) == ("continue", 43)
    # final: promising iff > 12 of 43
    assert (
        classify_trial(d, [CountSnapshot(13, 4), CountSnapshot(43, 12)]).action == "final_futility"
    )
    assert (
        classify_trial(d, [CountSnapshot(13, 4), CountSnapshot(43, 13)]).action == "final_efficacy"
    )


def test_bop2_toxicity_stop_with_posterior_and_cutoff(joint) -> None:  # type: ignore[no-untyped-def]
    pts = [P(True, i < 5) for i in range(10)]  # 10 responses, 5 toxicities at look 1
    dec = classify_trial(joint, pts)
    assert dec.action == "stop_toxicity"
    assert (dec.look, dec.patients, dec.toxicities) == (1, 10, 5)
    assert dec.boundary["stop_if_toxicities_at_least"] == 5
    assert dec.posterior["pr_toxicity_above_limit"] > dec.cutoff  # type: ignore[operator]
    four = classify_trial(joint, [P(True, i < 4) for i in range(10)])
    assert four.action == "continue"
    assert four.posterior["pr_toxicity_above_limit"] <= four.cutoff  # type: ignore[operator]


def test_bop2_futility_and_both(joint) -> None:  # type: ignore[no-untyped-def]
    assert classify_trial(joint, [P(i < 2) for i in range(10)]).action == "stop_futility"
    assert classify_trial(joint, [P(i < 3) for i in range(10)]).action == "continue"
    both = classify_trial(joint, [P(i < 2, i >= 4) for i in range(10)])
    assert both.action == "stop_futility_and_toxicity"


def test_earlier_crossing_is_reported_even_if_later_data_look_better(joint) -> None:  # type: ignore[no-untyped-def]
    snaps = [CountSnapshot(10, 2, 0), CountSnapshot(15, 9, 0)]
    dec = classify_trial(joint, snaps)
    assert (dec.action, dec.look, dec.patients) == ("stop_futility", 1, 10)


def test_pending_patients_wait_and_certain_crossings_alert(joint) -> None:  # type: ignore[no-untyped-def]
    pts = [P(True, True) for _ in range(6)] + [P(None, None)] * 3
    dec = classify_trial(joint, pts)
    assert (dec.action, dec.enrolled, dec.evaluable, dec.next_look) == ("continue", 9, 6, 10)
    assert any("stopping for toxicity is certain" in a for a in dec.alerts)


def test_final_analysis(joint) -> None:  # type: ignore[no-untyped-def]
    pts = [P(i < 30, i % 5 == 0) for i in range(40)]  # 2 toxicities per 10: never >= 5,6,8,...
    dec = classify_trial(joint, pts)
    assert dec.action == "final_efficacy"
    assert dec.look == 7


def test_monitor_completed_and_stopped() -> None:
    m = make_toxicity_monitor(0.2, 0.9, 20)
    rows = {r["patients"]: r["stop_if_toxicities_at_least"] for r in m.boundary_rows()}
    assert classify_trial(m, [PatientOutcome(toxicity=False)] * 20).action == "completed"
    tox_first = [PatientOutcome(toxicity=True)] * rows[5] + [PatientOutcome(toxicity=False)] * 3
    dec = classify_trial(m, tox_first)
    assert dec.action == "stop_toxicity"
    assert dec.toxicities == dec.boundary["stop_if_toxicities_at_least"]


@pytest.mark.parametrize(
    ("observed", "message"),
    [
        ([CountSnapshot(10, 11, 0)], "responses=11 must be between 0 and patients=10"),
        ([CountSnapshot(10, 3, None)], "the design needs toxicities"),
        ([CountSnapshot(41, 20, 3)], "41 evaluable patients exceed the design's maximum of 40"),
        ([CountSnapshot(10, 3, 1), PatientOutcome(True, False)], "all PatientOutcome or all"),
    ],
)
def test_bad_observed_data(joint, observed, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=message):
        classify_trial(joint, observed)
