"""A plan as rows for a terminal table, as CSV, and as an iCalendar (.ics) file.

The HTML order sheet is in :mod:`bvall.regimen.order_sheet`. Rendering is pure: ``stamp`` (the
DTSTAMP of the calendar) is an argument, not the clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from typing import Any

from bvall.errors import InputError
from bvall.regimen.plan import Plan, PlanDay, PlannedDose

_CSV_COLUMNS = (
    "day",
    "date",
    "cycle",
    "cycle_day",
    "kind",
    "item",
    "dose",
    "unit",
    "route",
    "detail",
    "rule",
    "rule_id",
    "source",
)


def format_dose(x: PlannedDose) -> str:
    """``Venetoclax 100 mg PO`` with the rule marker and flags a reader must not miss."""
    text = x.describe()
    if x.tablets and x.unit == "mg" and x.route == "PO":
        text += f" ({x.tablets})"
    if x.rule:
        text += " *"
    if any(f.startswith("NOT MAKEABLE") for f in x.flags):
        text += " [NOT MAKEABLE]"
    return text


def render_plan_rows(plan: Plan) -> list[dict[str, Any]]:
    """One row per day for a terminal table: date, study day, doses, monitoring, assessments."""
    rows = []
    for d in plan.days:
        rows.append(
            {
                "date": "" if d.date is None else f"{d.date:%a %d %b %Y}",
                "day": _day_label(plan, d),
                "doses": "\n".join(format_dose(x) for x in d.doses),
                "monitoring": "\n".join(
                    m.label + (f" ({'; '.join(m.times)})" if m.times else "") for m in d.monitoring
                ),
                "assessments": "\n".join(f"{a.label}: {a.position}" for a in d.assessments),
            }
        )
    return rows


def _day_label(plan: Plan, d: PlanDay) -> str:
    if plan.regimen.has_cycles:
        return f"D{d.day} (C{d.cycle}D{d.cycle_day})"
    return f"D{d.day}"


def render_plan_csv(plan: Plan) -> str:
    """The plan as CSV: one row per day and item (:meth:`Plan.to_records`)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in plan.to_records():
        w.writerow({k: ("" if r.get(k) is None else r[k]) for k in _CSV_COLUMNS})
    return buf.getvalue()


def render_plan_ics(plan: Plan, *, stamp: dt.datetime) -> bytes:
    """The plan as an iCalendar file: one all-day event per planned day (doses, monitoring and
    assessment marks in its description) and one event per assessment window.

    ``stamp`` is the creation time written as DTSTAMP (UTC). UIDs are derived from the plan's
    content, so re-importing the same plan updates events instead of duplicating them.
    """
    from icalendar import Calendar, Event

    if plan.start is None:
        raise InputError("a calendar needs dates: plan with a start date (D1).")
    if stamp.tzinfo is None:
        raise InputError("stamp must be timezone-aware (e.g. datetime.now(timezone.utc)).")
    cal = Calendar()
    cal.add("prodid", "-//bvall//regimen plan//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add(
        "x-wr-calname",
        f"{plan.regimen.title}" + (f" - {plan.patient_label}" if plan.patient_label else ""),
    )
    key = _plan_key(plan)
    stamp_utc = stamp.astimezone(dt.UTC)
    for d in plan.days:
        if not (d.doses or d.monitoring or d.assessments):
            continue
        assert d.date is not None
        ev = Event()
        ev.add("uid", f"{key}-day{d.day}@bvall")
        ev.add("dtstamp", stamp_utc)
        ev.add("dtstart", d.date)
        ev.add("dtend", d.date + dt.timedelta(days=1))
        ev.add("transp", "TRANSPARENT")
        ev.add("summary", _summary(plan, d))
        ev.add("description", _description(plan, d))
        ev.add("categories", ["bvall", plan.regimen.id])
        cal.add_component(ev)
    for a in plan.assessments:
        if a.first_date is None:
            continue
        ev = Event()
        ev.add("uid", f"{key}-{a.id}@bvall")
        ev.add("dtstamp", stamp_utc)
        ev.add("dtstart", a.first_date)
        end = a.last_date or a.first_date
        ev.add("dtend", end + dt.timedelta(days=1))
        ev.add("transp", "TRANSPARENT")
        ev.add("summary", f"{a.label} ({a.window_text()})")
        ev.add("description", f"{a.label}\nWindow: {a.window_text()}\nSource: {a.source}")
        cal.add_component(ev)
    return bytes(cal.to_ical())


def _plan_key(plan: Plan) -> str:
    h = hashlib.sha256(
        "|".join(
            [
                plan.regimen.id,
                plan.regimen.version,
                str(plan.start),
                plan.patient_label,
                str(plan.weight_kg),
                str(plan.height_cm),
            ]
        ).encode()
    )
    return h.hexdigest()[:16]


def _summary(plan: Plan, d: PlanDay) -> str:
    protocol = [x for x in d.doses if x.role in ("protocol", "premedication", "prephase")]
    parts = [
        f"{x.name.split(' (')[0]} {x.dose:g} {x.unit}" if x.dose is not None else x.name
        for x in protocol
    ]
    marks = [f"{a.label.split(' (')[0]}: {a.position}" for a in d.assessments]
    body = "; ".join(parts + marks) or "; ".join(m.label for m in d.monitoring)
    return f"{plan.regimen.id} {_day_label(plan, d)}: {body}"


def _description(plan: Plan, d: PlanDay) -> str:
    lines = [f"{plan.regimen.title}, study day {d.day}"]
    if d.doses:
        lines.append("Doses:")
        for x in d.doses:
            line = f"- {x.describe()}, {x.frequency}"
            if x.tablets:
                line += f" ({x.tablets})"
            if x.rule:
                line += f". Adjusted: {x.rule} [{x.source}]"
            for f in x.flags:
                line += f". {f}"
            lines.append(line)
    if d.monitoring:
        lines.append("Monitoring:")
        for m in d.monitoring:
            tests = f": {', '.join(m.tests)}" if m.tests else ""
            when = f" ({'; '.join(m.times)})" if m.times else ""
            lines.append(f"- {m.label}{tests}{when}")
    if d.assessments:
        lines.append("Assessments:")
        lines += [f"- {a.label}: {a.position} ({a.window})" for a in d.assessments]
    lines.append("Check every order against the signed prescription.")
    return "\n".join(lines)
