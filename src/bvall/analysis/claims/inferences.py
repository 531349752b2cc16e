"""Recomputing confidence intervals (``ci``), Fisher's exact test (``fisher``) and the
plausibility of Kaplan–Meier values and percentages (``km_plausibility``,
``percent_plausibility``).

A printed interval is checked bound by bound against the method the paper names; when it
disagrees, every other method is tried for each bound separately, because a paper may print
the lower bound of one method and the upper bound of another. A printed p-value that
disagrees is compared with the one-sided tests and the chi-square test with and without Yates'
correction.
"""

from __future__ import annotations

from typing import Any

from scipy import stats

from bvall.analysis.claims.catalogue import Claim
from bvall.analysis.claims.causes import agrees, digit_slip
from bvall.analysis.claims.conditions import CohortView, compile_condition
from bvall.analysis.claims.counts import ensure_recorded
from bvall.analysis.claims.findings import Finding
from bvall.stats.binomial import BINOMIAL_METHODS, METHOD_LABELS, compute_binomial_ci
from bvall.stats.exact import compute_fisher_exact
from bvall.stats.plausibility import compute_km_reachability, compute_percent_reachability


def _p(v: float) -> str:
    return f"{100 * v:.2f}"


def recompute_ci(claim: Claim, view: CohortView) -> Finding:
    spec = claim.recompute or {}
    x, n, method = int(spec["x"]), int(spec["n"]), str(spec["method"])
    level = float(spec.get("level", 0.95))
    pub = claim.published
    named = compute_binomial_ci(x, n, method, level)
    bounds = {"lower": named.lower, "upper": named.upper}
    recomputed = {
        "method": method,
        "lower": round(100 * named.lower, 2),
        "upper": round(100 * named.upper, 2),
    }
    bad = [k for k in ("lower", "upper") if k in pub and not agrees(pub[k], 100 * bounds[k])]
    text = f"{METHOD_LABELS[method]} {100 * level:g}% CI for {x}/{n}: {_p(named.lower)}–{_p(named.upper)}%"
    if not bad:
        return Finding("consistent", recomputed, f"{text}.")
    printed = f"{pub.get('lower', '?')}–{pub.get('upper', '?')}%"
    finding = Finding("inconsistent", recomputed, f"{text}, not {printed}.")
    per_bound: dict[str, list[str]] = {}
    every = {m: compute_binomial_ci(x, n, m, level) for m in BINOMIAL_METHODS}
    for key in ("lower", "upper"):
        if key not in pub:
            continue
        per_bound[key] = [m for m, ci in every.items() if agrees(pub[key], 100 * getattr(ci, key))]
    both = [m for m in BINOMIAL_METHODS if all(m in v for v in per_bound.values())]
    if both:
        finding.causes.append(
            "another CI method: the printed interval is "
            + " or ".join(
                f"{METHOD_LABELS[m]} ({_p(every[m].lower)}–{_p(every[m].upper)}%)" for m in both
            )
            + f", not the {METHOD_LABELS[method]} interval the paper names"
        )
    else:
        parts = []
        for key, methods in per_bound.items():
            if methods:
                shown = " or ".join(
                    f"{METHOD_LABELS[m]} ({_p(getattr(every[m], key))})" for m in methods
                )
                parts.append(f"the printed {key} bound {pub[key]} is {shown}")
            else:
                parts.append(f"no method gives the printed {key} bound {pub[key]}")
        finding.causes.append(
            "bounds of different methods: " + "; ".join(parts) + "; no single method gives both"
        )
    return finding


def _fisher_table(spec: dict[str, Any], view: CohortView) -> tuple[list[list[int]], list[str]]:
    if "table" in spec:
        return [[int(v) for v in row] for row in spec["table"]], []
    rows = [compile_condition(f"rows[{i}]", r) for i, r in enumerate(spec["rows"])]
    match = compile_condition("match", spec["match"])
    ensure_recorded(view, [*rows, match], spec.get("requires", []))
    outcome = match.evaluate(view)
    table: list[list[int]] = []
    undecided: list[str] = []
    for cond in rows:
        member = cond.evaluate(view)
        yes = no = 0
        for pid in view.patients:
            m, o = member[pid], outcome[pid]
            if m[0] is False:
                continue
            if m[0] is None or o[0] is None:
                undecided.extend(m[1] + o[1] or (f"{pid}: undecided",))
                continue
            yes, no = (yes + 1, no) if o[0] else (yes, no + 1)
        table.append([yes, no])
    return table, undecided


def recompute_fisher(claim: Claim, view: CohortView) -> Finding:
    spec = dict(claim.recompute or {})
    alternative = str(spec.get("alternative", "two-sided"))
    table, undecided = _fisher_table(spec, view)
    result = compute_fisher_exact(table, alternative)
    pub = claim.published
    label = spec.get("label") or "Fisher's exact test"
    recomputed = {"p_value": round(result.p_value, 4), "alternative": alternative, "table": table}
    shown = " / ".join(",".join(map(str, r)) for r in table)
    text = f"{label}: table [{shown}], {alternative} p = {result.p_value:.4f}"
    if undecided:
        return Finding(
            "needs-review",
            recomputed,
            f"{text}, but some patients cannot be placed in the table.",
            notes=[f"Undecided: {'; '.join(undecided[:6])}."],
        )
    if agrees(pub["p"], result.p_value):
        return Finding("consistent", recomputed, f"{text}.")
    finding = Finding("inconsistent", recomputed, f"{text}, not {pub['p']}.")
    slip = digit_slip(pub["p"], result.p_value)
    if slip:
        finding.causes.append(slip)
    others = {a: compute_fisher_exact(table, a).p_value for a in ("less", "greater", "two-sided")}
    for alt, p in others.items():
        if alt != alternative and agrees(pub["p"], p):
            finding.causes.append(f"another test: the {alt} Fisher p-value is {p:.4f}")
    if (
        len(table) == 2
        and all(sum(r) for r in table)
        and all(sum(c) for c in zip(*table, strict=True))
    ):
        for correction in (False, True):
            p = float(stats.chi2_contingency(table, correction=correction).pvalue)
            if agrees(pub["p"], p):
                name = "with Yates' correction" if correction else "without correction"
                finding.causes.append(f"another test: the chi-square p-value {name} is {p:.4f}")
    if len(finding.causes) == (1 if slip else 0):
        listed = ", ".join(f"{a} {p:.4f}" for a, p in others.items())
        finding.notes.append(f"Fisher p-values of this table: {listed}.")
    return finding


def recompute_km_plausibility(claim: Claim, view: CohortView) -> Finding:
    spec = claim.recompute or {}
    n_max = len(view.patients) if spec["n_max"] == "patients" else int(spec["n_max"])
    percent = claim.published["percent"]
    result = compute_km_reachability(
        percent,
        n_max,
        max_events=spec.get("max_events"),
        min_events=int(spec.get("min_events", 0)),
    )
    bounds = ""
    if spec.get("min_events") or spec.get("max_events") is not None:
        bounds = (
            f", events {spec.get('min_events', 0)}–{spec['max_events']}"
            if spec.get("max_events") is not None
            else f", at least {spec['min_events']} event(s)"
        )
    recomputed = {
        "reachable": result.reachable,
        "candidates": [c.describe() for c in result.candidates[:10]],
    }
    if not result.reachable:
        return Finding(
            "inconsistent",
            recomputed,
            f"No Kaplan–Meier product ∏(1 − d/n) with at most {n_max} at risk{bounds} prints as "
            f"{percent}%.",
        )
    examples = "; ".join(c.describe() for c in result.candidates[:3])
    more = f" ({len(result.candidates)} distinct products)" if len(result.candidates) > 3 else ""
    return Finding(
        "needs-review",
        recomputed,
        f"Plausible but not verifiable: {percent}% is reachable with at most {n_max} at risk"
        f"{bounds}, e.g. {examples}{more}; per-patient event and censoring times are needed to "
        "recompute it.",
    )


def recompute_percent_plausibility(claim: Claim, view: CohortView) -> Finding:
    spec = claim.recompute or {}
    return percent_plausibility(claim.published["percent"], int(spec["n"]))


def percent_plausibility(percent: Any, n: int) -> Finding:
    """Whether a printed percentage is x/n for some x (a check, not a recomputation)."""
    r = compute_percent_reachability(percent, n)
    if r.reachable:
        xs = " or ".join(f"{x}/{n}" for x in r.numerators)
        return Finding(
            "needs-review",
            {"reachable": True, "numerators": list(r.numerators)},
            f"{percent}% is reachable with {n} patients ({xs}).",
        )
    near = ", ".join(f"{x}/{n} = {p:.2f}%" for x, p in r.nearest)
    return Finding(
        "inconsistent",
        {"reachable": False, "nearest": [f"{x}/{n}" for x, _ in r.nearest]},
        f"{percent}% is not x/{n} for any x (nearest: {near}).",
    )
