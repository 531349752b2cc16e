"""Evaluate a saved design against the observed data: the interface for live monitoring.

:func:`classify_trial` is pure: it takes a design (Simon, BOP2 or toxicity monitor, as built here
or read back with :func:`bvall.design.files.read_design`) and the observed outcomes in enrolment
order, and returns a :class:`TrialDecision`: continue, stop for futility, stop for toxicity, or
the final decision, with the boundary that applied and the posterior probabilities behind it. The
study database (responses and toxicities derived by the criteria engine), the web app's monitoring
page and ``bvall monitor`` call it; writing the audit event is the caller's job.

Observed data are either per-patient outcomes (:class:`PatientOutcome`, in enrolment order;
``None`` = not yet evaluable) or cumulative counts (:class:`CountSnapshot`). A look at n patients
is evaluated only when the first n enrolled patients are all evaluable for the design's endpoints
(per-patient data) or when a snapshot with exactly n patients is given (counts). Looks are
replayed in order, so a boundary crossed at an earlier look is reported even if later data look
better: a DSMB must learn that the trial should already have stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bvall.design.bop2 import (
    Bop2Design,
    compute_bop2_cutoff,
    compute_futility_posterior,
    compute_toxicity_posterior,
)
from bvall.design.monitor import ToxicityMonitor, compute_monitor_posterior
from bvall.design.sequential import Boundaries
from bvall.design.simon import SimonDesign
from bvall.errors import InputError

Action = Literal[
    "continue",
    "stop_futility",
    "stop_toxicity",
    "stop_futility_and_toxicity",
    "final_efficacy",
    "final_futility",
    "final_toxicity",
    "final_futility_and_toxicity",
    "completed",
]
Design = SimonDesign | Bop2Design | ToxicityMonitor


@dataclass(frozen=True)
class PatientOutcome:
    """One enrolled patient; ``None`` means not (yet) evaluable for that endpoint."""

    response: bool | None = None
    toxicity: bool | None = None
    patient_id: str | None = None


@dataclass(frozen=True)
class CountSnapshot:
    """Cumulative counts after the first ``patients`` evaluable patients."""

    patients: int
    responses: int | None = None
    toxicities: int | None = None


@dataclass(frozen=True)
class TrialDecision:
    """The decision at the latest evaluable look, with everything behind it.

    ``patients``/``responses``/``toxicities``: counts at the look that decided (or the latest
    evaluable counts when continuing). ``posterior``: Pr(p_E <= phi_E | data) and/or
    Pr(p_T > phi_T | data) at those counts (Bayesian designs). ``cutoff``: C(n) or the monitor's
    threshold. ``boundary``: the integer boundary at that look. ``alerts``: crossings that are
    already certain at the next look whatever the pending outcomes.
    """

    action: Action
    design_type: str
    look: int | None
    patients: int
    responses: int | None
    toxicities: int | None
    boundary: dict[str, int | None]
    posterior: dict[str, float]
    cutoff: float | None
    next_look: int | None
    enrolled: int
    evaluable: int
    message: str
    alerts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _spec(design: Design) -> tuple[str, Boundaries]:
    """(design type, integer boundaries)."""
    if isinstance(design, SimonDesign):
        return "simon", Boundaries((design.n1, design.n), (design.r1, design.r), None)
    if isinstance(design, Bop2Design):
        return "bop2", design.boundaries
    if isinstance(design, ToxicityMonitor):
        return "toxicity_monitor", design.boundaries
    raise InputError(f"{type(design).__name__} is not a design bvall can evaluate.")


def _counts(
    observed: Sequence[PatientOutcome] | Sequence[CountSnapshot],
    need_eff: bool,
    need_tox: bool,
) -> tuple[dict[int, tuple[int, int]], int, int]:
    """{n: (responses, toxicities)} for every evaluable n, the number enrolled and evaluable."""
    table: dict[int, tuple[int, int]] = {0: (0, 0)}
    snaps = [o for o in observed if isinstance(o, CountSnapshot)]
    patients = [o for o in observed if isinstance(o, PatientOutcome)]
    if snaps and len(snaps) == len(observed):
        for s in snaps:
            _check_snapshot(s, need_eff, need_tox)
            table[s.patients] = (s.responses or 0, s.toxicities or 0)
        last = max(table)
        return table, last, last
    if len(patients) != len(observed):
        raise InputError("observed data must be all PatientOutcome or all CountSnapshot.")
    r = t = 0
    evaluable = 0
    for i, o in enumerate(patients, start=1):
        if (need_eff and o.response is None) or (need_tox and o.toxicity is None):
            break
        r += bool(o.response)
        t += bool(o.toxicity)
        table[i] = (r, t)
        evaluable = i
    return table, len(observed), evaluable


def _check_snapshot(o: CountSnapshot, need_eff: bool, need_tox: bool) -> None:
    if isinstance(o.patients, bool) or not isinstance(o.patients, int) or o.patients < 0:
        raise InputError(f"patients={o.patients!r} must be a whole number >= 0.")
    for name, v, needed in (
        ("responses", o.responses, need_eff),
        ("toxicities", o.toxicities, need_tox),
    ):
        if v is None:
            if needed:
                raise InputError(f"the design needs {name}; the snapshot at {o.patients} has none.")
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= o.patients:
            raise InputError(f"{name}={v!r} must be between 0 and patients={o.patients}.")


def _posterior(design: Design, n: int, r: int, t: int) -> tuple[dict[str, float], float | None]:
    if isinstance(design, Bop2Design):
        post = {
            "pr_efficacy_at_or_below_null": compute_futility_posterior(
                design.prior_efficacy, design.phi_efficacy, n, r
            )
        }
        if design.prior_toxicity is not None and design.phi_toxicity is not None:
            post["pr_toxicity_above_limit"] = compute_toxicity_posterior(
                design.prior_toxicity, design.phi_toxicity, n, t
            )
        return post, compute_bop2_cutoff(n, design.n_max, design.lam, design.gamma)
    if isinstance(design, ToxicityMonitor):
        return {
            "pr_toxicity_above_limit": compute_monitor_posterior(design.prior, design.limit, n, t)
        }, design.threshold
    return {}, None


def classify_trial(
    design: Design, observed: Sequence[PatientOutcome] | Sequence[CountSnapshot]
) -> TrialDecision:
    """The decision for ``design`` given ``observed`` outcomes in enrolment order (pure)."""
    kind, b = _spec(design)
    need_eff = b.futility is not None
    need_tox = b.toxicity is not None
    table, enrolled, evaluable = _counts(observed, need_eff, need_tox)
    if evaluable > b.n_max:
        raise InputError(
            f"{evaluable} evaluable patients exceed the design's maximum of {b.n_max}; "
            "the design does not cover them."
        )
    k_last = len(b.looks) - 1
    for k, n in enumerate(b.looks):
        if n not in table:
            break
        r, t = table[n]
        fut = b.futility is not None and r <= b.futility[k]
        tox = b.toxicity is not None and t >= b.toxicity[k]
        bound = _bound(b, k)
        post, cutoff = _posterior(design, n, r, t)
        if k == k_last:
            if kind == "toxicity_monitor":
                action: Action = "final_toxicity" if tox else "completed"
            elif fut and tox:
                action = "final_futility_and_toxicity"
            elif tox:
                action = "final_toxicity"
            elif fut:
                action = "final_futility"
            else:
                action = "final_efficacy"
            msg = _final_message(action, n, r, t, bound)
            return TrialDecision(
                action,
                kind,
                k + 1,
                n,
                r if need_eff else None,
                t if need_tox else None,
                bound,
                post,
                cutoff,
                None,
                enrolled,
                evaluable,
                msg,
            )
        if fut or tox:
            action = (
                "stop_futility_and_toxicity"
                if fut and tox
                else "stop_toxicity"
                if tox
                else "stop_futility"
            )
            msg = (
                f"Boundary crossed at look {k + 1} ({n} patients): "
                + _crossing_text(fut, tox, r, t, bound)
                + "; stop enrolment and refer to the DSMB."
            )
            return TrialDecision(
                action,
                kind,
                k + 1,
                n,
                r if need_eff else None,
                t if need_tox else None,
                bound,
                post,
                cutoff,
                None,
                enrolled,
                evaluable,
                msg,
            )
    # No crossing so far: continue; report the latest evaluable counts and the next look.
    n = evaluable
    r, t = table[n]
    nxt = next((i for i, m in enumerate(b.looks) if m > n), None)
    next_look = b.looks[nxt] if nxt is not None else None
    post, cutoff = _posterior(design, n, r, t) if n > 0 else ({}, None)
    alerts = []
    if nxt is not None and next_look is not None:
        if b.toxicity is not None and t >= b.toxicity[nxt]:
            alerts.append(
                f"{t} toxicities already reach the boundary (>= {b.toxicity[nxt]}) of the next "
                f"look at {next_look} patients: stopping for toxicity is certain."
            )
        if b.futility is not None and r + (next_look - n) <= b.futility[nxt]:
            alerts.append(
                f"Even if all of the next {next_look - n} patients respond, {r + next_look - n} "
                f"responses stay within the futility boundary (<= {b.futility[nxt]}) at "
                f"{next_look} patients: stopping for futility is certain."
            )
    bound = _bound(b, nxt) if nxt is not None else {}
    msg = f"Continue: {n} evaluable patient{'' if n == 1 else 's'}, no boundary crossed" + (
        f"; next look at {next_look} patients." if next_look else "."
    )
    return TrialDecision(
        "continue",
        kind,
        None,
        n,
        r if need_eff else None,
        t if need_tox else None,
        bound,
        post,
        cutoff,
        next_look,
        enrolled,
        evaluable,
        msg,
        alerts,
    )


def _bound(b: Boundaries, k: int) -> dict[str, int | None]:
    out: dict[str, int | None] = {"patients": b.looks[k]}
    if b.futility is not None:
        out["stop_if_responses_at_most"] = b.futility[k]
    if b.toxicity is not None:
        out["stop_if_toxicities_at_least"] = b.toxicity[k]
    return out


def _crossing_text(fut: bool, tox: bool, r: int, t: int, bound: dict[str, int | None]) -> str:
    parts = []
    if fut:
        parts.append(f"{r} responses <= {bound['stop_if_responses_at_most']} (futility)")
    if tox:
        parts.append(f"{t} toxicities >= {bound['stop_if_toxicities_at_least']} (toxicity)")
    return " and ".join(parts)


def _final_message(action: Action, n: int, r: int, t: int, bound: dict[str, int | None]) -> str:
    if action == "final_efficacy":
        return f"Final analysis at {n} patients: {r} responses; the regimen is promising."
    if action == "completed":
        return f"Monitoring complete at {n} patients: {t} toxicities, boundary never crossed."
    fut = action in ("final_futility", "final_futility_and_toxicity")
    tox = action in ("final_toxicity", "final_futility_and_toxicity")
    return f"Final analysis at {n} patients: " + _crossing_text(fut, tox, r, t, bound) + "."
