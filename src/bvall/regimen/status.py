"""Where a patient is today, and what the plan has due today: pure functions of the recorded
courses and follow-up events, the plan and ``today`` (no clock is read here).

A status is a phrase a clinician reads at a glance ("On induction day 5 of 14, concurrent arm",
"In follow-up", "Off study: died 2025-05-18") instead of a study day counted from D1 for ever.

The rules, in order (each from the cohort schema's meaning of its fields):

1. **Off study** when a follow-up event ``death``, ``lost_to_follow_up`` or ``withdrawal`` is
   dated on or before today (vocabulary ``follow_up_event``).
2. **Not started** when no induction course has a start date (D1 is the first induction day).
3. **Before induction** when today is before D1 (in pre-phase when a pre-phase course runs).
4. **On a course** when a course has started and has not ended: its ``end_date`` is on or after
   today, or, with no end recorded, today is within the protocol's length (the last day with a
   protocol dose of the course's plan). Past that length with no end recorded the course is
   taken as over and the status says that its end is not recorded.
5. **Between courses** when the last course has ended and a later course is recorded to start
   after today, or nothing (no follow-up event, no course) has been recorded since it ended.
6. **In follow-up** otherwise: the last course has ended and follow-up events were recorded
   after it (follow-up events are "events after induction").
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bvall.regimen.plan import Plan

#: follow-up events after which a patient is off study, with the words for each
OFF_STUDY_EVENTS = {
    "death": "died",
    "lost_to_follow_up": "lost to follow-up",
    "withdrawal": "withdrew consent",
}

COURSE_WORDS = {
    "prephase": "pre-phase",
    "induction": "induction",
    "salvage": "salvage",
    "consolidation": "consolidation",
    "maintenance": "maintenance",
    "hsct": "HSCT",
}

EVENT_WORDS = {
    "cr_documented": "complete remission documented",
    "consolidation_start": "consolidation started",
    "hsct": "allogeneic HSCT",
    "relapse": "relapse",
    "progression": "progression",
    "last_contact": "last contact",
}


@dataclass(frozen=True)
class PatientStatus:
    """``phase``: one of not_started, before_induction, on_course, between_courses, follow_up,
    off_study. ``text`` is the phrase shown; ``detail`` a second line (dates, last event);
    ``day`` the study day today (``None`` without D1); ``course_day`` the day of the running
    course and ``course_length`` its protocol length, when on a course."""

    phase: str
    text: str
    detail: str = ""
    day: int | None = None
    course_id: str | None = None
    course_type: str | None = None
    course_day: int | None = None
    course_length: int | None = None


@dataclass(frozen=True)
class DueToday:
    """What the plan has due on ``day``: doses (with the rule that changed a dose) and
    monitoring (e.g. the TLS labs); ``reason`` says why nothing is listed."""

    day: int | None
    doses: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""


def compute_protocol_days(plan: Plan) -> int | None:
    """The protocol's length in study days: the last day with a protocol dose of ``plan``."""
    days = [d.day for d in plan.days if any(x.role == "protocol" for x in d.doses)]
    return max(days) if days else None


@functools.lru_cache(maxsize=32)
def protocol_days_of(regimen: str) -> int | None:
    """The protocol length of a bundled regimen (planned without dates or body size: the days
    do not depend on them); ``None`` for a regimen that is not bundled."""
    from bvall.regimen.load import regimen_names
    from bvall.regimen.planner import plan_regimen

    if regimen not in regimen_names():
        return None
    return compute_protocol_days(plan_regimen(regimen, start=None, weight_kg=None, height_cm=None))


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _course_key(c: Mapping[str, Any]) -> tuple[Any, ...]:
    return (_date(c["start_date"]), c.get("course_number") or 0, c.get("course_id") or "")


def _event_date(e: Mapping[str, Any], d1: dt.date | None) -> dt.date | None:
    if e.get("date") is not None:
        return _date(e["date"])
    if e.get("study_day") is not None and d1 is not None:
        return d1 + dt.timedelta(days=int(e["study_day"]) - 1)
    return None


def _study_day(d1: dt.date, when: dt.date) -> int:
    """Study day of ``when`` (D1 = 1, the day before D1 = 0, as on the cohort list)."""
    return (when - d1).days + 1


def _d(d1: dt.date | None, when: dt.date) -> str:
    return f"{when.isoformat()}" + (f" (D{_study_day(d1, when)})" if d1 is not None else "")


def classify_patient_status(
    courses: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    today: dt.date,
    *,
    arm: str | None = None,
    protocol_days: Mapping[str, int] | None = None,
) -> PatientStatus:
    """The patient's status on ``today`` (see the module docstring for the rules).

    ``courses`` are treatment_courses rows (course_id, course_type, course_number, start_date,
    end_date), ``events`` follow_up_events rows (event, date, study_day); ``protocol_days``
    gives, per course_id, the protocol length used when a running course has no end date.
    """
    lengths = protocol_days or {}
    dated = sorted((c for c in courses if _date(c.get("start_date")) is not None), key=_course_key)
    inductions = [c for c in dated if c.get("course_type") == "induction"]
    d1 = _date(inductions[0]["start_date"]) if inductions else None
    day = _study_day(d1, today) if d1 is not None else None
    arm_text = f", {arm} arm" if arm else ""
    past = sorted(
        (
            (when, e["event"])
            for e in events
            if (when := _event_date(e, d1)) is not None and when <= today
        ),
        key=lambda x: x[0],
    )
    off = [(w, ev) for w, ev in past if ev in OFF_STUDY_EVENTS]
    if off:
        when, ev = off[0]
        return PatientStatus("off_study", f"Off study: {OFF_STUDY_EVENTS[ev]}", _d(d1, when), day)
    if d1 is None:
        return PatientStatus("not_started", "Induction not started", "no induction start date")
    started = [c for c in dated if _date(c["start_date"]) <= today]  # type: ignore[operator]
    if today < d1:
        running = [c for c in started if (_date(c.get("end_date")) or today) >= today]
        where = "In pre-phase" if running else "Before induction"
        return PatientStatus("before_induction", where, f"D1 is {d1.isoformat()}", day)
    last = started[-1]
    start = _date(last["start_date"])
    assert start is not None
    kind = COURSE_WORDS.get(last.get("course_type") or "", last.get("course_type") or "course")
    course_day = (today - start).days + 1
    end = _date(last.get("end_date"))
    length = lengths.get(last.get("course_id") or "")
    note = ""
    if end is None and length is not None and course_day > length:
        end = start + dt.timedelta(days=length - 1)
        note = "; its end is not recorded"
    if end is None or end >= today:
        of = f" of {length}" if length is not None else ""
        text = f"On {kind} day {course_day}{of}" + (
            arm_text if last.get("course_type") == "induction" else ""
        )
        return PatientStatus(
            "on_course",
            text,
            f"started {_d(d1, start)}",
            day,
            last.get("course_id"),
            last.get("course_type"),
            course_day,
            length,
        )
    ended = f"{kind} ended {_d(d1, end)}{note}"
    later = [c for c in dated if _date(c["start_date"]) > today]  # type: ignore[operator]
    since = [(w, ev) for w, ev in past if w > end]
    if later or not since:
        nxt = (
            f"; next: {COURSE_WORDS.get(later[0]['course_type'], 'course')} from "
            f"{_date(later[0]['start_date'])}"
            if later
            else ""
        )
        return PatientStatus("between_courses", "Between courses", ended + nxt, day)
    when, ev = since[-1]
    latest = f"{EVENT_WORDS.get(ev, ev.replace('_', ' '))} {_d(d1, when)}"
    return PatientStatus("follow_up", "In follow-up", f"{ended}; {latest}", day)


def plan_due_today(plan: Plan | None, status: PatientStatus) -> DueToday:
    """Doses and monitoring the plan has on today's study day, when the patient is on the
    planned course; otherwise nothing, with the reason."""
    if status.phase not in ("on_course", "before_induction") or status.day is None:
        return DueToday(
            status.day, reason=f"Nothing is planned: {status.text[0].lower()}{status.text[1:]}."
        )
    if plan is None:
        return DueToday(status.day, reason="No plan: the course has no bundled regimen.")
    try:
        pday = plan.day(status.day)
    except KeyError:
        return DueToday(status.day, reason=f"The plan has nothing on D{status.day}.")
    doses = [
        {
            "agent": d.agent,
            "text": d.describe(),
            "rule": d.rule,
            "rule_id": d.rule_id,
            "source": d.source,
            "flags": list(d.flags),
        }
        for d in pday.doses
    ]
    checks = [
        {
            "label": m.short or m.label,
            "detail": m.label,
            "tests": list(m.tests),
            "times": list(m.times),
            "source": m.source,
        }
        for m in pday.monitoring
    ]
    reason = "" if doses or checks else f"The plan has nothing on D{status.day}."
    return DueToday(status.day, doses, checks, reason)
