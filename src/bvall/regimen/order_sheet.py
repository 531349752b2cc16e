"""The printable A4 order sheet of a plan: one self-contained HTML page (no external assets).

Rendered with Django's template engine (the one engine of bvall's pages and reports); every
value is formatted here, so the template needs no locale-dependent filters and no settings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bvall import __version__
from bvall.regimen.bsa import format_bsa
from bvall.regimen.plan import Plan, PlannedDose

_ROLE_TITLES = {
    "prephase": "Pre-phase",
    "premedication": "Premedication",
    "supportive": "Supportive care",
}


@cache
def _template() -> Any:
    from django.template import Engine

    text = (resources.files("bvall.regimen") / "templates" / "order_sheet.html").read_text(
        encoding="utf-8"
    )
    return Engine(autoescape=True).from_string(text)


@dataclass(frozen=True)
class _Column:
    key: str
    title: str
    width: str


def _columns(plan: Plan) -> list[_Column]:
    cols: list[_Column] = []
    protocol = [a for a in plan.regimen.agents if a.role == "protocol"]
    for a in protocol:
        cols.append(_Column(f"agent:{a.id}", f"{a.name} ({a.route}, {a.unit})", "21mm"))
    for role in ("premedication", "prephase", "supportive"):
        if any(a.role == role for a in plan.regimen.agents):
            width = "30mm" if role == "supportive" else "27mm"
            cols.append(_Column(f"role:{role}", _ROLE_TITLES[role], width))
    return cols


def _fmt_date(d: dt.date | None) -> str:
    return "" if d is None else f"{d:%a %d %b}"


def render_plan_html(plan: Plan, *, generated: dt.datetime | None = None) -> str:
    """The order sheet as one HTML page for A4 paper (print or save as PDF from a browser).

    ``generated`` is printed in the footer (the caller passes the time; rendering stays pure).
    """
    from django.template import Context

    columns = _columns(plan)
    adjustments: list[dict[str, str]] = []
    marks: dict[tuple[str, str], str] = {}
    rows = []
    for d in plan.days:
        cells: list[dict[str, Any]] = []
        for col in columns:
            kind, key = col.key.split(":", 1)
            items = [
                x
                for x in d.doses
                if (kind == "agent" and _spec_id(plan, x) == key)
                or (kind == "role" and x.role == key)
            ]
            cells.append(
                {
                    "cls": "role" if kind == "role" else "",
                    "items": [_cell(x, kind, adjustments, marks) for x in items],
                }
            )
        rows.append(
            {
                "cls": ("d1" if d.day == 1 else "") + (" pre" if d.day < 1 else ""),
                "date": _fmt_date(d.date),
                "day": f"D{d.day}" if not plan.regimen.has_cycles else f"C{d.cycle} D{d.cycle_day}",
                "cells": cells,
                "monitoring": [
                    (m.short or m.label) + (f" ({'; '.join(m.times)})" if m.times else "")
                    for m in d.monitoring
                ],
                "assessments": [f"{a.label.split(' (')[0]}: {a.position}" for a in d.assessments],
            }
        )
    alerts = []
    for w in plan.warnings:
        cls = "stop" if w.code in ("not-makeable", "avoid") else ""
        alerts.append({"cls": cls, "text": w.message})
    if plan.bsa_m2 is None:
        alerts.append(
            {"cls": "stop", "text": "Weight and height missing: BSA-based volumes are blank."}
        )
    reg = plan.regimen
    comeds = ", ".join(c.describe() for c in plan.comedications) or "none declared"
    body = (
        f"{plan.weight_kg:g} kg / {plan.height_cm:g} cm"
        if plan.weight_kg is not None and plan.height_cm is not None
        else "not recorded"
    )
    bsa = (
        f"{format_bsa(plan.bsa_m2, plan.bsa_decimals)} m² ({plan.bsa_formula.capitalize()}"
        + (f", rounded to {plan.bsa_decimals} dp" if plan.bsa_decimals is not None else "")
        + ")"
        if plan.bsa_m2 is not None
        else "not computed"
    )
    params = ", ".join(
        f"{reg.parameters[k].label.split(',')[0]}: {v}{' ' + reg.parameters[k].unit if reg.parameters[k].unit and reg.parameters[k].type != 'choice' else ''}"
        for k, v in plan.parameters.items()
    )
    context = {
        "title": f"{reg.title}",
        "regimen_line": f"Spec {reg.id} v{reg.version}. {reg.summary}",
        "status": f"{reg.status}. Source: {reg.source}",
        "patient_label": plan.patient_label or "",
        "body": body,
        "bsa": bsa,
        "d1": "not set" if plan.start is None else f"{plan.start:%a %d %b %Y}",
        "monitoring": _monitoring_legend(plan),
        "comeds": comeds,
        "policy": f"{plan.site_policy}; resume {plan.resume_after_days} days after the inhibitor stops",
        "params": params or "none",
        "alerts": alerts,
        "dose_columns": [{"title": c.title, "width": c.width} for c in columns],
        "ncols": str(len(columns) + 4),
        "banner": " · ".join(
            x
            for x in (
                f"Patient: {plan.patient_label}" if plan.patient_label else "Patient: ____________",
                f"{reg.title} ({reg.id} v{reg.version})",
                f"D1 {plan.start:%d %b %Y}" if plan.start else "",
                f"{plan.weight_kg:g} kg, BSA {format_bsa(plan.bsa_m2, plan.bsa_decimals)} m²"
                if plan.bsa_m2 is not None
                else "",
            )
            if x
        ),
        "rows": rows,
        "adjustments": adjustments,
        "conditional": [
            {"label": a.label, "when": a.window_text(), "source": a.source}
            for a in plan.assessments
            if a.last is None
        ],
        "agents": [
            {
                "name": a.name
                if not a.id.startswith("{")
                else str(plan.parameters[a.id[1:-1]]).capitalize(),
                "how": f"{a.route}{''.join('/' + r for r in a.route_alternatives)}, {a.frequency}"
                + "".join(f"; {d.dose_text}" for d in reg.doses if d.agent == a.id and d.dose_text),
                "source": a.source,
            }
            for a in reg.agents
        ],
        "notes": [{"text": n.text, "source": n.source} for n in reg.notes],
        "readings": [{"text": n.text, "source": n.source} for n in reg.readings],
        "footer": (
            f"Generated by bvall {__version__}"
            + (f" on {generated:%Y-%m-%d %H:%M}" if generated else "")
            + f" from regimen spec {reg.id} v{reg.version}. A plan, not a prescription: every "
            "dose must be checked against the signed order. A superscript number marks a dose "
            "changed by a rule (see Dose adjustments); tick the box when the dose is given."
        ),
    }
    return str(_template().render(Context(context)))


def _monitoring_legend(plan: Plan) -> list[dict[str, str]]:
    from bvall.cohort.units import load_lab_tests

    tests = load_lab_tests()
    return [
        {
            "short": m.short or m.label,
            "label": m.label,
            "tests": ", ".join(tests[t].name if t in tests else t for t in m.tests),
            "source": m.source,
        }
        for m in plan.regimen.monitoring
    ]


def _spec_id(plan: Plan, x: PlannedDose) -> str:
    for a in plan.regimen.agents:
        if a.id == x.agent or (
            a.id.startswith("{") and str(plan.parameters[a.id[1:-1]]) == x.agent
        ):
            return a.id
    return x.agent


def _cell(
    x: PlannedDose, kind: str, adjustments: list[dict[str, str]], marks: dict[tuple[str, str], str]
) -> dict[str, Any]:
    route = x.route + "".join(f"/{r}" for r in x.route_alternatives)
    name = x.name.split(" (")[0]
    blank = ""
    if kind == "agent":
        text = f"{x.dose:g} {x.unit}" if x.dose is not None else "dose: see note"
    elif x.dose is None and x.dose_text:
        # No number in the source: leave a blank for the prescriber instead of inventing one.
        text, blank = name, f"{x.unit} {route}"
    elif x.dose is None:
        text = f"{name}: dose not computed"
    elif x.unit.endswith("/day") and x.route == "IV" and x.unit.startswith("mL"):
        text = f"{name} {x.dose:g} mL/24 h {route} (≈{x.dose / 24:.0f} mL/h)"
    else:
        text = f"{name} {x.dose:g} {x.unit} {route}"
    mark = ""
    if x.rule:
        key = (x.rule, x.source)
        if key not in marks:
            marks[key] = str(len(marks) + 1)
            adjustments.append({"text": f"[{marks[key]}] {x.agent}: {x.rule}.", "source": x.source})
        mark = marks[key]
    notes = [t for t in (x.tablets if x.route == "PO" else None, x.basis) if t]
    notes += [f for f in x.flags if not f.startswith("NOT MAKEABLE")]
    stop = any(f.startswith("NOT MAKEABLE") for f in x.flags)
    return {
        "text": text,
        "blank": blank,
        "mark": mark,
        "tabs": "; ".join(notes),
        "stop": "NOT MAKEABLE: see alerts" if stop else "",
        "given": kind == "agent" and x.dose is not None,
    }
