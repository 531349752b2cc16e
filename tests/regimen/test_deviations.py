"""Deviations of recorded doses from each patient's plan (hand-computed expectations)."""

from __future__ import annotations

import datetime as dt

import pytest

from bvall.cohort import Cohort
from bvall.regimen import derive_deviations

START = dt.date(2026, 12, 7)


def _dose(
    pid: str,
    agent: str,
    dose: float,
    unit: str,
    day: int,
    end: int | None = None,
    status: str = "given",
) -> dict:  # type: ignore[type-arg]
    route = "PO" if agent == "venetoclax" else "CIV"
    return {
        "patient_id": pid,
        "course_id": "IND",
        "agent": agent,
        "dose": dose,
        "dose_unit": unit,
        "route": route,
        "study_day_start": day,
        "study_day_end": end if end is not None else day,
        "status": status,
    }


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    patients = [
        {
            "patient_id": p,
            "sex": "F",
            "age_years": 60,
            "arm": "concurrent",
            "weight_kg": 62.0,
            "height_cm": 168.0,
        }
        for p in ("P1", "P2", "P3")
    ]
    courses = [
        {
            "patient_id": p,
            "course_id": "IND",
            "course_type": "induction",
            "regimen": "bv-concurrent",
            "course_number": 1,
            "start_date": START,
        }
        for p in ("P1", "P2", "P3")
    ]
    doses = [
        # P1 venetoclax: D3 held (missed), D4 200 of 400 (reduced), D15 extra.
        _dose("P1", "venetoclax", 100, "mg", 1),
        _dose("P1", "venetoclax", 200, "mg", 2),
        _dose("P1", "venetoclax", 300, "mg", 3, status="held"),
        _dose("P1", "venetoclax", 200, "mg", 4),
        _dose("P1", "venetoclax", 400, "mg", 5, 15),
        # P1 blinatumomab: started D3 (2 days late), interrupted on D12 (20 of 28 µg).
        _dose("P1", "blinatumomab", 9, "µg/day", 3, 9),
        _dose("P1", "blinatumomab", 28, "µg/day", 10, 11),
        _dose("P1", "blinatumomab", 20, "µg/day", 12, status="interrupted"),
        _dose("P1", "blinatumomab", 28, "µg/day", 13, 16),
        # P2 on posaconazole D-2..D14: the label ramp 10/20/50/70 is the plan, so no deviation.
        _dose("P2", "venetoclax", 10, "mg", 1),
        _dose("P2", "venetoclax", 20, "mg", 2),
        _dose("P2", "venetoclax", 50, "mg", 3),
        _dose("P2", "venetoclax", 70, "mg", 4, 14),
        # P2 blinatumomab recorded per m² (5.294... µg/m²/day × 1.70 m² = 9 µg/day).
        _dose("P2", "blinatumomab", 9 / 1.7, "µg/m²/day", 1, 7),
        _dose("P2", "blinatumomab", 28, "µg/day", 8, 14),
        # P3: blinatumomab only; venetoclax not recorded at all.
        _dose("P3", "blinatumomab", 9, "µg/day", 1, 7),
        _dose("P3", "blinatumomab", 28, "µg/day", 8, 14),
    ]
    comeds = [{"patient_id": "P2", "drug": "posaconazole", "start_day": -2, "end_day": 14}]
    return Cohort.from_tables(
        {
            "patients": patients,
            "treatment_courses": courses,
            "dose_administrations": doses,
            "concomitant_medications": comeds,
        }
    )


def _row(report, pid: str, agent: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return next(
        r for r in report.summary.to_pylist() if r["patient_id"] == pid and r["agent"] == agent
    )


def test_missed_reduced_extra(cohort: Cohort) -> None:
    rep = derive_deviations(cohort)
    r = _row(rep, "P1", "venetoclax")
    assert (r["missed"], r["reduced"], r["extra"], r["late"], r["interrupted"]) == (1, 1, 1, 0, 0)
    assert r["planned_cumulative"] == 5000
    # Given: 100 + 200 + 200 + 11 × 400 (D5-D15) = 4900 mg over D1-D15 (15 days); planned
    # 5000 mg over 14 days. RDI = (4900/15)/(5000/14) = 0.91467.
    assert r["given_cumulative"] == 4900
    assert r["rdi"] == pytest.approx(0.9147, abs=1e-4)
    ev = {
        (e["study_day"], e["category"]): e
        for e in rep.events.to_pylist()
        if e["patient_id"] == "P1" and e["agent"] == "venetoclax"
    }
    assert set(ev) == {(3, "missed"), (4, "reduced"), (15, "extra")}
    assert ev[(4, "reduced")]["detail"] == "200 of 400 mg (50 %)"
    assert ev[(3, "missed")]["detail"] == "recorded as held"


def test_late_start_and_interruption(cohort: Cohort) -> None:
    rep = derive_deviations(cohort)
    r = _row(rep, "P1", "blinatumomab")
    assert (r["late"], r["interrupted"], r["missed"], r["extra"], r["reduced"]) == (1, 1, 0, 0, 0)
    # Given 7 × 9 + 6 × 28 + 20 = 251 µg over D3-D16 (14 days) vs 259 µg over 14 days.
    assert r["given_cumulative"] == 251
    assert r["rdi"] == pytest.approx(251 / 259, abs=1e-4)
    late = next(e for e in rep.events.to_pylist() if e["category"] == "late")
    assert late["detail"] == "started D3, planned D1 (2 days late)"


def test_plan_follows_the_recorded_inhibitor_and_units(cohort: Cohort) -> None:
    rep = derive_deviations(cohort)
    for agent in ("venetoclax", "blinatumomab"):
        r = _row(rep, "P2", agent)
        assert (
            sum(r[c] for c in ("missed", "reduced", "increased", "interrupted", "extra", "late"))
            == 0
        )
        assert r["rdi"] == pytest.approx(1.0, abs=1e-6)
    assert _row(rep, "P2", "venetoclax")["planned_cumulative"] == 10 + 20 + 50 + 11 * 70


def test_not_recorded_is_missing_not_missed(cohort: Cohort) -> None:
    rep = derive_deviations(cohort)
    r = _row(rep, "P3", "venetoclax")
    assert r["recording"] == "none"
    assert (r["missed"], r["not_recorded"], r["rdi"], r["given_cumulative"]) == (0, 14, None, None)
    assert any("not 'missed'" in n for n in rep.notes)


def test_published_cohort(published) -> None:  # type: ignore[no-untyped-def]
    rep = derive_deviations(published)
    ven = [r for r in rep.summary.to_pylist() if r["agent"] == "venetoclax"]
    assert len(ven) == 13
    assert all(
        r["recording"] == "none" and r["missed"] == 0 and r["not_recorded"] == 14 for r in ven
    )
    assert {e["category"] for e in rep.events.to_pylist()} == {"not_recorded"}
    assert any("venetoclax: no administrations recorded for 13 course(s)" in n for n in rep.notes)
    assert any("weight" in n for n in rep.notes)


def test_a_cohort_that_follows_the_plan_has_no_deviation() -> None:
    from bvall.regimen import plan_regimen

    plan = plan_regimen(
        "bv-sequential",
        start=START,
        weight_kg=44.9,
        height_cm=150,
        inhibitors=["voriconazole:1..5"],
    )
    rows = plan.to_dose_administrations(
        "Q1", "IND", agents=("venetoclax", "blinatumomab", "dexamethasone")
    )
    # Runs of identical doses: venetoclax 10, 20, 50, 100 (D4-D5 with the inhibitor, D6-D7 in
    # its 3-day washout), then 400 from D8; blinatumomab per m² (44.9 kg < 45 kg).
    ven = [
        (r["study_day_start"], r["study_day_end"], r["dose"])
        for r in rows
        if r["agent"] == "venetoclax"
    ]
    assert ven == [(1, 1, 10), (2, 2, 20), (3, 3, 50), (4, 7, 100), (8, 14, 400)]
    first = next(r for r in rows if r["agent"] == "venetoclax")
    assert (first["date_start"], first["route"], first["status"]) == (START, "PO", "given")
    cohort = Cohort.from_tables(
        {
            "patients": [
                {
                    "patient_id": "Q1",
                    "sex": "M",
                    "age_years": 70,
                    "arm": "sequential",
                    "weight_kg": 44.9,
                    "height_cm": 150.0,
                }
            ],
            "treatment_courses": [
                {
                    "patient_id": "Q1",
                    "course_id": "IND",
                    "course_type": "induction",
                    "regimen": "bv-sequential",
                    "start_date": START,
                }
            ],
            "dose_administrations": rows,
            "concomitant_medications": [
                {"patient_id": "Q1", "drug": "voriconazole", "start_day": 1, "end_day": 5}
            ],
        }
    )
    rep = derive_deviations(cohort)
    assert rep.events.num_rows == 0
    assert [r["rdi"] for r in rep.summary.to_pylist()] == [1.0, 1.0]


def test_daily_plan_against_given(cohort: Cohort) -> None:
    rep = derive_deviations(cohort)
    rows = [
        r for r in rep.daily.to_pylist() if r["patient_id"] == "P1" and r["agent"] == "blinatumomab"
    ]
    # Started 2 days late: planned D1 is given on D3, planned D14 on D16; D12 interrupted.
    assert [r["study_day"] for r in rows] == list(range(3, 17))
    assert rows[0]["planned_day"] == 1
    assert rows[0]["category"] == "as_planned"
    d12 = next(r for r in rows if r["study_day"] == 12)
    assert (d12["planned_dose"], d12["given_dose"], d12["category"]) == (28, 20, "interrupted")
    ven = {
        r["study_day"]: r["category"]
        for r in rep.daily.to_pylist()
        if r["patient_id"] == "P1" and r["agent"] == "venetoclax"
    }
    assert ven[3] == "missed"
    assert ven[4] == "reduced"
    assert ven[15] == "extra"
    assert ven[1] == "as_planned"


def _mid_course() -> Cohort:
    """The issue's T01: bv-concurrent from D1, blinatumomab and venetoclax given D1–D3 only."""
    doses = [
        _dose("T01", "blinatumomab", 9, "µg/day", 1, 3),
        _dose("T01", "venetoclax", 100, "mg", 1),
        _dose("T01", "venetoclax", 200, "mg", 2),
        _dose("T01", "venetoclax", 300, "mg", 3),
    ]
    return Cohort.from_tables(
        {
            "patients": [
                {
                    "patient_id": "T01",
                    "sex": "M",
                    "age_years": 50,
                    "arm": "concurrent",
                    "weight_kg": 70.0,
                    "height_cm": 175.0,
                }
            ],
            "treatment_courses": [
                {
                    "patient_id": "T01",
                    "course_id": "IND",
                    "course_type": "induction",
                    "regimen": "bv-concurrent",
                    "start_date": START,
                }
            ],
            "dose_administrations": doses,
        }
    )


def test_mid_course_days_after_today_are_planned_not_missed() -> None:
    # issue 12, item 6: at D6 with doses for D1-D3, D4-D6 are missed and D7-D14 still planned
    rep = derive_deviations(_mid_course(), today=START + dt.timedelta(days=5))
    blina = _row(rep, "T01", "blinatumomab")
    assert (blina["due_through"], blina["missed"], blina["still_planned"]) == (6, 3, 8)
    # planned D1-D6: 6 × 9 µg/day = 54 µg; given D1-D3 = 27 µg: RDI 27/54 over the days due
    assert (blina["planned_due_cumulative"], blina["given_due_cumulative"]) == (54, 27)
    assert blina["rdi"] == pytest.approx(0.5, abs=1e-9)
    assert blina["rdi_basis"].startswith("the days due so far, D1–D6 (today is D6)")
    # the whole-course total is a total in µg, the daily doses a rate in µg/day
    assert (blina["planned_cumulative"], blina["cumulative_unit"], blina["unit"]) == (
        259,
        "µg",
        "µg/day",
    )
    ven = _row(rep, "T01", "venetoclax")
    # label ramp 100/200/300 then 400 mg: due D1-D6 = 100+200+300+3×400 = 1800; given 600
    assert (ven["missed"], ven["still_planned"], ven["planned_due_cumulative"]) == (3, 8, 1800)
    assert ven["rdi"] == pytest.approx(600 / 1800, abs=1e-4)
    daily = {
        r["study_day"]: r["category"] for r in rep.daily.to_pylist() if r["agent"] == "blinatumomab"
    }
    assert [daily[d] for d in (3, 4, 6, 7, 14)] == [
        "as_planned",
        "missed",
        "missed",
        "planned",
        "planned",
    ]
    assert {e["category"] for e in rep.events.to_pylist()} == {"missed"}


def test_without_a_clock_the_record_ends_at_the_last_documented_day() -> None:
    rep = derive_deviations(_mid_course())
    blina = _row(rep, "T01", "blinatumomab")
    assert (blina["due_through"], blina["missed"], blina["still_planned"]) == (3, 0, 11)
    assert blina["rdi"] == pytest.approx(1.0, abs=1e-9)
    assert "last documented dose day" in blina["rdi_basis"]


def test_a_finished_course_is_judged_whole() -> None:
    rep = derive_deviations(_mid_course(), today=START + dt.timedelta(days=30))
    blina = _row(rep, "T01", "blinatumomab")
    assert (blina["missed"], blina["still_planned"], blina["rdi_basis"]) == (
        11,
        0,
        "the whole course",
    )
