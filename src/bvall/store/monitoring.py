"""Live trial monitoring: a saved design evaluated against the study database.

A design file written by ``bvall design simon|bop2|monitor --save FILE`` is registered as a
:class:`~bvall.store.models.MonitoringPlan`. :func:`evaluate_plan` derives each enrolled patient's
outcomes with the criteria engine, in enrolment order, and asks
:func:`bvall.design.classify_trial` for the decision at every look reached.

Which outcomes are monitored is named by the design file's ``monitoring`` object
(:class:`MonitoringSpec`): ``efficacy_endpoint`` and ``toxicity_endpoint`` are outcome
definitions of ``criteria/data/endpoints.toml`` (the analysis tables read the same ones), and
``toxicity_window_day`` is the last study day of the toxicity assessment window (default: the end
of induction, as the endpoints define it). A design file without that object (written before it
existed) is monitored with the defaults, said so with every evaluation.

Only evaluable patients count. A patient is evaluable for toxicity once the toxicity has
occurred, or once the window is complete (today's study day, or the patient's latest recorded
day, is past its end) and the grades are known; for efficacy once the response assessment
(and, when the definition needs it, the MRD result) exists. Every other patient is *pending*,
with the reason (:class:`PatientStatus`); :func:`bvall.design.classify_trial` then uses the first
patients in enrolment order who are evaluable for every endpoint the design needs.

:func:`record_crossings` writes one append-only :class:`~bvall.store.models.MonitoringEvent` per
boundary crossing (plan, look, action), in one transaction; evaluating again (a page view, the CLI)
writes nothing new until another boundary is crossed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bvall.cohort.dates import derive_d1, derive_study_day
from bvall.criteria.outcomes import classify_outcome, outcome_definition
from bvall.design import PatientOutcome, TrialDecision, classify_trial, design_from_document
from bvall.design.bop2 import Bop2Design
from bvall.design.decision import Design
from bvall.design.monitor import ToxicityMonitor
from bvall.design.simon import SimonDesign
from bvall.errors import InputError, SpecError, UnknownNameError
from bvall.store.models import MonitoringEvent, MonitoringPlan

#: Outcomes monitored when a design file names none: what monitoring always used, so a plan
#: registered before design files named their endpoints keeps its decisions.
DEFAULT_EFFICACY = "cr_cri_mrd_negative"
DEFAULT_TOXICITY = "crs_icans_grade3plus"


@dataclass(frozen=True)
class MonitoringSpec:
    """What a design monitors: outcome definitions of ``endpoints.toml`` and the last study day
    of the toxicity assessment window (None: the end of induction). ``defaulted``: the fields
    the design file did not give."""

    efficacy_endpoint: str = DEFAULT_EFFICACY
    toxicity_endpoint: str = DEFAULT_TOXICITY
    toxicity_window_day: int | None = None
    defaulted: tuple[str, ...] = ()

    def mapping(self) -> dict[str, str]:
        """The definitions in words, shown with (and recorded in) every evaluation."""
        eff = outcome_definition(self.efficacy_endpoint, "efficacy")
        tox = outcome_definition(self.toxicity_endpoint, "toxicity")
        window = (
            f"D1 to D{self.toxicity_window_day} (design file)"
            if self.toxicity_window_day is not None
            else "D1 to the end of induction (the day before the next course, at most the "
            "endpoints' induction_max_day)"
        )
        out = {
            "efficacy": eff.describe(),
            "toxicity": tox.describe(),
            "evaluable": (
                "for toxicity: the toxicity occurred, or the assessment window "
                f"({window}) is complete and the grades are known; for efficacy: the response "
                "assessment exists (and the MRD result, when the definition needs it). Others "
                "are pending, with the reason."
            ),
            "order": "patients in enrolment order (patients.enrolment_date, then patient_id)",
        }
        if self.defaulted:
            out["defaults"] = (
                f"the design file names no {', '.join(self.defaulted)}; monitored with the "
                f"defaults (efficacy {DEFAULT_EFFICACY}, toxicity {DEFAULT_TOXICITY}, window "
                "the end of induction)"
            )
        return out


_SPEC_FIELDS = ("efficacy_endpoint", "toxicity_endpoint", "toxicity_window_day")


def monitoring_spec(document: Any, source: str = "design file") -> MonitoringSpec:
    """The design document's ``monitoring`` object, checked (defaults where absent)."""
    raw = document.get("monitoring") if isinstance(document, Mapping) else None
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: monitoring must be an object, got {raw!r}.")
    unknown = [k for k in raw if k not in _SPEC_FIELDS]
    if unknown:
        raise SpecError(
            f"{source}: monitoring has unknown field(s) {', '.join(map(repr, unknown))}; "
            f"fields: {', '.join(_SPEC_FIELDS)}."
        )
    eff = raw.get("efficacy_endpoint", DEFAULT_EFFICACY)
    tox = raw.get("toxicity_endpoint", DEFAULT_TOXICITY)
    try:
        outcome_definition(str(eff), "efficacy")
        outcome_definition(str(tox), "toxicity")
    except UnknownNameError as exc:
        raise SpecError(f"{source}: monitoring: {exc}") from None
    window = raw.get("toxicity_window_day")
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or window < 1
    ):
        raise SpecError(
            f"{source}: monitoring toxicity_window_day = {window!r}; expected a study day ≥ 1 "
            "(or leave it out for the end of induction)."
        )
    return MonitoringSpec(
        str(eff), str(tox), window, tuple(f for f in _SPEC_FIELDS[:2] if f not in raw)
    )


@dataclass(frozen=True)
class PatientStatus:
    """One enrolled patient's monitored outcomes; a None outcome is pending, with the reason."""

    patient_id: str
    response: bool | None
    toxicity: bool | None
    response_pending: str = ""
    toxicity_pending: str = ""

    @property
    def outcome(self) -> PatientOutcome:
        return PatientOutcome(self.response, self.toxicity, self.patient_id)


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
    mapping: dict[str, str] = field(default_factory=lambda: MonitoringSpec().mapping())
    patients: list[PatientStatus] = field(default_factory=list)
    needs: tuple[str, ...] = ("efficacy", "toxicity")

    @property
    def crossings(self) -> list[LookResult]:
        return [lk for lk in self.looks if lk.crossed]

    @property
    def pending(self) -> list[tuple[str, str]]:
        """(patient, reason) of every patient not evaluable for an endpoint the design needs."""
        out = []
        for p in self.patients:
            reasons = []
            if "efficacy" in self.needs and p.response is None:
                reasons.append(f"efficacy: {p.response_pending}")
            if "toxicity" in self.needs and p.toxicity is None:
                reasons.append(f"toxicity: {p.toxicity_pending}")
            if reasons:
                out.append((p.patient_id, "; ".join(reasons)))
        return out

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
            "pending": [{"patient_id": p, "reason": r} for p, r in self.pending],
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


def design_needs(design: Design) -> tuple[str, ...]:
    """The endpoints a design decides on: efficacy, toxicity or both."""
    if isinstance(design, SimonDesign):
        return ("efficacy",)
    b = design.boundaries
    return tuple(
        k for k, v in (("efficacy", b.futility), ("toxicity", b.toxicity)) if v is not None
    )


def _window_ends(cohort: Any, spec: MonitoringSpec) -> dict[str, int]:
    """Each patient's last study day of the toxicity window."""
    from bvall.criteria.exposure import induction_windows
    from bvall.criteria.expressions import Workspace
    from bvall.criteria.settings import CriteriaSettings

    pids = cohort["patients"].column("patient_id").to_pylist()
    if spec.toxicity_window_day is not None:
        return dict.fromkeys(pids, spec.toxicity_window_day)
    settings = CriteriaSettings()
    # one small query, built here (not a planned derivation): the window rule stays the
    # criteria engine's (exposure.induction_windows), used once per monitoring evaluation
    ws = Workspace(cohort)
    win = ws.execute(induction_windows(ws, settings.induction_max_day)).to_pylist()
    return {r["w_patient"]: r["w_end"] for r in win}


_INDUCTION = ("prephase", "induction")
_AFTER_INDUCTION = ("pre_consolidation", "follow_up", "relapse")


def derive_outcomes(
    cohort: Any, spec: MonitoringSpec | None = None, today: dt.date | None = None
) -> list[PatientStatus]:
    """Each enrolled patient's monitored outcomes (see the module docstring), in enrolment
    order; pending ones carry the reason. ``today`` (read by the caller) tells whether a
    toxicity window still open by the calendar is complete; without it only the patient's
    recorded days do."""
    from bvall.criteria import derive

    spec = spec or MonitoringSpec()
    eff = outcome_definition(spec.efficacy_endpoint, "efficacy")
    tox = outcome_definition(spec.toxicity_endpoint, "toxicity")
    endpoints = {r["patient_id"]: r for r in derive(cohort, "endpoints").to_pylist()}
    d1 = derive_d1(cohort["treatment_courses"])
    courses = cohort["treatment_courses"].to_pylist()
    treated = {r["patient_id"] for r in courses if r["course_type"] == "induction"}
    # A recorded later course (consolidation, salvage, HSCT) or a marrow taken after induction
    # (before consolidation, follow-up, relapse) ends induction, dated or not.
    moved_on: set[str] = set()
    if spec.toxicity_window_day is None:
        moved_on |= {r["patient_id"] for r in courses if r["course_type"] not in _INDUCTION}
        moved_on |= {
            r["patient_id"]
            for r in cohort["marrow_assessments"].to_pylist()
            if r["timepoint"] in _AFTER_INDUCTION
        }
    ends = _window_ends(cohort, spec)
    patients = sorted(
        cohort["patients"].to_pylist(),
        key=lambda p: (p["enrolment_date"] is None, p["enrolment_date"], p["patient_id"]),
    )
    out = []
    for p in patients:
        pid = p["patient_id"]
        e = endpoints.get(pid, {})
        response = classify_outcome(eff, e)
        toxicity = classify_outcome(tox, e)
        tox_value, tox_reason = toxicity.value, toxicity.reason
        if pid not in treated:
            response_reason = "not treated yet (no induction course recorded)"
            tox_value, tox_reason = None, response_reason
        else:
            response_reason = response.reason
            if tox_value is not True:
                end = ends.get(pid)
                now = None if today is None or pid not in d1 else derive_study_day(today, d1[pid])
                last = e.get("last_contact_day")
                complete = pid in moved_on or (
                    end is not None
                    and ((now is not None and now > end) or (last is not None and last > end))
                )
                if not complete:
                    seen = (
                        f"today is D{now}"
                        if now is not None
                        else (f"last record D{last}" if last is not None else "no dated record")
                    )
                    tox_value = None
                    tox_reason = f"assessment window open until D{end} ({seen})"
                elif tox_value is None:
                    tox_reason = f"window complete but {tox_reason}"
        out.append(
            PatientStatus(
                pid,
                response.value if pid in treated else None,
                tox_value,
                "" if response.value is not None and pid in treated else response_reason,
                "" if tox_value is not None else tox_reason,
            )
        )
    return out


def evaluate_design(
    design: Design,
    outcomes: Sequence[PatientOutcome] | Sequence[PatientStatus],
    plan_name: str = "design",
    spec: MonitoringSpec | None = None,
) -> MonitoringEvaluation:
    """The decision now and at every look reached (pure: no database, no clock)."""
    statuses = [o for o in outcomes if isinstance(o, PatientStatus)]
    outcomes = [o.outcome if isinstance(o, PatientStatus) else o for o in outcomes]
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
    return MonitoringEvaluation(
        plan_name,
        _type_name(kind),
        decision,
        looks,
        list(outcomes),
        (spec or MonitoringSpec()).mapping(),
        statuses,
        design_needs(design),
    )


def _type_name(cls: str) -> str:
    return {"SimonDesign": "simon", "Bop2Design": "bop2", "ToxicityMonitor": "toxicity_monitor"}[
        cls
    ]


def register_plan(document: Any, *, name: str | None = None, user: Any = None) -> MonitoringPlan:
    """Register a design document (parsed JSON of a design file); it is validated first."""
    design = design_from_document(document, "uploaded design file")
    monitoring_spec(document, "uploaded design file")
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


def evaluate_plan(
    plan: MonitoringPlan, cohort: Any = None, today: dt.date | None = None
) -> MonitoringEvaluation:
    """``plan`` evaluated on ``cohort`` (default: the whole study database) as of ``today``
    (default: the server's date, read here at the edge)."""
    from bvall.store.convert import read_database

    source = f"monitoring plan {plan.name!r}"
    design = design_from_document(plan.document, source)
    spec = monitoring_spec(plan.document, source)
    cohort = cohort if cohort is not None else read_database()
    today = today or timezone.localdate()
    return evaluate_design(design, derive_outcomes(cohort, spec, today), plan.name, spec)


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
