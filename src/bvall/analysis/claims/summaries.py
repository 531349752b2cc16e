"""Recomputing median (range), quartiles and means of a column (``summary``).

The column may be an arithmetic expression of columns (``"study_day_end - study_day_start +
1"``). With ``unit`` the values of a lab test are converted from the unit in each row (one
conversion table: :mod:`bvall.cohort.units`). ``per_patient`` says how several rows of one
patient become one value (``one``: it is an error to have several; ``sum``, ``min``, ``max``,
``mean``, ``first``, ``count``; ``all`` keeps every row).

Probable causes searched when a printed summary disagrees: a median that no patient has
although n is odd, another unit, the mean printed as the median, and the same summary without
one patient (a table computed before the last patient was added).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from bvall.analysis.claims.catalogue import Claim
from bvall.analysis.claims.causes import agrees, digit_slip
from bvall.analysis.claims.conditions import CohortView, TableCondition, compile_clauses
from bvall.analysis.claims.counts import ensure_recorded
from bvall.analysis.claims.expressions import compile_expression
from bvall.analysis.claims.findings import Finding, NotRecomputable
from bvall.cohort.units import lab_test
from bvall.errors import SpecError
from bvall.stats.describe import NumericSummary, compute_summary

_STAT_OF = {
    "median": "median",
    "min": "minimum",
    "max": "maximum",
    "q1": "q1",
    "q3": "q3",
    "mean": "mean",
}


def _reduce(how: str, values: list[float]) -> float:
    if how == "count":
        return float(len(values))
    if not values:
        return math.nan
    if how == "sum":
        return float(sum(values))
    if how == "min":
        return min(values)
    if how == "max":
        return max(values)
    if how == "mean":
        return sum(values) / len(values)
    return values[0]


def _describe_summary(s: NumericSummary, keys: list[str], unit: str = "") -> str:
    def f(v: float) -> str:
        return f"{v:.6g}"

    core = f"{f(s.median)} ({f(s.minimum)}–{f(s.maximum)}){unit}"
    extra = [f"{k} {f(getattr(s, _STAT_OF[k]))}" for k in keys if k in ("q1", "q3", "mean")]
    return core + (f", {', '.join(extra)}" if extra else "") + f", n = {s.n}"


def _matches(published: Mapping[str, Any], s: NumericSummary) -> list[str]:
    """The published keys that disagree with ``s``."""
    bad = []
    for key, printed in published.items():
        value = float(s.n) if key == "n" else getattr(s, _STAT_OF[key])
        if not agrees(printed, value):
            bad.append(key)
    return bad


def recompute_summary(claim: Claim, view: CohortView) -> Finding:
    spec = claim.recompute or {}
    table, column = spec["table"], spec["column"]
    clauses = compile_clauses("where", table, spec.get("where"))
    value_of = compile_expression("column", table, column)
    filt = TableCondition(table, clauses)
    ensure_recorded(view, [filt], spec.get("requires", []))
    factor = _unit_factor(spec, table)
    how = spec.get("per_patient", "one")
    per_patient: dict[str, float] = {}
    notes: list[str] = []
    for pid, rows in view.rows(table).items():
        values = []
        for row in rows:
            verdicts = [
                filt.cell_verdict(c, row, view.ambiguous.get((table, pid), []), pid)
                for c in clauses
            ]
            truth = [v for v, _ in verdicts]
            if any(t is False for t in truth):
                continue
            if any(t is None for t in truth):
                notes.extend(r for _, rs in verdicts for r in rs)
                continue
            v = value_of(row)
            if v is None:
                continue
            values.append(float(v) * (factor(row) if factor else 1.0))
        if not values:
            continue
        if how == "one" and len(values) > 1:
            raise NotRecomputable(
                f"{pid} has {len(values)} {table} rows matching; the catalogue must say how to "
                "combine them (per_patient)"
            )
        if how == "all":
            for i, v in enumerate(values):
                per_patient[f"{pid}#{i}"] = v
        else:
            per_patient[pid] = _reduce(how, values) if how != "one" else values[0]
    if not per_patient:
        where_text = ", ".join(c.describe() for c in clauses) or "any row"
        raise NotRecomputable(f"no {table} row with {where_text} has a recorded {column}")
    summary = compute_summary(list(per_patient.values()))
    pub = claim.published
    keys = list(pub)
    label = spec.get("label") or f"{column} in {table}" + (
        f" ({', '.join(c.describe() for c in clauses)})" if clauses else ""
    )
    unit = f" {spec['unit']}" if "unit" in spec else ""
    recomputed = {k: (summary.n if k == "n" else getattr(summary, _STAT_OF[k])) for k in keys}
    recomputed.update({"median": summary.median, "min": summary.minimum, "max": summary.maximum})
    recomputed["n"] = summary.n
    # Unit conversion leaves binary noise (73 g/L / 10 = 7.300000000000001 g/dL); 12
    # significant digits keep every digit a measurement can carry.
    recomputed = {
        k: float(f"{v:.12g}") if isinstance(v, float) else v for k, v in recomputed.items()
    }
    bad = _matches(pub, summary)
    text = _describe_summary(summary, keys, unit)
    if notes:
        notes = [f"Rows left out because their filter is undecided: {'; '.join(notes[:6])}."]
    if not bad:
        status = "needs-review" if notes else "consistent"
        return Finding(status, recomputed, f"{text}: {label}.", notes=notes)
    finding = Finding(
        "inconsistent",
        recomputed,
        f"The data give {text}; the printed {', '.join(bad)} disagree{'s' * (len(bad) == 1)}"
        f": {label}.",
        notes=notes,
    )
    finding.causes.extend(_summary_causes(claim, view, per_patient, summary, bad, spec))
    return finding


def _unit_factor(
    spec: Mapping[str, Any], table: str
) -> Callable[[Mapping[str, Any]], float] | None:
    if "unit" not in spec:
        return None
    test = (spec.get("where") or {}).get("test")
    if table != "labs" or not isinstance(test, str):
        raise SpecError('summary.unit needs table = "labs" and where.test = one lab test.')
    lab = lab_test(test)
    target = lab.factor(spec["unit"])
    return lambda row: lab.factor(row["unit"]) / target


def _summary_causes(
    claim: Claim,
    view: CohortView,
    per_patient: dict[str, float],
    summary: NumericSummary,
    bad: list[str],
    spec: Mapping[str, Any],
) -> list[str]:
    pub = claim.published
    causes: list[str] = []
    values = sorted(per_patient.values())
    if "median" in bad and summary.n % 2 == 1:
        printed = pub["median"]
        if not any(agrees(printed, v) for v in values):
            causes.append(
                f"with {summary.n} values the median is one of them, and no patient has {printed}"
            )
    if "median" in bad and agrees(pub["median"], summary.mean):
        causes.append(f"the printed median equals the mean ({summary.mean:.4g})")
    if "unit" in spec:
        causes.extend(_unit_causes(claim, spec, per_patient))
    for key in bad:
        if key in _STAT_OF:
            slip = digit_slip(pub[key], getattr(summary, _STAT_OF[key]))
            if slip:
                causes.append(f"{key}: {slip}")
    dropped = []
    for pid in per_patient if spec.get("per_patient") != "all" else ():
        rest = [v for p, v in per_patient.items() if p != pid]
        if rest and not _matches(pub, compute_summary(rest)):
            dropped.append(pid)
    if dropped:
        which = dropped[0] if len(dropped) == 1 else f"any one of {', '.join(dropped)}"
        causes.append(
            f"another denominator: every printed value matches the data without {which} "
            f"(n = {summary.n - 1})"
        )
    return causes


def _unit_causes(claim: Claim, spec: Mapping[str, Any], per_patient: dict[str, float]) -> list[str]:
    lab = lab_test(spec["where"]["test"])
    unit = spec["unit"]
    pub = claim.published
    target = lab.factor(unit)
    causes = []
    unit_match = False
    best: tuple[float, str, NumericSummary] | None = None
    for other in lab.accepted_units:
        if lab.factor(other) == target:
            continue
        scale = target / lab.factor(other)
        s = compute_summary([v * scale for v in per_patient.values()])
        if not _matches(pub, s):
            unit_match = True
            causes.append(f"unit: the printed values are the data in {other}, not {unit}")
        if "median" in pub and s.median > 0:
            distance = abs(math.log(float(pub["median"]) / s.median))
            if best is None or distance < best[0]:
                best = (distance, other, s)
    if "median" in pub:
        printed = float(pub["median"])
        low, high = (b / target for b in lab.plausible)
        if not low <= printed <= high:
            causes.append(
                f"{printed:g} {unit} is outside the plausible range of {lab.name.lower()} "
                f"({low:g}–{high:g} {unit})"
            )
            if best is not None and not unit_match:
                _, other, s = best
                causes.append(
                    f"the printed numbers are on the {other} scale, where the data give "
                    f"{_describe_summary(s, [], ' ' + other)}"
                )
    return causes
