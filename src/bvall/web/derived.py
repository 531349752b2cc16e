"""The one place where the web layer asks bvall's engines for derived results.

Pages and the API show derived values (grades, alerts, episodes, response, plan against doses,
the live analysis, the report, trial monitoring) only through the functions here. Each returns a
:class:`Panel`; a panel whose engine is not part of this build says so plainly and carries no
values — the web app never computes a clinical result of its own.

Integration slots: the function here, the engine, and what it will call on
``cohort_of(patient_ids)`` (the store's validated cohort) once that engine is on main:

==============================  ===================  ==============================================
function (panel key)            engine               call
==============================  ===================  ==============================================
``patient_panels(pid)``
  ``plan_vs_doses``             ``bvall.regimen``    ``derive_deviations(cohort)`` (the plan from
                                                     ``plan_regimen(...)`` beside the doses given)
  ``grades_alerts``             ``bvall.criteria``   ``derive(cohort, "grades")`` and its alerts
  ``episodes``                  ``bvall.criteria``   ``derive(cohort, "crs" | "icans" | "tls")``
  ``response``                  ``bvall.criteria``   ``derive(cohort, "response")``
``lab_grade_bands(pid)``        ``bvall.criteria``   CTCAE v5.0 bands of the charted tests
``cohort_alerts(ids)``          ``bvall.criteria``   ``derive(cohort, "grades")``: current alerts
``analysis_panel()``            ``bvall.stats``      the report's tables and figures on the data
``report_panel()``              ``bvall.report``     HTML / PDF / DOCX of the analysis
``trial_monitoring_panel()``    ``bvall.design``     stopping boundaries against accrued data
==============================  ===================  ==============================================

Every derived row from the criteria engine carries ``rule_id``, ``rule_version``, ``inputs`` and
``explanation``; the templates show the explanation beside each value.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

#: Engines by package, with the name a user reads.
ENGINES: dict[str, str] = {
    "bvall.regimen": "regimen planner",
    "bvall.criteria": "criteria engine",
    "bvall.stats": "statistics",
    "bvall.report": "report renderer",
    "bvall.design": "trial design",
}

#: panel -> (title, package, what the panel will show)
PANELS: dict[str, tuple[str, str, str]] = {
    "plan_vs_doses": (
        "Plan against doses given",
        "bvall.regimen",
        "the day-by-day plan of the patient's regimen beside the doses recorded, with deviations",
    ),
    "grades_alerts": (
        "Grades and alerts",
        "bvall.criteria",
        "CTCAE v5.0 grades of the labs and the alerts they raise, each with its rule and inputs",
    ),
    "lab_grade_bands": (
        "CTCAE grade bands",
        "bvall.criteria",
        "the CTCAE v5.0 grade bands behind each lab chart",
    ),
    "episodes": (
        "CRS, ICANS and TLS episodes",
        "bvall.criteria",
        "ASTCT CRS and ICANS grades and Cairo–Bishop/Howard TLS, each with its explanation",
    ),
    "response": (
        "Derived response",
        "bvall.criteria",
        "the NCCN response derived from marrow and counts, beside the reported one",
    ),
    "cohort_alerts": (
        "Current alerts",
        "bvall.criteria",
        "each patient's current alerts",
    ),
    "analysis": (
        "Live analysis",
        "bvall.stats",
        "the report's tables and figures (response rates with intervals, exact tests, "
        "survival) on the current data",
    ),
    "report": (
        "Report download",
        "bvall.report",
        "the analysis report as HTML, PDF and DOCX",
    ),
    "trial_monitoring": (
        "Trial monitoring",
        "bvall.design",
        "the phase II design's stopping boundaries against the accruing data",
    ),
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


def engine_installed(package: str) -> bool:
    """Whether ``package`` is part of this build."""
    try:
        return importlib.util.find_spec(package) is not None
    except ModuleNotFoundError:
        return False


def panel(key: str) -> Panel:
    """The panel ``key`` for the current build.

    Until a panel is wired to its engine it is unavailable: "not installed" when the engine's
    package is absent, "not connected yet" when the package exists but this page does not
    call it yet. Neither case shows any value.
    """
    title, package, what = PANELS[key]
    engine = ENGINES[package]
    if not engine_installed(package):
        return Panel(
            key,
            title,
            False,
            f"The {engine} ({package}) is not installed in this build. Once it is, this shows "
            f"{what}. No value is estimated in its place.",
        )
    return Panel(
        key,
        title,
        False,
        f"The {engine} ({package}) is installed but not yet connected to this page. Once it "
        f"is, this shows {what}. No value is estimated in its place.",
    )


def cohort_of(patient_ids: list[str] | None = None) -> Any:
    """The :class:`~bvall.cohort.Cohort` the engines take: the database (or these patients),
    validated, through the store's one conversion. The wired panels call this."""
    from bvall.store.convert import read_database

    return read_database(patient_ids)


# --- alert rules (named settings) ----------------------------------------------------------------


@dataclass(frozen=True)
class AlertRule:
    """A named alert rule: which derived grades raise an alert, and on what authority.

    The criteria engine grades; it defines no alerts. These rules only select among its grades
    (the grade itself is the engine's), so each alert names the grade's rule and its own.
    """

    rule_id: str
    rule_version: str
    source: str
    description: str


#: Lab grade alerts shown on the patient page and the cohort list.
ALERT_RULES: dict[str, AlertRule] = {
    "grade_3_or_more": AlertRule(
        "alert.lab_grade_ge3",
        "alert@1",
        "CTCAE v5.0 grade ≥ 3",
        "a lab value of CTCAE v5.0 grade 3 or 4 (severe or life-threatening)",
    ),
    "rise_of_2_grades": AlertRule(
        "alert.lab_grade_rise2",
        "alert@1",
        "CTCAE v5.0 grade rise ≥ 2",
        "a lab grade at least 2 above the previous graded value of the same CTCAE term",
    ),
}


# --- derivations of a set of patients, cached by the data they were derived from --------------


@dataclass(frozen=True)
class Derivations:
    """What the engines derive for a set of patients (PyArrow tables as rows)."""

    grades: list[dict[str, Any]]
    crs: list[dict[str, Any]]
    icans: list[dict[str, Any]]
    tls: list[dict[str, Any]]
    response: list[dict[str, Any]]
    deviations: Any  # bvall.regimen.DeviationReport
    patients: dict[str, dict[str, Any]]
    courses: list[dict[str, Any]]


_CACHE: OrderedDict[tuple[tuple[str, ...], str, tuple[str, ...]], Derivations] = OrderedDict()
_CACHE_SIZE = 64


def derivations(patient_ids: list[str], what: tuple[str, ...] = ("all",)) -> Derivations:
    """The engines' results for ``patient_ids`` (a cohort of exactly these patients).

    Cached by the cohort's content fingerprint: the same data give the same derivation, so a
    page shown twice, or two panels of one page, derive once; any saved change derives anew.
    ``what`` limits the derivations (``("alerts",)``: grades, CRS and ICANS only).
    """
    from bvall.criteria import derive
    from bvall.regimen import derive_deviations

    cohort = cohort_of(patient_ids)
    key = (tuple(patient_ids), cohort.fingerprint(), what)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    full = "all" in what

    def rows(name: str, needed: bool = True) -> list[dict[str, Any]]:
        return derive(cohort, name).to_pylist() if needed else []

    result = Derivations(
        grades=rows("grades"),
        crs=rows("crs"),
        icans=rows("icans"),
        tls=rows("tls", full),
        response=rows("response", full),
        deviations=derive_deviations(cohort) if full else None,
        patients={r["patient_id"]: r for r in cohort["patients"].to_pylist()},
        courses=cohort["treatment_courses"].to_pylist(),
    )
    _CACHE[key] = result
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def _available(key: str, rows: list[dict[str, Any]], message: str = "", **extra: Any) -> Panel:
    return Panel(key, PANELS[key][0], True, message, rows, **extra)


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


def derive_lab_alerts(grades: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts of one patient's graded labs under :data:`ALERT_RULES`, in time order.

    Each alert is the engine's grade row with ``alert_rule`` (the :class:`AlertRule`) and, for a
    rise, ``previous`` (the previous graded row of the same term). Ungraded rows raise nothing.
    """
    out: list[dict[str, Any]] = []
    previous: dict[str, dict[str, Any]] = {}
    for g in sorted((g for g in grades if g["grade"] is not None), key=_sort_key):
        term = g["term_id"]
        if g["grade"] >= 3:
            out.append({**g, "alert_rule": ALERT_RULES["grade_3_or_more"], "previous": None})
        before = previous.get(term)
        if before is not None and g["grade"] - before["grade"] >= 2:
            out.append({**g, "alert_rule": ALERT_RULES["rise_of_2_grades"], "previous": before})
        previous[term] = g
    return out


def _alert_row(a: dict[str, Any]) -> dict[str, Any]:
    rule: AlertRule = a["alert_rule"]
    if a["previous"] is not None:
        p = a["previous"]
        value = f"grade {p['grade']} → {a['grade']}"
        why = f"{a['explanation']} (previous: {_day(p['day'], p['time'])} grade {p['grade']})"
    else:
        value = f"grade {a['grade']}"
        why = a["explanation"]
    return {
        "label": f"{_day(a['day'], a['time'])} {a['term']}",
        "value": value,
        "explanation": why,
        "rule_id": a["rule_id"],
        "rule_version": a["rule_version"],
        "alert": True,
        "alert_rule": rule.rule_id,
        "alert_source": rule.source,
        "day": a["day"],
    }


#: Alerts of the latest this many graded study days are listed on the patient page.
RECENT_DAYS = 3


def _grades_panel(d: Derivations) -> Panel:
    grades = d.grades
    alerts = derive_lab_alerts(grades)
    latest: dict[str, dict[str, Any]] = {}
    for g in sorted(grades, key=_sort_key):
        latest[g["term_id"]] = g
    # the page shows the alerts of the latest RECENT_DAYS graded days; the API has them all
    days = [g["day"] for g in grades if g["day"] is not None]
    since = max(days) - RECENT_DAYS + 1 if days else None
    recent = [a for a in alerts if since is None or (a["day"] is not None and a["day"] >= since)]
    rows = [_alert_row(a) for a in reversed(recent)]
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
    rules = "; ".join(f"{r.rule_id}: {r.description} ({r.source})" for r in ALERT_RULES.values())
    msg = (
        f"{len(recent)} alert(s) from D{since} on ({len(alerts)} in all) under the rules {rules}."
        if grades and since is not None
        else f"{len(alerts)} alert(s) under the rules {rules}."
        if grades
        else "No lab value to grade yet."
    )
    return _available("grades_alerts", rows, msg, alerts=len(recent))


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
        rows.append(_row(f"TLS ({t['criteria']})", verdict + grade, t, alert=False))
    msg = "" if rows else "No CRS or ICANS episode and no TLS assessment derived."
    return _available("episodes", rows, msg)


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
    return _available("response", rows, msg)


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
            PANELS["plan_vs_doses"][0],
            False,
            "Missing: no induction course is recorded (treatment_courses with course_type "
            "'induction', its regimen and start_date); the planner needs one. Nothing is planned.",
        )
    patient = d.patients[pid]
    missing = []
    for c in courses:
        if c["regimen"] is None:
            missing.append(f"treatment_courses.regimen of course {c['course_id']}")
        elif c["regimen"] not in regimen_names():
            missing.append(
                f"a bundled regimen for course {c['course_id']} (recorded {c['regimen']!r}; "
                f"bundled: {', '.join(regimen_names())})"
            )
        if c["start_date"] is None:
            missing.append(f"treatment_courses.start_date (D1) of course {c['course_id']}")
    for col in ("weight_kg", "height_cm"):
        if patient.get(col) is None:
            missing.append(f"patients.{col}")
    report = d.deviations
    rows: list[dict[str, Any]] = []
    versions = {}
    for c in courses:
        if c["regimen"] in regimen_names():
            versions[c["course_id"]] = (c["regimen"], load_regimen(c["regimen"]).version)
    for s in report.summary.to_pylist():
        reg, ver = versions.get(s["course_id"], (s["regimen"], ""))
        rdi = f"RDI {s['rdi']:.2f}" if s["rdi"] is not None else "RDI not computed"
        given = s["given_cumulative"]
        text = (
            f"planned {s['planned_cumulative']:g} {s['unit']} over {s['planned_days']} days; "
            + (
                f"given {given:g} {s['unit']} over {s['given_days']} days"
                if given is not None
                else "no administration recorded (missing, not missed)"
            )
        )
        counts = ", ".join(
            f"{s[k]} {k}"
            for k in ("missed", "reduced", "increased", "interrupted", "extra", "late")
            if s[k]
        )
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
    return _available("plan_vs_doses", rows, msg, details=daily)


def patient_panels(patient_id: str) -> dict[str, Panel]:
    """The derived panels of one patient's page, derived on a cohort of this patient only."""
    d = derivations([patient_id])
    return {
        "grades_alerts": _grades_panel(d),
        "plan_vs_doses": _plan_panel(d, patient_id),
        "episodes": _episodes_panel(d),
        "response": _response_panel(d),
    }


@dataclass(frozen=True)
class GradeBand:
    """One CTCAE grade band of a lab test, in the test's canonical unit: values in
    [``low``, ``high``) (``None`` = open) are grade ``grade``."""

    test: str
    grade: int
    low: float | None
    high: float | None
    rule_id: str
    published: str


def compute_grade_bands(
    test: str, lln: float | None, uln: float | None, baseline: float | None
) -> tuple[list[GradeBand], list[str]]:
    """The CTCAE v5.0 bands of ``test`` from the criteria tables, for these limits (SI, the
    test's canonical unit), and what could not be drawn (a limit that is not recorded)."""
    from bvall.cohort import load_lab_tests
    from bvall.criteria import CriteriaSettings
    from bvall.criteria.lab_criteria import load_lab_criteria

    tests = load_lab_tests()
    settings = CriteriaSettings()
    bands: list[GradeBand] = []
    missing: list[str] = []
    bases = {"lln": lln, "uln": uln, "baseline": baseline}
    for term in load_lab_criteria().terms_for_test(test):
        limits: list[tuple[int, float, str, str]] = []
        for c in term.in_force(settings):
            th = c.threshold
            if th.value is None or th.is_flag:
                continue
            if th.basis == "absolute":
                limit = th.value * tests[test].factor(th.unit) if th.unit else th.value
            elif th.basis in bases:
                ref = bases[th.basis]
                if ref is None:
                    missing.append(f"{term.term} grade {c.grade} needs the {th.basis.upper()}")
                    continue
                limit = th.value * ref
            else:
                continue
            limits.append((c.grade, limit, c.rule_id, c.published))
        # one band per grade: from its threshold to the next grade's (direction L: below)
        best: dict[int, tuple[float, str, str]] = {}
        for grade, limit, rid, pub in limits:
            if grade not in best:
                best[grade] = (limit, rid, pub)
        grades = sorted(best)
        for i, g in enumerate(grades):
            limit, rid, pub = best[g]
            nxt = best[grades[i + 1]][0] if i + 1 < len(grades) else None
            if term.direction == "L":
                bands.append(GradeBand(test, g, nxt, limit, rid, pub))
            else:
                bands.append(GradeBand(test, g, limit, nxt, rid, pub))
    return bands, missing


def lab_grade_bands(patient_id: str) -> Panel:
    """CTCAE grade bands behind the patient's lab charts (rows: test, grade, low, high, rule)."""
    from bvall.criteria.lab_criteria import load_lab_criteria

    d = derivations([patient_id])
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
        notes += [f"{test}: {m} (not recorded); that band is not drawn." for m in missing]
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
    return _available("lab_grade_bands", rows, " ".join(dict.fromkeys(notes)))


def _band_text(b: GradeBand) -> str:
    if b.low is None:
        return f"< {b.high:g}"
    if b.high is None:
        return f"≥ {b.low:g}"
    return f"{b.low:g} – < {b.high:g}"


#: Tests charted on the patient page (the web's lab charts), which get grade bands.
CHARTED_TESTS = ("anc", "platelets", "hemoglobin", "wbc")


def cohort_alerts(patient_ids: list[str]) -> Panel:
    """Current alerts of the patients on the cohort list: grade ≥ 3 labs of each patient's latest
    graded day, and CRS/ICANS episodes without an end. Rows: ``patient_id`` with ``alerts``."""
    if not patient_ids:
        return _available("cohort_alerts", [])
    d = derivations(patient_ids, ("alerts",))
    rows: list[dict[str, Any]] = []
    rule = ALERT_RULES["grade_3_or_more"]
    for pid in patient_ids:
        mine = [g for g in d.grades if g["patient_id"] == pid and g["day"] is not None]
        alerts: list[dict[str, Any]] = []
        if mine:
            last_day = max(g["day"] for g in mine)
            for g in sorted(mine, key=_sort_key):
                if g["day"] == last_day and g["grade"] is not None and g["grade"] >= 3:
                    alerts.append(
                        {
                            "text": f"{g['term']} grade {g['grade']} ({_day(g['day'], g['time'])})",
                            "explanation": g["explanation"],
                            "rule_id": g["rule_id"],
                            "rule_version": g["rule_version"],
                            "alert_rule": rule.rule_id,
                        }
                    )
        for name, eps in (("CRS", d.crs), ("ICANS", d.icans)):
            for e in eps:
                if e["patient_id"] == pid and e["end_day"] is None:
                    alerts.append(
                        {
                            "text": f"open {name} episode, grade {e['max_grade']} "
                            f"(since {_day(e['onset_day'], e['onset_time'])})",
                            "explanation": e["explanation"],
                            "rule_id": e["rule_id"],
                            "rule_version": e["rule_version"],
                            "alert_rule": "alert.open_episode",
                        }
                    )
        rows.append({"patient_id": pid, "alerts": alerts})
    return _available(
        "cohort_alerts",
        rows,
        f"Latest day's labs of CTCAE grade ≥ 3 ({rule.rule_id}) and CRS/ICANS episodes without "
        "a recorded end (alert.open_episode).",
    )


def analysis_panel() -> Panel:
    """The live analysis of the visible patients."""
    return panel("analysis")


def report_panel() -> Panel:
    """The report download (HTML, PDF, DOCX)."""
    return panel("report")


_EVALUATIONS: OrderedDict[tuple[str, int, str], Any] = OrderedDict()


def monitoring_evaluations() -> list[tuple[Any, Any]]:
    """Each active monitoring plan with its evaluation on the whole database, cached by the
    data's fingerprint (the engine's derivation of a whole cohort takes seconds)."""
    from bvall.store.models import MonitoringPlan
    from bvall.store.monitoring import evaluate_plan

    plans = list(MonitoringPlan.objects.filter(active=True))
    if not plans:
        return []
    cohort = cohort_of(None)
    fp = cohort.fingerprint()
    out = []
    for plan in plans:
        key = (fp, plan.pk, plan.registered.isoformat())
        hit = _EVALUATIONS.get(key)
        if hit is None:
            hit = evaluate_plan(plan, cohort)
            _EVALUATIONS[key] = hit
            while len(_EVALUATIONS) > 16:
                _EVALUATIONS.popitem(last=False)
        out.append((plan, hit))
    return out


def trial_monitoring_panel() -> Panel:
    """The trial design's stopping rules against the data: one row per active plan, with its
    decision, the looks reached and the endpoint mapping (``evaluation``)."""
    rows = []
    for plan, ev in monitoring_evaluations():
        d = ev.decision
        rows.append(
            {
                "label": plan.name,
                "value": d.action.replace("_", " "),
                "explanation": d.message,
                "rule_id": f"design.{ev.design_type}",
                "rule_version": str(plan.document.get("created_by", "")),
                "alert": bool(ev.crossings) or bool(d.alerts),
                "plan": plan,
                "evaluation": ev,
            }
        )
    msg = (
        ""
        if rows
        else "No monitoring plan is registered. Save a design (bvall design bop2|monitor|simon "
        "--save FILE) and upload it here."
    )
    return _available("trial_monitoring", rows, msg)


def engines_status() -> list[dict[str, Any]]:
    """Each engine with whether it is installed (for the analysis page and ``/api/engines``)."""
    return [{"package": p, "name": n, "installed": engine_installed(p)} for p, n in ENGINES.items()]
