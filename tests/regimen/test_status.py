"""The patient's status and what is due today (bvall.regimen.status), on hand-made records.

Each expectation follows from the rules in the module docstring; dates are chosen so that a
wrong rule (e.g. counting study days for ever, or ignoring a recorded end) gives another answer.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bvall.regimen import plan_regimen
from bvall.regimen.status import (
    DueToday,
    classify_patient_status,
    compute_protocol_days,
    plan_due_today,
)

D1 = dt.date(2026, 3, 2)


def _course(cid: str, kind: str, n: int, start: dt.date, end: dt.date | None) -> dict:
    return {
        "course_id": cid,
        "course_type": kind,
        "course_number": n,
        "start_date": start,
        "end_date": end,
    }


PRE = _course("PRE", "prephase", 1, D1 - dt.timedelta(days=4), D1 - dt.timedelta(days=1))
IND_OPEN = _course("IND", "induction", 2, D1, None)
IND_DONE = _course("IND", "induction", 2, D1, D1 + dt.timedelta(days=29))


def test_protocol_length_is_the_last_protocol_dose_day_of_the_plan() -> None:
    # bv-concurrent: venetoclax and blinatumomab D1-D14 (seed paper, Treatment)
    plan = plan_regimen("bv-concurrent", start=None, weight_kg=None, height_cm=None)
    assert compute_protocol_days(plan) == 14


def test_on_induction_day_n_of_the_protocol_length() -> None:
    s = classify_patient_status(
        [PRE, IND_OPEN],
        [],
        D1 + dt.timedelta(days=4),
        arm="concurrent",
        protocol_days={"IND": 14},
    )
    assert s.phase == "on_course"
    assert s.text == "On induction day 5 of 14, concurrent arm"
    assert (s.day, s.course_day, s.course_length) == (5, 5, 14)


def test_past_the_protocol_length_without_an_end_is_not_on_induction_for_ever() -> None:
    s = classify_patient_status(
        [IND_OPEN], [], D1 + dt.timedelta(days=800), protocol_days={"IND": 14}
    )
    assert s.phase == "between_courses"
    assert "its end is not recorded" in s.detail
    assert s.day == 801


def test_before_d1_in_pre_phase() -> None:
    s = classify_patient_status([PRE, IND_OPEN], [], D1 - dt.timedelta(days=2))
    assert (s.phase, s.text, s.day) == ("before_induction", "In pre-phase", -1)


def test_between_courses_when_nothing_was_recorded_since_the_end() -> None:
    cons = _course("CONS1", "consolidation", 3, D1 + dt.timedelta(days=40), None)
    s = classify_patient_status([IND_DONE, cons], [], D1 + dt.timedelta(days=33))
    assert s.phase == "between_courses"
    assert s.detail.startswith("induction ended 2026-03-31 (D30)")
    assert "next: consolidation from 2026-04-11" in s.detail


def test_in_follow_up_after_the_last_course_with_events_since() -> None:
    events = [
        {"event": "cr_documented", "date": D1 + dt.timedelta(days=27), "study_day": None},
        {"event": "last_contact", "date": None, "study_day": 256},
    ]
    s = classify_patient_status([PRE, IND_DONE], events, D1 + dt.timedelta(days=300))
    assert s.phase == "follow_up"
    assert s.text == "In follow-up"
    assert s.detail.endswith("last contact 2026-11-12 (D256)")


def test_death_puts_the_patient_off_study_whatever_the_courses() -> None:
    events = [{"event": "death", "date": dt.date(2026, 6, 1), "study_day": None}]
    s = classify_patient_status([IND_OPEN], events, dt.date(2026, 12, 7))
    assert s.phase == "off_study"
    assert s.text == "Off study: died"
    assert s.detail == "2026-06-01 (D92)"
    # an event dated after today does not count yet
    assert classify_patient_status([IND_OPEN], events, D1).phase == "on_course"


def test_no_induction_start_date() -> None:
    s = classify_patient_status([_course("IND", "induction", 1, None, None)], [], D1)  # type: ignore[arg-type]
    assert (s.phase, s.day) == ("not_started", None)


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return plan_regimen("bv-concurrent", start=D1, weight_kg=70.0, height_cm=170.0)


def test_due_today_lists_the_plans_doses_and_tls_labs(plan) -> None:  # type: ignore[no-untyped-def]
    s = classify_patient_status(
        [IND_OPEN], [], D1 + dt.timedelta(days=7), protocol_days={"IND": 14}
    )
    due = plan_due_today(plan, s)
    assert due.day == 8
    agents = {d["agent"] for d in due.doses}
    assert {"venetoclax", "blinatumomab"} <= agents
    # blinatumomab escalates to 28 ug from day 8 (seed paper, Treatment)
    blina = next(d for d in due.doses if d["agent"] == "blinatumomab")
    assert "28" in blina["text"]
    assert any(
        "TLS" in c["label"]
        for c in plan_due_today(
            plan, classify_patient_status([IND_OPEN], [], D1, protocol_days={"IND": 14})
        ).checks
    )


def test_nothing_due_in_follow_up(plan) -> None:  # type: ignore[no-untyped-def]
    events = [{"event": "last_contact", "date": D1 + dt.timedelta(days=200), "study_day": None}]
    s = classify_patient_status([IND_DONE], events, D1 + dt.timedelta(days=300))
    due = plan_due_today(plan, s)
    assert isinstance(due, DueToday)
    assert due.doses == []
    assert due.reason == "Nothing is planned: in follow-up."
