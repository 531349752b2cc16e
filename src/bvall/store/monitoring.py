"""Live trial monitoring: a saved design evaluated against the study database.

A design file written by ``bvall design simon|bop2|monitor --save FILE`` is registered as a
:class:`~bvall.store.models.MonitoringPlan`. :func:`evaluate_plan` derives each enrolled patient's
outcomes with the criteria engine, in enrolment order, and asks
:func:`bvall.design.classify_trial` for the decision at every look reached. The design files name
no clinical definition of their endpoints (only "binary" or "efficacy_toxicity"), so the mapping
from the engine's derived endpoints is made here, explicitly, and shown with every evaluation
(:data:`ENDPOINT_MAPPING`).

:func:`record_crossings` writes one append-only :class:`~bvall.store.models.MonitoringEvent` per
boundary crossing (plan, look, action), in one transaction; evaluating again (a page view, the CLI)
writes nothing new until another boundary is crossed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction

from bvall.design import PatientOutcome, TrialDecision, classify_trial, design_from_document
from bvall.design.bop2 import Bop2Design
from bvall.design.decision import Design
from bvall.design.monitor import ToxicityMonitor
from bvall.design.simon import SimonDesign
from bvall.errors import InputError
from bvall.store.models import MonitoringEvent, MonitoringPlan

#: How the design's endpoints are read from the criteria engine's ``derive(cohort, "endpoints")``.
ENDPOINT_MAPPING: dict[str, str] = {
    "efficacy": (
        "response = best response CR or CRi in induction (cycle 1) with MRD negativity at a "
        "marrow of induction: endpoints.best_response in {CR, CRi} and endpoints.mrd_negative "
        "(NCCN ALL, criteria engine); not evaluable while either is missing"
    ),
    "toxicity": (
        "toxicity = grade >= 3 CRS (ASTCT 2019) or grade >= 3 ICANS (ASTCT 2019) in induction: "
        "endpoints.crs_max_grade >= 3 or endpoints.icans_max_grade >= 3; not evaluable while a "
        "grade is missing and the other is < 3"
    ),
    "order": "patients in enrolment order (patients.enrolment_date, then patient_id)",
}

#: Actions that are a boundary crossing (an audit event and an alert).
CROSSINGS = frozenset(
    {
        "stop_futility",
        "stop_toxicity",
        "stop_futility_and_toxicity",
        "final_futility",
        "final_toxicity",
        "final_futility_and_toxicity",
    }
)


@dataclass(frozen=True)
class LookResult:
    """The decision at one look (``patients``: the first n evaluable patients)."""

    look: int
    patients: int
    decision: TrialDecision
    boundary: dict[str, int | None] = field(default_factory=dict)

    @property
    def crossed(self) -> bool:
        return self.decision.action in CROSSINGS and self.decision.look == self.look


@dataclass(frozen=True)
class MonitoringEvaluation:
    """A plan evaluated on the data: the current decision, each look reached, the outcomes."""

    plan_name: str
    design_type: str
    decision: TrialDecision
    looks: list[LookResult]
    outcomes: list[PatientOutcome]
    mapping: dict[str, str] = field(default_factory=lambda: dict(ENDPOINT_MAPPING))

    @property
    def crossings(self) -> list[LookResult]:
        return [lk for lk in self.looks if lk.crossed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan_name,
            "design_type": self.design_type,
            "decision": self.decision.to_dict(),
            "looks": [
                {
                    **lk.decision.to_dict(),
                    "look": lk.look,
                    "patients": lk.patients,
                    "boundary": lk.boundary,
                    "crossed": lk.crossed,
                }
                for lk in self.looks
            ],
            "outcomes": [asdict(o) for o in self.outcomes],
            "endpoint_mapping": self.mapping,
        }


def design_looks(design: Design) -> tuple[int, ...]:
    """The planned looks (cumulative patients) of a design."""
    if isinstance(design, SimonDesign):
        return (design.n1, design.n)
    if isinstance(design, Bop2Design | ToxicityMonitor):
        return tuple(design.boundaries.looks)
    raise InputError(f"{type(design).__name__} is not a design bvall can monitor.")


def look_boundary(design: Design, k: int) -> dict[str, int | None]:
    """The design's boundary at look ``k`` (1-based), as :func:`classify_trial` names it."""
    if isinstance(design, SimonDesign):
        n, r = ((design.n1, design.r1), (design.n, design.r))[k - 1]
        return {"patients": n, "stop_if_responses_at_most": r}
    b = design.boundaries
    out: dict[str, int | None] = {"patients": b.looks[k - 1]}
    if b.futility is not None:
        out["stop_if_responses_at_most"] = b.futility[k - 1]
    if b.toxicity is not None:
        out["stop_if_toxicities_at_least"] = b.toxicity[k - 1]
    return out


def derive_outcomes(cohort: Any) -> list[PatientOutcome]:
    """Each enrolled patient's efficacy and toxicity outcome (:data:`ENDPOINT_MAPPING`), in
    enrolment order; ``None`` where the engine's endpoint is missing (not yet evaluable)."""
    from bvall.criteria import derive

    endpoints = {r["patient_id"]: r for r in derive(cohort, "endpoints").to_pylist()}
    patients = sorted(
        cohort["patients"].to_pylist(),
        key=lambda p: (p["enrolment_date"] is None, p["enrolment_date"], p["patient_id"]),
    )
    out = []
    for p in patients:
        e = endpoints.get(p["patient_id"], {})
        best, mrd = e.get("best_response"), e.get("mrd_negative")
        response: bool | None
        if best is None:
            response = None
        elif best not in ("CR", "CRi"):
            response = False
        else:
            response = None if mrd is None else bool(mrd)
        crs, icans = e.get("crs_max_grade"), e.get("icans_max_grade")
        toxicity: bool | None
        if (crs is not None and crs >= 3) or (icans is not None and icans >= 3):
            toxicity = True
        elif crs is None or icans is None:
            toxicity = None
        else:
            toxicity = False
        out.append(PatientOutcome(response, toxicity, p["patient_id"]))
    return out


def evaluate_design(
    design: Design, outcomes: Sequence[PatientOutcome], plan_name: str = "design"
) -> MonitoringEvaluation:
    """The decision now and at every look reached (pure: no database, no clock)."""
    decision = classify_trial(design, outcomes)
    looks: list[LookResult] = []
    for k, n in enumerate(design_looks(design), start=1):
        if n > decision.evaluable:
            break
        at = classify_trial(design, list(outcomes)[:n])
        looks.append(LookResult(k, n, at, look_boundary(design, k)))
        if at.action in CROSSINGS:
            break  # the trial should have stopped here; later looks are not reached
    kind = type(design).__name__
    return MonitoringEvaluation(plan_name, _type_name(kind), decision, looks, list(outcomes))


def _type_name(cls: str) -> str:
    return {"SimonDesign": "simon", "Bop2Design": "bop2", "ToxicityMonitor": "toxicity_monitor"}[
        cls
    ]


def register_plan(document: Any, *, name: str | None = None, user: Any = None) -> MonitoringPlan:
    """Register a design document (parsed JSON of a design file); it is validated first."""
    design = design_from_document(document, "uploaded design file")
    title = name or (document.get("title") if isinstance(document, dict) else None)
    return MonitoringPlan.objects.create(
        name=title or f"{_type_name(type(design).__name__)} design",
        design_type=_type_name(type(design).__name__),
        document=document,
        registered_by=user if getattr(user, "is_authenticated", False) else None,
    )


def read_design_document(path: Path) -> Any:
    """The JSON of a design file, or an error quoting what is wrong."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"Cannot read design file {str(path)!r}: {exc}.") from exc


def evaluate_plan(plan: MonitoringPlan, cohort: Any = None) -> MonitoringEvaluation:
    """``plan`` evaluated on ``cohort`` (default: the whole study database)."""
    from bvall.store.convert import read_database

    design = design_from_document(plan.document, f"monitoring plan {plan.name!r}")
    cohort = cohort if cohort is not None else read_database()
    return evaluate_design(design, derive_outcomes(cohort), plan.name)


def record_crossings(
    plan: MonitoringPlan, evaluation: MonitoringEvaluation, user: Any = None
) -> list[MonitoringEvent]:
    """Write one audit event per boundary crossing not yet recorded; the new events."""
    new = []
    who = user if getattr(user, "is_authenticated", False) else None
    for lk in evaluation.crossings:
        d = lk.decision
        if MonitoringEvent.objects.filter(plan=plan, look=lk.look, action=d.action).exists():
            continue
        try:
            with transaction.atomic():
                new.append(
                    MonitoringEvent.objects.create(
                        plan=plan,
                        look=lk.look,
                        action=d.action,
                        message=d.message,
                        evaluation={
                            "look": lk.look,
                            "patients": lk.patients,
                            **d.to_dict(),
                            "endpoint_mapping": evaluation.mapping,
                        },
                        user=who,
                    )
                )
        except IntegrityError:
            continue  # recorded by a concurrent evaluation: once per crossing
    return new


def monitor_plan(
    plan: MonitoringPlan, user: Any = None, cohort: Any = None
) -> tuple[MonitoringEvaluation, list[MonitoringEvent]]:
    """Evaluate ``plan`` on the database and record any new crossing (web page and CLI)."""
    evaluation = evaluate_plan(plan, cohort)
    return evaluation, record_crossings(plan, evaluation, user)
