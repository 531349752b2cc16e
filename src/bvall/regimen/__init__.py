"""Regimens as data, each patient's day-by-day plan, dose rules and deviations.

Public API::

    load_regimen(name) -> Regimen            regimen_names() -> list[str]
    plan_regimen(regimen, *, start, weight_kg, height_cm, inhibitors=(), dex_days=None,
                 bsa_formula="mosteller", site_policy="label", ...) -> Plan
    compute_bsa(weight_kg, height_cm, formula="mosteller", *, decimals=None) -> float
    compute_tablets(dose, strengths) -> TabletCheck
    classify_inhibitor(drug, settings=None) -> (name, classes)
    classify_dose_action(agent, event, grade=None, ...) -> DoseAction
    derive_deviations(cohort, ...) -> DeviationReport
    render_plan_table / render_plan_csv / render_plan_ics / render_plan_html
"""

from typing import TYPE_CHECKING

from bvall._exports import export_lazily

if TYPE_CHECKING:
    from bvall.regimen.actions import DoseAction, classify_dose_action, dose_action_rules
    from bvall.regimen.bsa import BSA_FORMULAS, compute_bsa, format_bsa
    from bvall.regimen.deviations import DeviationReport, derive_deviations
    from bvall.regimen.interactions import (
        Comedication,
        classify_inhibitor,
        interaction_settings,
        load_interactions,
        parse_comedication,
        site_policies,
    )
    from bvall.regimen.load import load_regimen, regimen_names
    from bvall.regimen.order_sheet import render_plan_html
    from bvall.regimen.plan import (
        DayAssessment,
        Plan,
        PlanDay,
        PlannedAssessment,
        PlannedCheck,
        PlannedDose,
        PlanWarning,
    )
    from bvall.regimen.planner import plan_regimen
    from bvall.regimen.render import render_plan_csv, render_plan_ics, render_plan_rows
    from bvall.regimen.spec import Regimen
    from bvall.regimen.tablets import TabletCheck, compute_tablets

# Each submodule is imported when one of its names is first used (bvall._exports).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "bvall.regimen.actions": (
        "DoseAction",
        "classify_dose_action",
        "dose_action_rules",
    ),
    "bvall.regimen.bsa": (
        "BSA_FORMULAS",
        "compute_bsa",
        "format_bsa",
    ),
    "bvall.regimen.deviations": (
        "DeviationReport",
        "derive_deviations",
    ),
    "bvall.regimen.interactions": (
        "Comedication",
        "classify_inhibitor",
        "interaction_settings",
        "load_interactions",
        "parse_comedication",
        "site_policies",
    ),
    "bvall.regimen.load": (
        "load_regimen",
        "regimen_names",
    ),
    "bvall.regimen.order_sheet": ("render_plan_html",),
    "bvall.regimen.plan": (
        "DayAssessment",
        "Plan",
        "PlanDay",
        "PlannedAssessment",
        "PlannedCheck",
        "PlannedDose",
        "PlanWarning",
    ),
    "bvall.regimen.planner": ("plan_regimen",),
    "bvall.regimen.render": (
        "render_plan_csv",
        "render_plan_ics",
        "render_plan_rows",
    ),
    "bvall.regimen.spec": ("Regimen",),
    "bvall.regimen.tablets": (
        "TabletCheck",
        "compute_tablets",
    ),
}
__getattr__, __dir__ = export_lazily(__name__, _EXPORTS)

__all__ = [
    "BSA_FORMULAS",
    "Comedication",
    "DayAssessment",
    "DeviationReport",
    "DoseAction",
    "Plan",
    "PlanDay",
    "PlanWarning",
    "PlannedAssessment",
    "PlannedCheck",
    "PlannedDose",
    "Regimen",
    "TabletCheck",
    "classify_dose_action",
    "classify_inhibitor",
    "compute_bsa",
    "compute_tablets",
    "derive_deviations",
    "dose_action_rules",
    "format_bsa",
    "interaction_settings",
    "load_interactions",
    "load_regimen",
    "parse_comedication",
    "plan_regimen",
    "regimen_names",
    "render_plan_csv",
    "render_plan_html",
    "render_plan_ics",
    "render_plan_rows",
    "site_policies",
]
