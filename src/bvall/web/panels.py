"""The derived panels of the pages: the engines' rows shaped for display, nothing computed.

Each function takes :class:`~bvall.web.derivations.Derivations` (the engines' rows of one patient,
current for the data on the page) and returns a :class:`Panel`: rows with a label, a value, the
engine's explanation, ``rule_id`` and ``rule_version``. Clinical results (grades, episodes,
response, the regimen comparison, CTCAE grade bands, alerts) all come from the engines
(:mod:`bvall.criteria`, :mod:`bvall.regimen`); this module only chooses and words rows.

==================  ==================  =====================================================
panel               engine              rows
==================  ==================  =====================================================
``grades``          ``bvall.criteria``  latest CTCAE v5.0 grade of each lab term
``plan_vs_doses``   ``bvall.regimen``   ``derive_deviations``: plan beside doses given
``episodes``        ``bvall.criteria``  ``derive(cohort, "crs" | "icans" | "tls")``
``response``        ``bvall.criteria``  ``derive(cohort, "response")`` beside the reported
``lab_grade_bands`` ``bvall.criteria``  :func:`bvall.criteria.bands.compute_grade_bands`
==================  ==================  =====================================================

Alerts are stored rows (:mod:`bvall.store.alerts`), shown by the ``alerts`` macro of ``bvall/_parts.html`` (Jinja2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bvall.criteria.alerts import ALERT_RULES
from bvall.criteria.bands import GradeBand, compute_grade_bands
from bvall.web.derivations import Derivations

#: panel -> title
PANELS: dict[str, str] = {
    "plan_vs_doses": "Plan against doses given",
    "grades_alerts": "Grades",
    "lab_grade_bands": "CTCAE grade bands",
    "episodes": "CRS, ICANS and TLS episodes",
    "response": "Derived response",
    "analysis": "Live analysis",
    "report": "Report download",
    "trial_monitoring": "Trial monitoring",
}


@dataclass(frozen=True)
class Panel:
    """A derived panel: available with rows, or unavailable with the reason in words."""

    key: str
    title: str
    available: bool
    message: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    alerts: int = 0
    details: list[dict[str, Any]] = field(default_factory=list)


def available_panel(key: str, rows: list[dict[str, Any]], message: str = "", **extra: Any) -> Panel:
    return Panel(key, PANELS[key], True, message, rows, **extra)


def _day(day: Any, time: Any = None) -> str:
    if day is None:
        return "day ?"
    return f"D{day}" + (f" {time}" if time else "")


def _row(label: str, value: str, src: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "label": label,
        "value": value,
        "explanation": src.get("explanation") or "",
        "rule_id": src.get("rule_id") or "",
        "rule_version": src.get("rule_version") or "",
        **extra,
    }


def _sort_key(g: dict[str, Any]) -> tuple[int, str]:
    return (g["day"] if g["day"] is not None else -10_000, g["time"] or "")


def _grades_panel(d: Derivations) -> Panel:
    latest: dict[str, dict[str, Any]] = {}
    for g in sorted(d.grades, key=_sort_key):
        latest[g["term_id"]] = g
    rows = []
    for g in sorted(latest.values(), key=lambda g: g["term"]):
        value = f"grade {g['grade']}" if g["grade"] is not None else "not gradable"
        rows.append(
            _row(
                f"latest {g['term']} ({_day(g['day'], g['time'])})",
                value,
                {**g, "explanation": g["explanation"] or g["reason"]},
                alert=False,
            )
        )
    # plain words; the alert rules (ids, sources) are in each alert's details
    rules = " or ".join(r.description.rstrip(".") for r in ALERT_RULES.values())
    msg = (
        f"Every graded value, whatever its day, raises an alert for {rules[:1].lower()}{rules[1:]}; "
        "alerts are listed under Alerts until a clinician acknowledges them."
        if d.grades
        else "No lab value to grade yet."
    )
    return available_panel("grades_alerts", rows, msg)


def _episodes_panel(d: Derivations) -> Panel:
    rows: list[dict[str, Any]] = []
    for name, eps in (("CRS", d.crs), ("ICANS", d.icans)):
        for e in eps:
            end = _day(e["end_day"], e["end_time"]) if e["end_day"] is not None else "ongoing"
            rows.append(
                _row(
                    f"{name} episode {e['episode']}: {_day(e['onset_day'], e['onset_time'])} – {end}",
                    f"grade {e['max_grade']}",
                    e,
                    alert=e["end_day"] is None,
                )
            )
    for t in d.tls:
        verdict = (
            "clinical TLS"
            if t["clinical_tls"]
            else "laboratory TLS"
            if t["laboratory_tls"]
            else "no TLS"
            if t["laboratory_tls"] is not None
            else "not assessable"
        )
        grade = f", grade {t['grade']}" if t["grade"] is not None else ""
        criteria = str(t["criteria"]).replace("_", " ").title()  # cairo_bishop_2004: words
        rows.append(_row(f"TLS ({criteria})", verdict + grade, t, alert=False))
    msg = "" if rows else "No CRS or ICANS episode and no TLS assessment derived."
    return available_panel("episodes", rows, msg)


def _response_panel(d: Derivations) -> Panel:
    rows = []
    for r in d.response:
        derived_text = r["response_derived"] or "not derivable"
        reported = r["response_reported"] or "not reported"
        agree = "" if r["response_derived"] == r["response_reported"] else " — differs"
        if not r["response_derived"] or not r["response_reported"]:
            agree = ""
        rows.append(
            _row(
                f"marrow {r['timepoint'] or ''} {_day(r['day'])}".replace("  ", " "),
                f"derived {derived_text}; reported {reported}{agree}",
                r,
                alert=False,
            )
        )
    msg = "" if rows else "No marrow assessment recorded."
    return available_panel("response", rows, msg)


#: Fields the regimen planner needs for one induction course.
PLAN_FIELDS = (
    ("treatment_courses", "regimen"),
    ("treatment_courses", "start_date"),
    ("patients", "weight_kg"),
    ("patients", "height_cm"),
)


def _plan_panel(d: Derivations, pid: str) -> Panel:
    from bvall.regimen import load_regimen, regimen_names

    courses = [c for c in d.courses if c["course_type"] == "induction"]
    if not courses:
        return Panel(
            "plan_vs_doses",
            PANELS["plan_vs_doses"],
            False,
            "Missing: no induction course is recorded (treatment_courses with course_type "
            "'induction', its regimen and start_date); the planner needs one. Nothing is planned.",
        )
    patient = d.patients[pid]
    missing = []
    for c in courses:
        if c["regimen"] is None:
            missing.append(f"the regimen of course {c['course_id']}")
        elif c["regimen"] not in regimen_names():
            missing.append(
                f"a bundled regimen for course {c['course_id']} (recorded {c['regimen']!r}; "
                f"bundled: {', '.join(regimen_names())})"
            )
        if c["start_date"] is None:
            missing.append(f"the start date (D1) of course {c['course_id']}")
    for col in ("weight_kg", "height_cm"):
        if patient.get(col) is None:
            missing.append(f"the patient's {col.replace('_kg', ' (kg)').replace('_cm', ' (cm)')}")
    report = d.deviations
    rows: list[dict[str, Any]] = []
    versions = {}
    for c in courses:
        if c["regimen"] in regimen_names():
            versions[c["course_id"]] = (c["regimen"], load_regimen(c["regimen"]).version)
    for s in report.summary.to_pylist():
        reg, ver = versions.get(s["course_id"], (s["regimen"], ""))
        rdi = f"RDI {s['rdi']:.2f}" if s["rdi"] is not None else "RDI not computed"
        if s["rdi"] is not None and s["due_through"] is not None and s["still_planned"]:
            rdi += f" over the days due so far (to D{s['due_through']})"
        given = s["given_cumulative"]
        total = s["cumulative_unit"]
        planned_total = s["planned_cumulative"]
        text = (
            (
                f"planned {planned_total:g} {total} in total over {s['planned_days']} days"
                if planned_total is not None
                else f"planned over {s['planned_days']} days"
            )
            + f" (daily doses in {s['unit']}); "
            + (
                f"given {given:g} {total} in total over {s['given_days']} days"
                if given is not None
                else "no administration recorded (missing, not missed)"
            )
            + (f"; RDI over {s['rdi_basis']}" if s["rdi_basis"] else "")
        )
        parts = [
            f"{s[k]} {k}"
            for k in ("missed", "reduced", "increased", "interrupted", "extra", "late")
            if s[k]
        ]
        if s["still_planned"]:
            parts.append(f"{s['still_planned']} still planned")
        counts = ", ".join(parts)
        rows.append(
            {
                "label": f"{s['agent']} ({s['course_id']})",
                "value": rdi + (f"; {counts}" if counts else "; as planned"),
                "explanation": text + (f"; {s['note']}" if s["note"] else ""),
                "rule_id": f"regimen.{reg}",
                "rule_version": f"{reg}@{ver}",
                "alert": False,
            }
        )
    for e in report.events.to_pylist():
        if e["category"] == "not_recorded":
            continue
        reg, ver = versions.get(e["course_id"], (e["regimen"], ""))
        planned = "–" if e["planned_dose"] is None else f"{e['planned_dose']:g}"
        given = "–" if e["given_dose"] is None else f"{e['given_dose']:g}"
        rows.append(
            {
                "label": f"{_day(e['study_day'])} {e['agent']}",
                "value": f"{e['category']}: planned {planned}, given {given} {e['unit']}",
                "explanation": e["detail"],
                "rule_id": f"regimen.{reg}",
                "rule_version": f"{reg}@{ver}",
                "alert": False,
                "kind": e["category"],
            }
        )
    daily = [
        {
            "day": r["study_day"],
            "agent": r["agent"],
            "planned": None if r["planned_dose"] is None else f"{r['planned_dose']:g}",
            "given": None if r["given_dose"] is None else f"{r['given_dose']:g}",
            "unit": r["unit"],
            "status": r["status"] or "",
            "category": r["category"],
        }
        for r in report.daily.to_pylist()
    ]
    notes = [n for n in report.notes if n.startswith(pid) or pid in n]
    msg = " ".join(
        (
            [f"Missing: {'; '.join(missing)} — the plan uses no value in their place."]
            if missing
            else []
        )
        + notes
    )
    return available_panel("plan_vs_doses", rows, msg, details=daily)


def patient_panels(patient_id: str, d: Derivations) -> dict[str, Panel]:
    """The derived panels of one patient's page from ``d``, that patient's current derivations
    (:func:`bvall.web.derivations.current_derivations`)."""
    return {
        "grades_alerts": _grades_panel(d),
        "plan_vs_doses": _plan_panel(d, patient_id),
        "episodes": _episodes_panel(d),
        "response": _response_panel(d),
    }


def lab_grade_bands(d: Derivations) -> Panel:
    """CTCAE grade bands behind the patient's lab charts (rows: test, grade, low, high, rule),
    from the engine (:mod:`bvall.criteria.bands`) for the limits of the latest graded value."""
    from bvall.criteria.lab_criteria import load_lab_criteria

    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    version = load_lab_criteria().rule_version
    for test in CHARTED_TESTS:
        graded = [g for g in d.grades if g["test"] == test]
        if not graded:
            continue
        last = sorted(graded, key=_sort_key)[-1]
        bands, missing = compute_grade_bands(
            test, last["lln_si"], last["uln_si"], last["baseline_si"]
        )
        notes += [f"{m} (not recorded); that band is not drawn." for m in missing]
        for b in bands:
            rows.append(
                {
                    "test": b.test,
                    "grade": b.grade,
                    "low": b.low,
                    "high": b.high,
                    "label": f"{test} grade {b.grade}",
                    "value": _band_text(b),
                    "explanation": f"CTCAE v5.0: {b.published}",
                    "rule_id": b.rule_id,
                    "rule_version": version,
                }
            )
    return available_panel("lab_grade_bands", rows, " ".join(dict.fromkeys(notes)))


def _band_text(b: GradeBand) -> str:
    if b.low is None:
        return f"< {b.high:g}"
    if b.high is None:
        return f"≥ {b.low:g}"
    return f"{b.low:g} – < {b.high:g}"


#: Tests charted on the patient page (the web's lab charts), which get grade bands.
CHARTED_TESTS = ("anc", "platelets", "hemoglobin", "wbc")
