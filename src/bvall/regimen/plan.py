"""The day-by-day plan of one patient (made by :func:`bvall.regimen.planner.plan_regimen`).

A :class:`Plan` lists every study day from the first pre-phase or supportive-care day to the last
planned event, each with its doses (agent, dose, unit, route, and the rule and source when a rule
changed the dose), monitoring and assessments, plus conditional assessments that have no date
(e.g. the pre-consolidation marrow at count recovery) and warnings a pharmacist must see.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bvall.regimen.interactions import Comedication
from bvall.regimen.spec import Regimen


@dataclass(frozen=True)
class PlannedDose:
    """One agent's dose on one day. ``dose`` is ``None`` when the source gives no number
    (``dose_text`` says why) or when it cannot be computed (``flags`` say why)."""

    agent: str
    name: str
    role: str
    dose: float | None
    unit: str
    route: str
    frequency: str
    source: str
    rule: str | None = None
    rule_id: str | None = None
    basis: str | None = None
    tablets: str | None = None
    flags: tuple[str, ...] = ()
    dose_text: str | None = None
    base_dose: float | None = None
    ramp_step: int | None = None
    target: bool = False
    route_alternatives: tuple[str, ...] = ()

    @property
    def adjusted(self) -> bool:
        return self.rule is not None

    def describe(self) -> str:
        amount = (
            f"{self.dose:g} {self.unit}" if self.dose is not None else (self.dose_text or "dose ?")
        )
        route = self.route + "".join(f"/{r}" for r in self.route_alternatives)
        return f"{self.name} {amount} {route}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "agent": self.agent,
            "dose": self.dose,
            "unit": self.unit,
            "route": self.route,
        }
        if self.rule is not None:
            out["rule"] = self.rule
            out["rule_id"] = self.rule_id
            out["planned_before_rule"] = self.base_dose
        out.update(
            {
                "name": self.name,
                "role": self.role,
                "frequency": self.frequency,
                "source": self.source,
            }
        )
        for key in ("basis", "tablets", "dose_text"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.route_alternatives:
            out["route_alternatives"] = list(self.route_alternatives)
        if self.ramp_step is not None:
            out["ramp_step"] = self.ramp_step
        if self.flags:
            out["flags"] = list(self.flags)
        return out


@dataclass(frozen=True)
class PlannedCheck:
    """Monitoring due on a day: what, which tests (cohort lab codes), when in the day."""

    id: str
    label: str
    source: str
    tests: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    short: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "short": self.short,
            "tests": list(self.tests),
            "times": list(self.times),
            "source": self.source,
        }


@dataclass(frozen=True)
class PlannedAssessment:
    """An assessment with its window in study days (``last`` is ``None`` for an open start) and
    the dates when the plan has a start date; ``condition`` says what triggers it."""

    id: str
    label: str
    kind: str
    source: str
    first: int | None = None
    last: int | None = None
    target: int | None = None
    after: int | None = None
    condition: str | None = None
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    target_date: dt.date | None = None

    def window_text(self) -> str:
        if self.first is None:
            return f"after D{self.after}: {self.condition}"
        if self.last is None:
            return f"from D{self.first}: {self.condition}"
        t = f" (target D{self.target})" if self.target is not None else ""
        return f"D{self.first}-D{self.last}{t}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "label": self.label, "kind": self.kind}
        for key in ("first", "last", "target", "after", "condition"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        for key in ("first_date", "last_date", "target_date"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value.isoformat()
        out["window"] = self.window_text()
        out["source"] = self.source
        return out


@dataclass(frozen=True)
class DayAssessment:
    """An assessment shown on a day: ``position`` is 'opens', 'target', 'closes' or 'due from'."""

    id: str
    label: str
    position: str
    window: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "position": self.position,
            "window": self.window,
            "source": self.source,
        }


@dataclass(frozen=True)
class PlanDay:
    day: int
    date: dt.date | None
    cycle: int
    cycle_day: int
    doses: tuple[PlannedDose, ...]
    monitoring: tuple[PlannedCheck, ...]
    assessments: tuple[DayAssessment, ...]

    def dose_of(self, agent: str) -> PlannedDose | None:
        return next((d for d in self.doses if d.agent == agent), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "date": None if self.date is None else self.date.isoformat(),
            "cycle": self.cycle,
            "cycle_day": self.cycle_day,
            "doses": [d.to_dict() for d in self.doses],
            "monitoring": [m.to_dict() for m in self.monitoring],
            "assessments": [a.to_dict() for a in self.assessments],
        }


@dataclass(frozen=True)
class PlanWarning:
    code: str
    message: str
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "source": self.source}


@dataclass(frozen=True)
class Plan:
    """A patient's plan. ``days`` runs without gaps from the first to the last planned day."""

    regimen: Regimen
    start: dt.date | None
    weight_kg: float | None
    height_cm: float | None
    bsa_m2: float | None
    bsa_formula: str
    bsa_decimals: int | None
    comedications: tuple[Comedication, ...]
    site_policy: str
    resume_after_days: int
    parameters: Mapping[str, Any]
    settings: Mapping[str, str]
    days: tuple[PlanDay, ...]
    assessments: tuple[PlannedAssessment, ...]
    warnings: tuple[PlanWarning, ...]
    cycles: int = 1
    patient_label: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- access ---------------------------------------------------------------------------------

    def day(self, study_day: int) -> PlanDay:
        for d in self.days:
            if d.day == study_day:
                return d
        raise KeyError(study_day)

    def doses_of(self, agent: str) -> list[tuple[int, PlannedDose]]:
        """(study day, dose) of one agent, in day order."""
        return [(d.day, x) for d in self.days for x in d.doses if x.agent == agent]

    def cumulative_dose(self, agent: str) -> float | None:
        """Total planned dose of an agent (``None`` when a day's dose is not a number)."""
        doses = [x.dose for _, x in self.doses_of(agent)]
        if not doses or any(v is None for v in doses):
            return None
        return float(round(sum(v for v in doses if v is not None), 6))

    def planned_dose(self, agent: str, study_day: int) -> float | None:
        """The planned dose of ``agent`` on ``study_day`` (``None`` when none is planned or the
        dose has no number)."""
        for d in self.days:
            if d.day == study_day:
                x = d.dose_of(agent)
                return None if x is None else x.dose
        return None

    def to_dose_administrations(
        self,
        patient_id: str,
        course_id: str,
        *,
        agents: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The plan as rows of the cohort's ``dose_administrations`` table, one row per run of
        identical daily doses (status ``given``), for data that follows the plan exactly.

        Doses without a number (e.g. "per site protocol") are left out: they cannot be recorded
        as given amounts. ``agents`` limits the rows (default: every agent with a number).
        """
        rows: list[dict[str, Any]] = []
        by_agent: dict[str, list[tuple[int, PlannedDose]]] = {}
        for d in self.days:
            for x in d.doses:
                if x.dose is None or (agents is not None and x.agent not in agents):
                    continue
                by_agent.setdefault(x.agent, []).append((d.day, x))
        for agent, series in by_agent.items():
            runs: list[list[tuple[int, PlannedDose]]] = []
            for day, x in series:
                last = runs[-1][-1] if runs else None
                if last is not None and day == last[0] + 1 and x.dose == last[1].dose:
                    runs[-1].append((day, x))
                else:
                    runs.append([(day, x)])
            for run in runs:
                first, last_day, ref = run[0][0], run[-1][0], run[0][1]
                rows.append(
                    {
                        "patient_id": patient_id,
                        "course_id": course_id,
                        "agent": agent,
                        "dose": ref.dose,
                        "dose_unit": ref.unit,
                        "route": ref.route,
                        "study_day_start": first,
                        "study_day_end": last_day,
                        "date_start": self._date(first),
                        "date_end": self._date(last_day),
                        "status": "given",
                    }
                )
        return rows

    def _date(self, study_day: int) -> dt.date | None:
        return None if self.start is None else self.start + dt.timedelta(days=study_day - 1)

    @property
    def adjusted_doses(self) -> list[tuple[int, PlannedDose]]:
        return [(d.day, x) for d in self.days for x in d.doses if x.adjusted]

    @property
    def conditional(self) -> tuple[PlannedAssessment, ...]:
        """Assessments with no fixed date (triggered by a condition)."""
        return tuple(a for a in self.assessments if a.first is None)

    # -- output ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data: an object with ``days`` (each with ``day``, ``date`` and
        ``doses``; a dose has ``agent``, ``dose``, ``unit`` and ``rule`` when a rule changed it)."""
        r = self.regimen
        return {
            "regimen": {
                "id": r.id,
                "title": r.title,
                "version": r.version,
                "status": r.status,
                "source": r.source,
                "readings": [{"text": x.text, "source": x.source} for x in r.readings],
            },
            "patient": {
                "label": self.patient_label or None,
                "weight_kg": self.weight_kg,
                "height_cm": self.height_cm,
                "bsa_m2": self.bsa_m2,
                "bsa_formula": self.bsa_formula,
                "bsa_decimals": self.bsa_decimals,
            },
            "start": None if self.start is None else self.start.isoformat(),
            "cycles": self.cycles,
            "comedications": [
                {"drug": c.drug, "start_day": c.start_day, "end_day": c.end_day}
                for c in self.comedications
            ],
            "site_policy": self.site_policy,
            "resume_after_days": self.resume_after_days,
            "parameters": dict(self.parameters),
            "settings": dict(self.settings),
            "days": [d.to_dict() for d in self.days],
            "assessments": [a.to_dict() for a in self.assessments],
            "warnings": [w.to_dict() for w in self.warnings],
            "notes": [{"text": n.text, "source": n.source} for n in r.notes],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_records(self) -> list[dict[str, Any]]:
        """One flat row per day and item (dose, monitoring, assessment), for CSV and tables."""
        rows: list[dict[str, Any]] = []
        for d in self.days:
            base = {
                "day": d.day,
                "date": None if d.date is None else d.date.isoformat(),
                "cycle": d.cycle,
                "cycle_day": d.cycle_day,
            }
            for x in d.doses:
                rows.append(
                    {
                        **base,
                        "kind": "dose",
                        "item": x.agent,
                        "dose": x.dose,
                        "unit": x.unit,
                        "route": x.route,
                        "detail": "; ".join(
                            v for v in (x.dose_text, x.basis, x.tablets, *x.flags) if v
                        ),
                        "rule": x.rule,
                        "rule_id": x.rule_id,
                        "source": x.source,
                    }
                )
            for m in d.monitoring:
                rows.append(
                    {
                        **base,
                        "kind": "monitoring",
                        "item": m.id,
                        "dose": None,
                        "unit": None,
                        "route": None,
                        "detail": f"{m.label}: {', '.join(m.tests)}"
                        + (f" ({'; '.join(m.times)})" if m.times else ""),
                        "rule": None,
                        "rule_id": None,
                        "source": m.source,
                    }
                )
            for a in d.assessments:
                rows.append(
                    {
                        **base,
                        "kind": "assessment",
                        "item": a.id,
                        "dose": None,
                        "unit": None,
                        "route": None,
                        "detail": f"{a.label}: {a.position} ({a.window})",
                        "rule": None,
                        "rule_id": None,
                        "source": a.source,
                    }
                )
        return rows
