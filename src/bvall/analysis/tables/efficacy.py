"""Response (``table-response``) and the arm comparison (``table-arm-comparison``).

Per-patient outcomes come from ``derive(cohort, "endpoints")``:

* MRD negative at day 14–21: ``mrd_negative_d14_21`` (missing when no day 14–21 marrow).
* CR/CRi after cycle 1: the outcome ``cr_cri`` of ``endpoints.toml`` (best response CR, CRh
  or CRi).
* CR with MRD negativity after cycle 1: the outcome ``cr_mrd_negative`` of ``endpoints.toml``
  (best response CR and an MRD-negative induction marrow; a best response other than CR is "no"
  whatever the MRD; CR with unknown MRD is missing), the definition trial monitoring reads too
  (:mod:`bvall.criteria.outcomes`).
* Best response: each category of the NCCN response rules.

The binary outcomes are computed once here (:func:`compute_binary_outcomes`) and shared by both
tables and by the comparison of arms, so a number cannot differ between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bvall.analysis.model import Cell, Row, StudyTable
from bvall.analysis.tables.cells import (
    NOT_ESTIMABLE,
    combine_sources,
    heading,
    rate_row,
    text_cell,
)
from bvall.analysis.tables.data import StudyData, is_missing, present
from bvall.criteria.outcomes import classify_outcome, outcome_definition
from bvall.stats import METHOD_LABELS, compute_fisher_exact

#: Best-response categories shown, in order (NCCN; ``bvall.criteria.response``).
RESPONSES = ("CR", "CRh", "CRi", "NR", "PD")


@dataclass(frozen=True)
class Outcome:
    """A binary per-patient outcome: label, values (True/False/None) and their sources."""

    key: str
    label: str
    values: dict[str, bool | None]
    sources: dict[str, str]


def _bool(v: object) -> bool | None:
    v = present(v)
    return None if v is None else bool(v)


def _grade_at_least(
    e: pd.DataFrame, column: str, grade: int, events: frozenset[str] = frozenset()
) -> Outcome:
    """Worst grade >= ``grade``; a reported event of unknown grade (``events``) counts for
    grade >= 1 and is missing for higher thresholds."""
    values = {
        str(p): (
            (True if grade <= 1 and p in events else None)
            if is_missing(g)
            else float(g) >= grade or (grade <= 1 and p in events)
        )
        for p, g in zip(e.index, e[column], strict=True)
    }
    return Outcome(column, "", values, _sources(e, f"{column}_source"))


def _sources(e: pd.DataFrame, column: str) -> dict[str, str]:
    return {str(p): str(s) for p, s in zip(e.index, e[column], strict=True)}


def _outcome(e: pd.DataFrame, name: str) -> dict[str, bool | None]:
    """The outcome ``name`` of ``endpoints.toml`` for each patient of ``e``."""
    definition = outcome_definition(name)
    rows = e.to_dict("index")
    return {
        str(p): classify_outcome(definition, {str(c): v for c, v in rows[p].items()}).value
        for p in e.index
    }


def compute_binary_outcomes(data: StudyData) -> dict[str, Outcome]:
    """Every binary outcome of the response and comparison tables, per patient."""
    e = data.endpoints
    pids = [str(p) for p in e.index]
    best_src = _sources(e, "best_response_source")
    out: dict[str, Outcome] = {}

    def add(key: str, label: str, values: dict[str, bool | None], src: dict[str, str]) -> None:
        out[key] = Outcome(key, label, values, src)

    add(
        "mrd_d14_21",
        "MRD negative at day 14–21",
        {p: _bool(v) for p, v in zip(pids, e["mrd_negative_d14_21"], strict=True)},
        _sources(e, "mrd_negative_d14_21_source"),
    )
    add(
        "cr_cri",
        outcome_definition("cr_cri").label,
        _outcome(e, "cr_cri"),
        best_src,
    )
    mrd_src = _sources(e, "mrd_negative_source")
    add(
        "cr_mrd",
        outcome_definition("cr_mrd_negative").label,
        _outcome(e, "cr_mrd_negative"),
        {p: _both(best_src[p], mrd_src[p]) for p in pids},
    )
    w = data.frame("worst_grades")
    fn_events = frozenset(
        str(p)
        for p, t, n in zip(w["patient_id"], w["term_id"], w["reported_events"], strict=True)
        if t == "febrile_neutropenia" and not is_missing(n) and int(n) > 0
    )
    for key, label, column, grade, events in (
        ("crs_any", "CRS, any grade", "crs_max_grade", 1, frozenset[str]()),
        ("crs_3", "CRS, grade ≥ 3", "crs_max_grade", 3, frozenset[str]()),
        ("icans_any", "ICANS, any grade", "icans_max_grade", 1, frozenset[str]()),
        ("neutropenia_3_4", "Neutropenia, grade 3–4", "neutropenia_max_grade", 3, frozenset[str]()),
        (
            "thrombocytopenia_3_4",
            "Thrombocytopenia, grade 3–4",
            "thrombocytopenia_max_grade",
            3,
            frozenset[str](),
        ),
        (
            "febrile_neutropenia",
            "Febrile neutropenia",
            "febrile_neutropenia_max_grade",
            1,
            fn_events,
        ),
    ):
        o = _grade_at_least(e, column, grade, events)
        add(key, label, o.values, o.sources)
    for key, label, column in (
        ("platelet_tx", "Platelet transfusion", "platelet_units"),
        ("rbc_tx", "Red-cell transfusion", "rbc_units"),
    ):
        add(
            key,
            label,
            {
                p: None if is_missing(u) else float(u) > 0
                for p, u in zip(pids, e[column], strict=True)
            },
            _sources(e, f"{column}_source"),
        )
    return out


def _both(a: str, b: str) -> str:
    return a if a == b else ("mixed" if "missing" not in (a, b) else a)


def build_response_table(data: StudyData, ci_method: str, level: float) -> StudyTable:
    """MRD and response after cycle 1, x/N (p%) with the ``ci_method`` interval, by arm."""
    columns = data.columns()
    outcomes = compute_binary_outcomes(data)
    rows: list[Row] = []
    for key in ("mrd_d14_21", "cr_cri", "cr_mrd"):
        o = outcomes[key]
        rows.append(
            rate_row(
                o.label, columns, o.values, sources=o.sources, ci_method=ci_method, level=level
            )
        )
    e = data.endpoints
    best = {str(p): present(v) for p, v in zip(e.index, e["best_response"], strict=True)}
    shown = [r for r in RESPONSES if r in ("CR", "CRi", "NR") or r in best.values()]
    shown += sorted({str(v) for v in best.values() if v is not None} - set(shown))
    rows.append(heading("Best response after cycle 1"))
    for r in shown:
        rows.append(
            rate_row(
                r,
                columns,
                {p: None if b is None else b == r for p, b in best.items()},
                what=f"best response {r}",
                sources=_sources(e, "best_response_source"),
                ci_method=ci_method,
                level=level,
                indent=1,
            )
        )
    notes = (
        f"x/N (%) with the {100 * level:g}% confidence interval by the "
        f"{METHOD_LABELS[ci_method]} method; N = patients with a known value.",
        "Cycle 1 = induction (D1 to the day before the next course, at most "
        f"D{data.settings.induction_max_day}); response by the NCCN rules of the criteria engine "
        "or as reported when no marrow data exist (source per cell).",
        "CR with MRD negativity: best response CR and an MRD-negative marrow during induction.",
    )
    return StudyTable(
        id="table-response",
        title="Response to one cycle of venetoclax + blinatumomab",
        columns=("Outcome", *(h for h, _ in columns)),
        rows=tuple(rows),
        notes=notes,
    )


#: Outcomes compared between arms, in order.
COMPARED = (
    "mrd_d14_21",
    "cr_cri",
    "cr_mrd",
    "crs_any",
    "crs_3",
    "icans_any",
    "neutropenia_3_4",
    "thrombocytopenia_3_4",
    "febrile_neutropenia",
    "platelet_tx",
    "rbc_tx",
)


def build_comparison_table(data: StudyData, level: float) -> StudyTable:
    """Concurrent vs sequential: counts per arm, Fisher's exact p and the conditional MLE odds
    ratio with its ``level`` interval (R ``fisher.test``), for each outcome of :data:`COMPARED`."""
    outcomes = compute_binary_outcomes(data)
    arms = data.arms[:2]
    headers = [f"{code.capitalize()} (n={len(ids)})" for code, ids in arms]
    columns = [(h, ids) for h, (_c, ids) in zip(headers, arms, strict=True)]
    rows = []
    for key in COMPARED:
        o = outcomes[key]
        counts = rate_row(o.label, columns, o.values, sources=o.sources).cells
        rows.append(Row(label=o.label, cells=(*counts, *_fisher_cells(o, arms, level))))
    a, b = (code for code, _ in arms)
    return StudyTable(
        id="table-arm-comparison",
        title=f"Key outcomes by arm: {a} vs {b}",
        columns=(
            "Outcome",
            *headers,
            f"Odds ratio ({100 * level:g}% CI)",
            "p (Fisher, two-sided)",
        ),
        rows=tuple(rows),
        notes=(
            f"Odds ratio of {a} vs {b}: conditional maximum-likelihood estimate with its exact "
            f"{100 * level:g}% interval, and two-sided p of Fisher's exact test, as R "
            "fisher.test (bvall.stats.compute_fisher_exact). Patients with an unknown value "
            "are left out of both.",
            "Not estimable: an arm with no patient of known value, or an outcome that no or "
            "every patient had (the 2 × 2 table has an empty margin).",
        ),
    )


def _fisher_cells(o: Outcome, arms: list[tuple[str, list[str]]], level: float) -> tuple[Cell, Cell]:
    table = []
    for _code, ids in arms:
        known = [p for p in ids if o.values.get(p) is not None]
        yes = sum(1 for p in known if o.values[p])
        table.append([yes, len(known) - yes])
    flat = f"[[{table[0][0]}, {table[0][1]}], [{table[1][0]}, {table[1][1]}]]"
    margins = [sum(r) for r in table] + [table[0][0] + table[1][0], table[0][1] + table[1][1]]
    if any(m == 0 for m in margins):
        why = f"{o.label}: 2 × 2 table {flat} has an empty margin; no test or odds ratio."
        return text_cell(NOT_ESTIMABLE, why), text_cell(NOT_ESTIMABLE, why)
    src = combine_sources(
        o.sources.get(p, "") for _c, ids in arms for p in ids if o.values.get(p) is not None
    )
    r = compute_fisher_exact(table, level=level)
    assert r.odds_ratio is not None
    assert r.conf_int is not None
    lo, hi = r.conf_int
    or_text = f"{_or(r.odds_ratio)} ({_or(lo)}–{_or(hi)})"
    prov = (
        f"{o.label}: table {flat} (rows: arms; columns: yes, no); R fisher.test conditional MLE "
        f"odds ratio {r.odds_ratio:.6g}, {100 * level:g}% CI {lo:.6g}–{hi:.6g}"
    )
    return (
        Cell(text=or_text, value=r.odds_ratio, provenance=prov + ".", source=src),
        Cell(
            text=_p(r.p_value),
            value=r.p_value,
            provenance=f"{o.label}: table {flat}; two-sided p = {r.p_value:.6g} ({r.method}).",
            source=src,
        ),
    )


def _or(v: float) -> str:
    if v == float("inf"):
        return "∞"
    return f"{v:.2f}"


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
