"""Recomputing counts and proportions (``count``) and category tables (``categories``).

A count is the number of patients for whom the ``match`` condition holds among those for whom
``among`` holds (all patients by default). With ambiguous or missing data each patient may be
in or out of the numerator and the denominator; the recomputed value is then the set of every
(numerator, denominator) the data allow, and a printed value inside that set needs review
rather than a verdict. ``closed_world = false`` says that the match condition is evidence, not
a definition: a patient without that evidence is unknown, not a "no" (e.g. grade 4 neutropenia
shown by days with ANC < 0.5 proves grade 3–4; its absence does not disprove it).

An ``alternatives`` entry names another definition that would give the printed value (a probable
cause when the data disagree). One with ``needs_review = "why"`` is a reading the paper suggests
but does not state (e.g. a pneumonia counted as febrile neutropenia): when the data give the
printed value only under that reading, the claim needs review rather than being inconsistent, and
the explanation says the value holds only if that reading is right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bvall.analysis.claims.catalogue import Claim
from bvall.analysis.claims.causes import (
    agrees,
    describe_fraction,
    digit_slip,
    other_fractions,
)
from bvall.analysis.claims.conditions import (
    CohortView,
    Condition,
    Everyone,
    Verdict,
    compile_condition,
)
from bvall.analysis.claims.findings import Finding, NotRecomputable

_MAX_LISTED = 6


def ensure_recorded(
    view: CohortView, conditions: Sequence[Condition], requires: Sequence[Any] = ()
) -> None:
    """Raise :class:`NotRecomputable` when the cohort does not record what the conditions read.

    A table with no rows, or a column with no value anywhere, is not recorded: counting it
    would turn "not transcribed" into "none". ``requires`` lists conditions that at least one
    patient must meet (e.g. "some consolidation course is recorded").
    """
    for cond in conditions:
        for table in sorted(cond.tables):
            if view.n_rows(table) == 0:
                raise NotRecomputable(f"the cohort has no {table} rows")
        for table, column in cond.columns():
            if not view.column_recorded(table, column):
                raise NotRecomputable(f"{table}.{column} is not recorded in this cohort")
    for i, spec in enumerate(requires):
        cond = compile_condition(f"requires[{i}]", spec)
        if not any(v is True for v, _ in cond.evaluate(view).values()):
            raise NotRecomputable(f"the cohort records no {cond.describe()}")


def _options(v: Verdict) -> tuple[int, ...]:
    return (1,) if v[0] is True else (0,) if v[0] is False else (0, 1)


def reachable_counts(
    view: CohortView, match: Condition, among: Condition, closed_world: bool
) -> tuple[set[tuple[int, int]], list[str], list[str]]:
    """Every (numerator, denominator) the data allow; the uncertain patients and why.

    Returns (pairs, reasons for unknown verdicts, patients certainly counted).
    """
    m, a = match.evaluate(view), among.evaluate(view)
    pairs = {(0, 0)}
    reasons: list[str] = []
    counted: list[str] = []
    for pid in view.patients:
        mv = m[pid]
        if not closed_world and mv[0] is not True:
            mv = (
                None,
                mv[1] or (f"{pid}: no evidence either way (absence of evidence is not a 'no')",),
            )
        steps = set()
        for den in _options(a[pid]):
            for num in _options(mv) if den else (0,):
                steps.add((num, den))
        if len(steps) > 1:
            reasons.extend(a[pid][1] + mv[1])
        elif steps == {(1, 1)}:
            counted.append(pid)
        pairs = {(x + dx, n + dn) for x, n in pairs for dx, dn in steps}
    return pairs, list(dict.fromkeys(reasons)), counted


def _fits(published: Mapping[str, Any], x: int, n: int, check_n: bool) -> bool:
    if "n" in published and x != int(float(published["n"])):
        return False
    if check_n and "N" in published and n != int(float(published["N"])):
        return False
    return not (
        "percent" in published and (n == 0 or not agrees(published["percent"], 100 * x / n))
    )


def _pct(x: int, n: int) -> str:
    return f"{100 * x / n:.1f}%" if n else "n/a"


def _published_text(p: Mapping[str, Any]) -> str:
    parts = []
    if "n" in p and "N" in p:
        parts.append(f"{p['n']}/{p['N']}")
    elif "n" in p:
        parts.append(str(p["n"]))
    if "percent" in p:
        parts.append(f"{p['percent']}%")
    return " = ".join(parts) if len(parts) > 1 else parts[0]


def recompute_count(claim: Claim, view: CohortView) -> Finding:
    spec = claim.recompute or {}
    match = compile_condition("match", spec["match"])
    among = compile_condition("among", spec["among"]) if "among" in spec else Everyone()
    ensure_recorded(view, [match, among], spec.get("requires", []))
    closed = bool(spec.get("closed_world", True))
    label = spec.get("label") or match.describe()
    pairs, reasons, _ = reachable_counts(view, match, among, closed)
    pub = claim.published
    fitting = sorted(p for p in pairs if _fits(pub, *p, check_n=True))
    shown = _published_text(pub)
    if len(pairs) == 1:
        ((x, n),) = pairs
        recomputed: Any = {"n": x, "N": n, "percent": round(100 * x / n, 2) if n else None}
        if fitting:
            return Finding("consistent", recomputed, f"{x}/{n} ({_pct(x, n)}): {label}.")
        summary = f"The data give {x}/{n} ({_pct(x, n)}), not {shown}: {label}."
        finding = _only_if(claim, view, summary, recomputed)
        if finding.status == "inconsistent":
            finding.causes.extend(_count_causes(claim, view, x, n))
        return finding
    xs = sorted({x for x, _ in pairs})
    ns = sorted({n for _, n in pairs})
    possible = sorted(pairs, key=lambda p: (p[1], p[0]))
    listed = ", ".join(f"{x}/{n}" for x, n in possible[:12]) + (" …" if len(possible) > 12 else "")
    recomputed = {
        "n": [xs[0], xs[-1]],
        "N": [ns[0], ns[-1]],
        "possible": [f"{x}/{n}" for x, n in possible],
    }
    span = f"{xs[0]}–{xs[-1]}" if xs[0] != xs[-1] else str(xs[0])
    nspan = f"{ns[0]}–{ns[-1]}" if ns[0] != ns[-1] else str(ns[0])
    if fitting:
        summary = (
            f"The data allow {span} of {nspan} ({label}); {shown} is one of the possible "
            f"values ({listed}), so it cannot be confirmed from the patient-level data."
        )
        finding = Finding("needs-review", recomputed, summary)
    else:
        summary = f"The data allow {span} of {nspan} ({listed}), never {shown}: {label}."
        finding = _only_if(claim, view, summary, recomputed)
        if finding.status == "inconsistent":
            finding.causes.extend(_count_causes(claim, view, None, None))
    finding.notes.extend(_uncertain_notes(reasons))
    return finding


def _uncertain_notes(reasons: list[str]) -> list[str]:
    """One sentence per kind of doubt, naming the patients: "P03, P07: no evidence ..."."""
    if not reasons:
        return []
    grouped: dict[str, list[str]] = {}
    for reason in reasons:
        pid, _, text = reason.partition(": ")
        grouped.setdefault(text or reason, [])
        if text and pid not in grouped[text]:
            grouped[text].append(pid)
    items = [f"{', '.join(pids)}: {text}" if pids else text for text, pids in grouped.items()]
    shown = "; ".join(items[:_MAX_LISTED])
    more = f" (and {len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return [f"Undecided: {shown}{more}."]


def _alternative_hits(
    claim: Claim, view: CohortView, alt: Mapping[str, Any]
) -> list[tuple[int, int]]:
    """The printed (numerator, denominator) pairs the ``alt`` definition allows."""
    spec = claim.recompute or {}
    match = compile_condition("alternative", alt["match"])
    among = (
        compile_condition("alternative", alt["among"])
        if "among" in alt
        else (compile_condition("among", spec["among"]) if "among" in spec else Everyone())
    )
    pairs, _, _ = reachable_counts(view, match, among, bool(spec.get("closed_world", True)))
    return sorted(p for p in pairs if _fits(claim.published, *p, check_n=True))


def _review_reading(claim: Claim, view: CohortView) -> tuple[str, str, str] | None:
    """(label, why, pairs) of the first ``needs_review`` alternative giving the printed value."""
    for alt in (claim.recompute or {}).get("alternatives", []):
        if "needs_review" in alt:
            hits = _alternative_hits(claim, view, alt)
            if hits:
                shown = ", ".join(f"{a}/{b}" for a, b in hits[:3])
                return str(alt["label"]), str(alt["needs_review"]), shown
    return None


def _only_if(claim: Claim, view: CohortView, summary: str, recomputed: Any) -> Finding:
    """Inconsistent (``summary``), or needs review when a ``needs_review`` reading of the data
    gives the printed value."""
    reading = _review_reading(claim, view)
    if reading is None:
        return Finding("inconsistent", recomputed, summary)
    alt_label, why, pairs = reading
    shown = _published_text(claim.published)
    return Finding(
        "needs-review",
        recomputed,
        f"{summary} {shown} holds only if {alt_label} ({pairs}); needs review: {why}.",
    )


def _count_causes(claim: Claim, view: CohortView, x: int | None, n: int | None) -> list[str]:
    spec = claim.recompute or {}
    pub = claim.published
    causes = []
    for alt in spec.get("alternatives", []):
        hits = _alternative_hits(claim, view, alt)
        if hits:
            shown = ", ".join(f"{a}/{b}" for a, b in hits[:3])
            causes.append(f"another definition: {alt['label']} gives {shown}")
    if "percent" in pub and not {"n", "N"} <= set(pub):
        exclude = (x, n) if x is not None and n is not None and n > 0 else None
        fractions = other_fractions(pub["percent"], len(view.patients), exclude)
        if exclude is not None and fractions:
            same_n = [f for f in fractions if f[1] == n]
            same_x = [f for f in fractions if f[0] == x and f[1] != n]
            if same_n:
                causes.append(
                    f"another numerator: {pub['percent']}% is {describe_fraction(*same_n[0])}"
                )
            elif same_x:
                causes.append(
                    f"another denominator: {pub['percent']}% is {describe_fraction(*same_x[0])}"
                )
            else:
                shown = ", ".join(describe_fraction(*f) for f in fractions[:2])
                causes.append(f"another denominator: {pub['percent']}% is {shown}")
        elif exclude is not None:
            causes.append(
                f"{pub['percent']}% is not x/m for any m up to {len(view.patients)} patients"
            )
        if exclude is not None and n:
            slip = digit_slip(pub["percent"], 100 * x / n)  # type: ignore[operator]
            if slip:
                causes.append(slip)
    return causes


def recompute_categories(claim: Claim, view: CohortView) -> Finding:
    spec = claim.recompute or {}
    table = spec.get("table", "patients")
    column = spec["column"]
    cond = compile_condition("categories", {"table": table, "where": {column: {"missing": False}}})
    ensure_recorded(view, [cond], spec.get("requires", []))
    value_of: dict[str, Any] = {}
    notes = []
    for pid, rows in view.rows(table).items():
        values = {r[column] for r in rows if r[column] is not None}
        if len(values) > 1:
            notes.append(f"{pid} has several {column} values ({', '.join(map(str, values))})")
        value_of[pid] = next(iter(values)) if len(values) == 1 else None
    pub = {k: int(float(v)) for k, v in claim.published.items()}

    def counts(skip: str | None = None) -> dict[str, int]:
        out = dict.fromkeys(pub, 0)
        for pid, v in value_of.items():
            if pid != skip and v is not None:
                out[str(v)] = out.get(str(v), 0) + 1
        return out

    got = counts()
    missing = sum(v is None for v in value_of.values())
    recomputed = {k: got.get(k, 0) for k in pub} | {
        k: v for k, v in got.items() if k not in pub and v
    }
    label = spec.get("label") or f"{table}.{column}"
    shown = "/".join(str(v) for v in pub.values())
    data = "/".join(str(got.get(k, 0)) for k in pub)
    if all(got.get(k, 0) == v for k, v in pub.items()):
        finding = Finding("consistent", recomputed, f"{'/'.join(pub)} {data}: {label}.")
    else:
        finding = Finding(
            "inconsistent",
            recomputed,
            f"The data give {'/'.join(pub)} = {data}, not {shown} ({label}).",
        )
        total = sum(pub.values())
        known = len(view.patients) - missing
        if total != known:
            finding.causes.append(
                f"the printed counts add up to {total}, not to the {known} patients"
            )
        dropped = [p for p in view.patients if {k: counts(p).get(k, 0) for k in pub} == pub]
        if dropped:
            finding.causes.append(
                "another denominator: the data without one patient give "
                f"{shown} (leaving out any of {', '.join(dropped)})"
            )
    if missing:
        finding.notes.append(f"{missing} patient(s) have no {column} recorded.")
    finding.notes.extend(notes)
    return finding
