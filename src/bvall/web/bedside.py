"""The first screen of a patient: where the patient is, what is due today, what needs attention
and the trend of the counts. It arranges what the engines and the plan already give (the status
and what is due come from :mod:`bvall.regimen.status`); it adds no clinical rule of its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bvall.regimen.status import (
    DueToday,
    PatientStatus,
    classify_patient_status,
    compute_protocol_days,
    plan_due_today,
    protocol_days_of,
)

#: the counts whose trend the first screen shows (lab test codes, cohort catalogue)
TREND_TESTS = (
    ("anc", "Neutrophils"),
    ("platelets", "Platelets"),
    ("hemoglobin", "Haemoglobin"),
    ("wbc", "White cells"),
)


def plural(n: int, one: str, many: str | None = None) -> str:
    """``"1 alert"``, ``"2 alerts"``: a count with its noun in the right number."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _course_rows(courses: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "course_id": c.course_id,
            "course_type": c.course_type,
            "course_number": c.course_number,
            "start_date": c.start_date,
            "end_date": c.end_date,
            "regimen": c.regimen,
        }
        for c in courses
    ]


def derive_statuses(
    courses: Sequence[Any], events: Sequence[Any], arms: Mapping[str, str | None], today: dt.date
) -> dict[str, PatientStatus]:
    """The status of each patient of the list (model rows of several patients); a running
    course's protocol length comes from its bundled regimen."""
    by_pid: dict[str, tuple[list[Any], list[Any]]] = {pid: ([], []) for pid in arms}
    for c in courses:
        by_pid.setdefault(c.patient_id, ([], []))[0].append(c)
    for e in events:
        by_pid.setdefault(e.patient_id, ([], []))[1].append(e)
    out = {}
    for pid, (cs, es) in by_pid.items():
        rows = _course_rows(cs)
        lengths = {
            r["course_id"]: n
            for r in rows
            if r["regimen"] and (n := protocol_days_of(r["regimen"])) is not None
        }
        evs = [{"event": e.event, "date": e.date, "study_day": e.study_day} for e in es]
        out[pid] = classify_patient_status(
            rows, evs, today, arm=arms.get(pid), protocol_days=lengths
        )
    return out


def derive_status(
    courses: Sequence[Any], events: Sequence[Any], today: dt.date, arm: str | None, plans: Any
) -> tuple[PatientStatus, DueToday]:
    """The patient's status and what the plan has due today, from the model rows and the
    plans the deviation engine made (keyed by (patient, course))."""
    rows = _course_rows(courses)
    evs = [{"event": e.event, "date": e.date, "study_day": e.study_day} for e in events]
    by_course = {cid: plan for (_, cid), plan in (plans or {}).items()}
    lengths = {
        cid: n for cid, plan in by_course.items() if (n := compute_protocol_days(plan)) is not None
    }
    status = classify_patient_status(rows, evs, today, arm=arm, protocol_days=lengths)
    plan = by_course.get(status.course_id or "") if status.course_id else None
    if plan is None and status.phase == "before_induction":
        inductions = [r for r in rows if r["course_type"] == "induction"]
        plan = by_course.get(inductions[0]["course_id"]) if inductions else None
    return status, plan_due_today(plan, status)


#: Open alerts listed on the first screen (the latest first); all are under Alerts.
ATTENTION_ALERTS = 5


def list_attention(
    grade_rows: Sequence[Mapping[str, Any]],
    crs: Sequence[Mapping[str, Any]],
    icans: Sequence[Mapping[str, Any]],
    tls: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """What needs attention, most urgent first: open CRS/ICANS episodes, open alerts (stored until
    a clinician acknowledges them, :mod:`bvall.store.alerts`), TLS, then CRS/ICANS episodes that
    have ended."""
    items: list[dict[str, Any]] = []
    latest = sorted(alerts, key=lambda a: (a.get("day") is None, -(a.get("day") or 0)))
    for a in latest[:ATTENTION_ALERTS]:
        when = (
            ""
            if a.get("day") is None
            else f"D{a['day']}" + (f" {a['time']}" if a.get("time") else "")
        )
        items.append(
            {
                "order": 1,
                "severe": True,
                "text": f"{a.get('term')}: grade {a.get('grade')}"
                + ("" if a.get("met", True) else " (value since corrected)"),
                "when": when,
                "why": a.get("explanation") or "",
                "rule": a.get("grade_rule_id") or a.get("rule_id") or "",
                "version": a.get("grade_rule_version") or a.get("rule_version") or "",
            }
        )
    for kind, rows in (("CRS", crs), ("ICANS", icans)):
        for e in rows:
            onset = e.get("onset_day")
            end = e.get("end_day")
            ongoing = end is None
            when = f"from D{onset}, ongoing" if ongoing else f"D{onset} to D{end}"
            items.append(
                {
                    "order": 0 if ongoing else 3,
                    "severe": ongoing or (e.get("max_grade") or 0) >= 3,
                    "text": f"{kind} grade {e.get('max_grade')}",
                    "when": when + ("" if ongoing else ", resolved"),
                    "why": e.get("explanation") or "",
                    "rule": e.get("rule_id") or "",
                    "version": e.get("rule_version") or "",
                }
            )
    if len(latest) > ATTENTION_ALERTS:
        more = len(latest) - ATTENTION_ALERTS
        items.append(
            {
                "order": 1,
                "severe": True,
                "text": f"{more} more open alert{'' if more == 1 else 's'}",
                "when": "listed under Alerts",
                "href": "#alerts",
                "why": "",
                "rule": "",
                "version": "",
            }
        )
    for r in grade_rows:
        if r.get("alert"):
            day = re.match(r"D-?\d+( \d\d:\d\d)?", r["label"])
            items.append(
                {
                    "order": 1,
                    "severe": True,
                    "text": f"{r['label'][day.end() if day else 0 :].strip()}: {r['value']}",
                    "when": day.group(0) if day else "",
                    "why": r.get("explanation") or "",
                    "rule": r.get("rule_id") or "",
                    "version": r.get("rule_version") or "",
                }
            )
    for t in tls:
        if t.get("clinical_tls") or t.get("laboratory_tls"):
            kind = "Clinical TLS" if t.get("clinical_tls") else "Laboratory TLS"
            grade = f", grade {t['grade']}" if t.get("grade") is not None else ""
            items.append(
                {
                    "order": 2,
                    "severe": True,
                    "text": kind + grade,
                    "when": str(t.get("criteria") or "").replace("_", " ").title(),
                    "why": t.get("explanation") or "",
                    "rule": t.get("rule_id") or "",
                    "version": t.get("rule_version") or "",
                }
            )
    return sorted(items, key=lambda i: i["order"])


def summarise_counts(
    series: Mapping[str, Sequence[tuple[int, float, str]]], grades: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Latest value of each count, its change from the one before, and its latest CTCAE grade.

    ``series``: per test, (study day, value in the canonical unit, the value as entered)."""
    out = []
    for code, name in TREND_TESTS:
        pts = sorted(series.get(code, ()), key=lambda p: p[0])
        if not pts:
            continue
        day, value, entered = pts[-1]
        arrow, change = "", ""
        if len(pts) > 1:
            prev = pts[-2][1]
            arrow = "↑" if value > prev else "↓" if value < prev else "→"
            change = f"from {pts[-2][2]} on D{pts[-2][0]}"
        graded = [g for g in grades if g.get("test") == code and g.get("day") == day]
        grade = graded[-1]["grade"] if graded else None
        out.append(
            {
                "name": name,
                "value": entered,
                "day": day,
                "arrow": arrow,
                "change": change,
                "grade": grade,
            }
        )
    return out
