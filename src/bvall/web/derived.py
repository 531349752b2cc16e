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


def patient_panels(patient_id: str) -> dict[str, Panel]:
    """The derived panels of one patient's page (a cohort of one, once wired)."""
    return {k: panel(k) for k in ("grades_alerts", "plan_vs_doses", "episodes", "response")}


def lab_grade_bands(patient_id: str) -> Panel:
    """CTCAE grade bands behind the patient's lab charts."""
    return panel("lab_grade_bands")


def cohort_alerts(patient_ids: list[str]) -> Panel:
    """Current alerts of the patients on the cohort list."""
    return panel("cohort_alerts")


def analysis_panel() -> Panel:
    """The live analysis of the visible patients."""
    return panel("analysis")


def report_panel() -> Panel:
    """The report download (HTML, PDF, DOCX)."""
    return panel("report")


def trial_monitoring_panel() -> Panel:
    """The trial design's stopping rules against the data."""
    return panel("trial_monitoring")


def engines_status() -> list[dict[str, Any]]:
    """Each engine with whether it is installed (for the analysis page and ``/api/engines``)."""
    return [{"package": p, "name": n, "installed": engine_installed(p)} for p, n in ENGINES.items()]
