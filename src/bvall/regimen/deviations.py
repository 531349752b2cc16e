"""How the doses a cohort records departed from each patient's plan.

:func:`derive_deviations` plans every course whose ``regimen`` is a bundled spec (with the
patient's weight, height, course start date and interacting co-medication when recorded) and
compares the recorded administrations, day by day, for the protocol agents:

* ``missed``: a planned dose recorded as held, or absent while other days of that agent are
  recorded; ``not_recorded``: no administration of that agent is recorded for the course at all
  (missing, not missed: e.g. the ``published`` cohort reports no per-patient venetoclax doses);
* ``reduced`` / ``increased``: given below / above the planned dose; ``interrupted``: status
  interrupted; ``extra``: given on a day without a planned dose; ``late``: the agent started
  later than planned (the rest of its schedule is then compared shifted by the delay).

Only the days *due* are judged. With ``today`` (read from the clock by the caller, never here)
the days after today's study day are ``planned``: still to come, neither given nor missed. Without
``today`` (an archived dataset, a data cut-off) the record ends at the last documented dose day
of the course (any agent), and planned days after it are ``planned`` likewise.

Per patient and agent: planned and given cumulative dose (a total: ``cumulative_unit`` is the
dose unit without "/day", e.g. µg for a blinatumomab rate in µg/day), and relative dose intensity.
When every planned day is due, RDI = (given cumulative / given span in days) / (planned
cumulative / planned span in days). Mid-course, RDI is over the days due so far: given cumulative
on those days / planned cumulative on those days (both over the same elapsed days, so the spans
cancel), and ``rdi_basis`` says which days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from bvall.cohort.model import Cohort

from bvall.regimen.interactions import Comedication, load_interactions
from bvall.regimen.load import regimen_names
from bvall.regimen.plan import Plan
from bvall.regimen.planner import plan_regimen

#: Relative tolerance when comparing doses (floating point only; a real difference is larger).
DOSE_TOLERANCE = 1e-6

EVENT_COLUMNS = (
    "patient_id",
    "course_id",
    "regimen",
    "agent",
    "study_day",
    "planned_dose",
    "given_dose",
    "unit",
    "category",
    "detail",
)
DAILY_COLUMNS = (
    "patient_id",
    "course_id",
    "regimen",
    "agent",
    "study_day",
    "planned_day",
    "planned_dose",
    "given_dose",
    "unit",
    "status",
    "category",
)
SUMMARY_COLUMNS = (
    "patient_id",
    "course_id",
    "regimen",
    "agent",
    "unit",
    "recording",
    "planned_days",
    "given_days",
    "planned_cumulative",
    "given_cumulative",
    "rdi",
    "missed",
    "reduced",
    "increased",
    "interrupted",
    "extra",
    "late",
    "not_recorded",
    "note",
    "cumulative_unit",
    "due_through",
    "still_planned",
    "planned_due_cumulative",
    "given_due_cumulative",
    "rdi_basis",
)
CATEGORIES = ("missed", "reduced", "increased", "interrupted", "extra", "late", "not_recorded")
#: Daily category of a planned day not yet due (after today, or after the last documented day).
PLANNED = "planned"


@dataclass(frozen=True)
class DeviationReport:
    """``events``: one row per deviation (and per not-recorded planned day); ``summary``: one row
    per patient, course and agent; ``daily``: every planned or given day side by side (category
    ``as_planned`` when nothing departed), for showing plan against doses given; ``notes``: what
    was assumed or could not be compared."""

    events: pa.Table
    summary: pa.Table
    daily: pa.Table
    notes: tuple[str, ...] = ()
    plans: Mapping[tuple[str, str], Plan] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary.to_pylist(),
            "events": self.events.to_pylist(),
            "daily": self.daily.to_pylist(),
            "notes": list(self.notes),
        }


def derive_deviations(
    cohort: Cohort,
    *,
    agents: Sequence[str] = ("venetoclax", "blinatumomab"),
    course_types: Sequence[str] = ("induction",),
    site_policy: str = "label",
    plans: Mapping[tuple[str, str], Plan] | None = None,
    today: dt.date | None = None,
) -> DeviationReport:
    """Compare a cohort's dose administrations with each patient's plan (see module docstring).

    ``plans`` may supply ready plans keyed by (patient_id, course_id); otherwise each course is
    planned from the cohort (weight, height, start date, co-medication). Courses whose regimen is
    not a bundled spec are listed in ``notes`` and skipped. ``today``: the date the record is
    judged at; planned days after it are ``planned``, not missed (None: judged up to the last
    documented dose day of each course).
    """
    patients = {r["patient_id"]: r for r in cohort["patients"].to_pylist()}
    courses = [
        c for c in cohort["treatment_courses"].to_pylist() if c["course_type"] in course_types
    ]
    doses = cohort["dose_administrations"].to_pylist()
    comeds = cohort["concomitant_medications"].to_pylist()
    known = set(regimen_names())
    events: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    daily: list[dict[str, Any]] = []
    notes: list[str] = []
    used_plans: dict[tuple[str, str], Plan] = {}
    for c in courses:
        pid, cid, reg = c["patient_id"], c["course_id"], c["regimen"]
        if reg not in known:
            notes.append(f"{pid}/{cid}: regimen {reg!r} is not a bundled spec; not compared.")
            continue
        p = patients[pid]
        start = c.get("start_date")
        plan = (plans or {}).get((pid, cid)) or plan_regimen(
            reg,
            start=start,
            weight_kg=p.get("weight_kg"),
            height_cm=p.get("height_cm") if p.get("weight_kg") is not None else None,
            inhibitors=_inhibitors(pid, comeds, start),
            site_policy=site_policy,
        )
        used_plans[(pid, cid)] = plan
        recorded = [d for d in doses if d["patient_id"] == pid and d["course_id"] == cid]
        due = _due_through(recorded, start, today)
        for agent in agents:
            if not plan.doses_of(agent):
                continue
            ev, row, days = _compare(pid, cid, reg, agent, plan, recorded, start, due)
            events += ev
            summary.append(row)
            daily += days
    no_weight = sorted(pid for (pid, _), pl in used_plans.items() if pl.weight_kg is None)
    if no_weight:
        notes.append(
            f"weight not recorded for {len(no_weight)} patient(s) ({', '.join(no_weight)}): "
            "blinatumomab is planned at the fixed dose, which assumes ≥ 45 kg; BSA-based "
            "doses are not computed."
        )
    missing_agents = sorted({r["agent"] for r in summary if r["recording"] == "none"})
    for a in missing_agents:
        n = sum(1 for r in summary if r["agent"] == a and r["recording"] == "none")
        notes.append(
            f"{a}: no administrations recorded for {n} course(s); their planned days are "
            "'not_recorded' (missing data), not 'missed', and no RDI is computed."
        )
    return DeviationReport(
        events=_table(events, EVENT_COLUMNS),
        summary=_table(summary, SUMMARY_COLUMNS),
        daily=_table(daily, DAILY_COLUMNS),
        notes=tuple(notes),
        plans=used_plans,
    )


def _inhibitors(
    pid: str, comeds: Sequence[Mapping[str, Any]], start: dt.date | None
) -> list[Comedication]:
    table = load_interactions()
    out = []
    for m in comeds:
        if m["patient_id"] != pid or table.lookup(m["drug"]) is None:
            continue
        a, b = m.get("start_day"), m.get("end_day")
        if a is None and start is not None and m.get("start_date") is not None:
            a = (m["start_date"] - start).days + 1
        if b is None and start is not None and m.get("end_date") is not None:
            b = (m["end_date"] - start).days + 1
        out.append(Comedication(m["drug"], a, b))
    return out


def _due_through(
    recorded: Sequence[Mapping[str, Any]], start: dt.date | None, today: dt.date | None
) -> tuple[int | None, str]:
    """The last study day whose doses are due, and why: today's study day, else the course's last
    documented dose day (None: nothing documented, every planned day is judged)."""
    if today is not None and start is not None:
        day = (today - start).days + 1
        return day, f"today is D{day}"
    days = [
        d for agent in {r["agent"] for r in recorded} for d in _expand(recorded, agent, start)[0]
    ]
    if not days:
        return None, ""
    return max(days), f"the record ends on D{max(days)}, the last documented dose day"


def _total_unit(unit: str) -> str:
    """Unit of a sum of daily doses: a rate per day sums to an amount (µg/day → µg)."""
    return unit.removesuffix("/day")


def _expand(
    recorded: Sequence[Mapping[str, Any]], agent: str, start: dt.date | None
) -> tuple[dict[int, tuple[float, str, str]], list[str]]:
    """Recorded administrations of one agent as {study day: (dose, unit, status)}."""
    out: dict[int, tuple[float, str, str]] = {}
    problems: list[str] = []
    for r in recorded:
        if r["agent"] != agent:
            continue
        a, b = r.get("study_day_start"), r.get("study_day_end")
        if a is None and r.get("date_start") is not None:
            if start is None:
                problems.append(
                    f"{agent} record dated {r['date_start']} has no study day and the course has no start date"
                )
                continue
            a = (r["date_start"] - start).days + 1
            if r.get("date_end") is not None:
                b = (r["date_end"] - start).days + 1
        if a is None:
            continue
        for day in range(a, (b if b is not None else a) + 1):
            out[day] = (float(r["dose"]), r["dose_unit"], r["status"])
    return out, problems


def _compare(
    pid: str,
    cid: str,
    reg: str,
    agent: str,
    plan: Plan,
    recorded: Sequence[Mapping[str, Any]],
    start: dt.date | None,
    due: tuple[int | None, str] = (None, ""),
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    """(deviation events, summary row, daily plan-vs-given rows) of one agent in one course."""
    planned = dict(plan.doses_of(agent))
    unit = next(iter(planned.values())).unit
    given, problems = _expand(recorded, agent, start)
    base = {"patient_id": pid, "course_id": cid, "regimen": reg, "agent": agent, "unit": unit}
    events: list[dict[str, Any]] = []
    daily: list[dict[str, Any]] = []
    counts = dict.fromkeys((*CATEGORIES, PLANNED), 0)
    due_through, due_why = due

    def is_due(day: int) -> bool:
        return due_through is None or day <= due_through

    def record(
        day: int,
        planned_day: int | None,
        planned_dose: float | None,
        given_dose: float | None,
        status: str | None,
        category: str,
        detail: str = "",
        event_day: int | None = None,
    ) -> None:
        daily.append(
            {
                **base,
                "study_day": day,
                "planned_day": planned_day,
                "planned_dose": planned_dose,
                "given_dose": given_dose,
                "status": status,
                "category": category,
            }
        )
        if category == PLANNED:
            counts[PLANNED] += 1
        elif category != "as_planned":
            counts[category] += 1
            events.append(
                {
                    **base,
                    "study_day": day if event_day is None else event_day,
                    "planned_dose": planned_dose,
                    "given_dose": given_dose,
                    "category": category,
                    "detail": detail,
                }
            )

    planned_cum = plan.cumulative_dose(agent)
    first_planned, last_planned = min(planned), max(planned)
    note = "; ".join(problems)
    window = {
        **base,
        "cumulative_unit": _total_unit(unit),
        "due_through": due_through,
    }
    if not given:
        for day, x in sorted(planned.items()):
            if not is_due(day):
                record(day, day, x.dose, None, None, PLANNED)
                continue
            record(
                day,
                day,
                x.dose,
                None,
                None,
                "not_recorded",
                "no administration of this agent is recorded for the course",
            )
        row = {
            **window,
            "recording": "none",
            "planned_days": len(planned),
            "given_days": None,
            "planned_cumulative": planned_cum,
            "given_cumulative": None,
            "rdi": None,
            **{k: counts[k] for k in CATEGORIES},
            "still_planned": counts[PLANNED],
            "note": note or "not recorded: missing data, not a missed dose",
        }
        return events, row, daily
    converted: dict[int, tuple[float, str]] = {}
    for day, (dose, dunit, status) in given.items():
        value = _convert(dose, dunit, unit, plan)
        if value is None:
            problems.append(f"D{day}: unit {dunit!r} cannot be compared with {unit!r}")
            continue
        converted[day] = (value, status)
    note = "; ".join(problems)
    given_days = sorted(d for d, (_, s) in converted.items() if s != "held")
    shift = 0
    if given_days and given_days[0] > first_planned:
        shift = given_days[0] - first_planned
        counts["late"] += 1
        events.append(
            {
                **base,
                "study_day": given_days[0],
                "planned_dose": planned[first_planned].dose,
                "given_dose": converted[given_days[0]][0],
                "category": "late",
                "detail": (
                    f"started D{given_days[0]}, planned D{first_planned} "
                    f"({shift} day{'' if shift == 1 else 's'} late)"
                ),
            }
        )
    matched: set[int] = set()
    for day, x in sorted(planned.items()):
        actual = day + shift
        if x.dose is None:
            continue
        if actual not in converted and not is_due(actual):
            record(actual, day, x.dose, None, None, PLANNED)
            continue
        if actual not in converted:
            record(
                actual, day, x.dose, None, None, "missed", "no administration recorded on this day"
            )
            continue
        matched.add(actual)
        value, status = converted[actual]
        if status == "held":
            record(actual, day, x.dose, 0.0, status, "missed", "recorded as held")
        elif status == "interrupted":
            detail = f"infusion interrupted; {value:g} of {x.dose:g} {unit}"
            record(actual, day, x.dose, value, status, "interrupted", detail)
        elif value < x.dose * (1 - DOSE_TOLERANCE):
            detail = f"{value:g} of {x.dose:g} {unit} ({100 * value / x.dose:.0f} %)"
            record(actual, day, x.dose, value, status, "reduced", detail)
        elif value > x.dose * (1 + DOSE_TOLERANCE):
            detail = f"{value:g} {unit} above the planned {x.dose:g} {unit}"
            record(actual, day, x.dose, value, status, "increased", detail)
        else:
            record(actual, day, x.dose, value, status, "as_planned")
    for day, (value, status) in sorted(converted.items()):
        if day not in matched and status != "held":
            detail = f"{value:g} {unit} given on a day without a planned dose"
            record(day, None, None, value, status, "extra", detail)
    daily.sort(key=lambda r: r["study_day"])
    events.sort(key=lambda r: r["study_day"])
    given_cum = float(round(sum(v for d, (v, s) in converted.items() if s != "held"), 6))
    rdi = None
    planned_due = given_due = None
    basis = "the whole course"
    if is_due(last_planned + shift):
        if planned_cum and given_days:
            planned_span = last_planned - first_planned + 1
            given_span = given_days[-1] - given_days[0] + 1
            rdi = round((given_cum / given_span) / (planned_cum / planned_span), 4)
    else:
        assert due_through is not None  # a planned day is not due only when a day is named
        due_doses = [x.dose for d, x in planned.items() if is_due(d + shift)]
        if all(v is not None for v in due_doses):
            planned_due = float(round(sum(v for v in due_doses if v is not None), 6))
        given_due = float(
            round(sum(v for d, (v, s) in converted.items() if s != "held" and is_due(d)), 6)
        )
        basis = (
            f"the days due so far, D{first_planned + shift}–D{due_through} ({due_why}); "
            f"D{due_through + 1}–D{last_planned + shift} are still planned"
        )
        if planned_due:
            rdi = round(given_due / planned_due, 4)
    row = {
        **window,
        "still_planned": counts[PLANNED],
        "planned_due_cumulative": planned_due,
        "given_due_cumulative": given_due,
        "rdi_basis": basis,
        "recording": "complete" if not problems else "partial",
        "planned_days": len(planned),
        "given_days": len(given_days),
        "planned_cumulative": planned_cum,
        "given_cumulative": given_cum,
        "rdi": rdi,
        **{k: counts[k] for k in CATEGORIES},
        "note": note or None,
    }
    return events, row, daily


def _convert(dose: float, unit: str, planned_unit: str, plan: Plan) -> float | None:
    if unit == planned_unit:
        return dose
    if (
        unit.endswith("/m²/day")
        and plan.bsa_m2 is not None
        and unit.replace("/m²", "") == planned_unit
    ):
        return round(dose * plan.bsa_m2, 6)
    return None


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> pa.Table:
    types = {
        "study_day": pa.int64(),
        "planned_day": pa.int64(),
        "planned_dose": pa.float64(),
        "given_dose": pa.float64(),
        "planned_days": pa.int64(),
        "given_days": pa.int64(),
        "planned_cumulative": pa.float64(),
        "given_cumulative": pa.float64(),
        "rdi": pa.float64(),
        "due_through": pa.int64(),
        "still_planned": pa.int64(),
        "planned_due_cumulative": pa.float64(),
        "given_due_cumulative": pa.float64(),
        **{c: pa.int64() for c in CATEGORIES},
    }
    schema = pa.schema([(c, types.get(c, pa.string())) for c in columns])
    return pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows], schema=schema)
