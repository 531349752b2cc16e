"""Table 1: baseline characteristics, by arm (``table1-baseline``).

Values are as recorded in the cohort (``patients``, ``labs``, ``marrow_assessments``,
``genetic_findings``); the NCCN risk group is derived (``derive(cohort, "risk")``). Laboratory
values are converted to each test's canonical unit through :mod:`bvall.cohort.units`; a value in
a unit the table does not know, or a censored value (``<``/``>``), counts as missing and is named
in the analysis warnings.

Which lab value is the baseline: the value at a named time point, in the order given by
:data:`BASELINE_TIMEPOINTS` (the paper's Table 1 takes WBC "prior to pretreatment", i.e. at
diagnosis, and haemoglobin and platelets "pretreatment", Table 3); without one, the value of the
latest study day on or before day 0 (before D1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from bvall.analysis.model import Cell, Row, StudyTable
from bvall.analysis.tables.cells import heading, rate_row, summary_row
from bvall.analysis.tables.data import StudyData, is_missing, present
from bvall.cohort.units import lab_test
from bvall.cohort.vocab import vocabulary
from bvall.errors import UnknownUnitError

#: Named lab time points in order of preference, per test.
BASELINE_TIMEPOINTS: dict[str, tuple[str, ...]] = {
    "wbc": ("diagnosis", "pretreatment", "baseline_d1"),
    "hemoglobin": ("pretreatment", "baseline_d1", "diagnosis"),
    "platelets": ("pretreatment", "baseline_d1", "diagnosis"),
}


def compute_baseline_labs(labs: pd.DataFrame, test: str, warnings: list[str]) -> dict[str, float]:
    """Baseline value of ``test`` per patient, in the test's canonical unit (module docstring)."""
    spec = lab_test(test)
    rows = labs[labs["test"] == test]
    out: dict[str, float] = {}
    for pid, group in rows.groupby("patient_id", sort=True):
        chosen = None
        for tp in BASELINE_TIMEPOINTS[test]:
            hit = group[group["timepoint"] == tp]
            if len(hit):
                chosen = hit.iloc[0]
                break
        if chosen is None:
            before = group[group["study_day"].notna() & (group["study_day"] <= 0)]
            if len(before):
                chosen = before.sort_values("study_day").iloc[-1]
        if chosen is None:
            continue
        if not is_missing(chosen["qualifier"]):
            warnings.append(
                f"{pid}: baseline {spec.name} is censored ({chosen['qualifier']}"
                f"{chosen['value']:g} {chosen['unit']}); counted as missing in Table 1."
            )
            continue
        try:
            out[str(pid)] = spec.to_canonical(float(chosen["value"]), str(chosen["unit"]))
        except UnknownUnitError as exc:
            warnings.append(f"{pid}: baseline {spec.name} counted as missing in Table 1: {exc}")
    return out


def _category_rows(
    label: str,
    data: StudyData,
    values: Mapping[str, object],
    vocab: str | None,
    *,
    categories: list[tuple[str, str]] | None = None,
    sources: Mapping[str, str] | None = None,
    show_empty: bool = True,
) -> list[Row]:
    """A heading and one n (%) row per category; patients without a value are missing."""
    if categories is None:
        assert vocab is not None
        categories = [(t.code, t.label) for t in vocabulary(vocab).terms]
    columns = data.columns()
    if all(is_missing(v) for v in values.values()):
        # Nothing recorded: one row saying so, not a row of 0/0 per category.
        return [
            Row(
                label=f"{label}: not recorded",
                cells=tuple(
                    Cell(
                        text=f"not recorded; missing {len(ids)}",
                        value=None,
                        provenance=f"{label}: no patient of the column has a value.",
                    )
                    for _h, ids in columns
                ),
            )
        ]
    rows = [heading(label)]
    for code, text in categories:
        outcome = {p: (None if is_missing(v) else v == code) for p, v in values.items()}
        if not show_empty and not any(outcome.values()):
            continue
        rows.append(
            rate_row(
                text,
                columns,
                outcome,
                what=f"{label}: {text}",
                sources=sources,
                style="n",
                indent=1,
            )
        )
    return rows


def _column(data: StudyData, table: str, column: str) -> dict[str, object]:
    frame = data.cohort.frame(table)
    return {str(p): present(v) for p, v in zip(frame["patient_id"], frame[column], strict=True)}


def build_baseline_table(data: StudyData, warnings: list[str]) -> StudyTable:
    """Table 1 of the seed paper from any cohort (see the module docstring)."""
    columns = data.columns()
    ids = data.patient_ids
    # patient-level values recorded in this database: not marked as reported by a source
    recorded: dict[str, str] = dict.fromkeys(ids, "")
    rows: list[Row] = []

    ages = _column(data, "patients", "age_years")
    rows.append(
        summary_row(
            "Age, years, median (range)",
            columns,
            {p: _num(v) for p, v in ages.items()},
            what="age at diagnosis (years)",
            unit="years",
            sources=recorded,
        )
    )
    rows += _category_rows(
        "Sex, n (%)",
        data,
        _column(data, "patients", "sex"),
        "sex",
        sources=recorded,
        categories=[("M", "Male"), ("F", "Female"), ("U", "Unknown")],
        show_empty=False,
    )

    labs = data.cohort.frame("labs")
    marrow = data.cohort.frame("marrow_assessments")
    dx = marrow[marrow["timepoint"] == "diagnosis"].drop_duplicates("patient_id")
    lab_rows: list[tuple[str, str, Callable[[], dict[str, float]], str]] = [
        (
            f"WBC at diagnosis, {_unit('wbc')}",
            "white blood cell count at diagnosis",
            lambda: compute_baseline_labs(labs, "wbc", warnings),
            lab_test("wbc").canonical_unit,
        ),
        (
            f"Haemoglobin before treatment, {_unit('hemoglobin')}",
            "haemoglobin before treatment",
            lambda: compute_baseline_labs(labs, "hemoglobin", warnings),
            lab_test("hemoglobin").canonical_unit,
        ),
        (
            f"Platelets before treatment, {_unit('platelets')}",
            "platelet count before treatment",
            lambda: compute_baseline_labs(labs, "platelets", warnings),
            lab_test("platelets").canonical_unit,
        ),
        (
            "Marrow blasts at diagnosis (morphology), %",
            "marrow blasts at diagnosis by morphology",
            lambda: _marrow(dx, "blasts_percent"),
            "%",
        ),
        (
            "Marrow blasts at diagnosis (flow cytometry), %",
            "marrow blasts at diagnosis by flow cytometry",
            lambda: _marrow(dx, "flow_blasts_percent"),
            "%",
        ),
    ]
    rows.append(heading("Blood counts and marrow, median (range)"))
    for label, what, values, unit in lab_rows:
        rows.append(
            summary_row(
                label, columns, dict(values()), what=what, unit=unit, sources=recorded, indent=1
            )
        )

    ecog = _column(data, "patients", "ecog")
    if any(v is not None for v in ecog.values()):
        rows += _category_rows(
            "ECOG performance status, n (%)",
            data,
            {p: None if v is None else str(v) for p, v in ecog.items()},
            None,
            categories=[(str(g), str(g)) for g in range(5)],
            sources=recorded,
        )
    rows += _category_rows(
        "CNS status, n (%)",
        data,
        _column(data, "patients", "cns_status"),
        "cns_status",
        sources=recorded,
    )
    cd19 = _column(data, "patients", "cd19_positive")
    rows.append(heading("Immunophenotype, n (%)"))
    rows.append(
        rate_row(
            "CD19 positive (flow cytometry)",
            columns,
            {p: None if v is None else bool(v) for p, v in cd19.items()},
            sources=recorded,
            style="n",
            indent=1,
        )
    )
    rows += _category_rows(
        "Karyotype, n (%)",
        data,
        _column(data, "patients", "karyotype"),
        "karyotype",
        sources=recorded,
    )
    rows += _lesion_rows(data)
    risk = data.frame("risk")
    groups = {
        str(p): (None if is_missing(g) or g == "unknown" else str(g))
        for p, g in zip(risk["patient_id"], risk["risk_group"], strict=True)
    }
    rows += _category_rows(
        "NCCN cytogenetic and molecular risk, n (%)",
        data,
        groups,
        None,
        categories=[("standard", "Standard"), ("poor", "Poor")],
        sources=dict.fromkeys(groups, "derived"),
    )
    notes = (
        "Data are median (range) or n (%); percentages of the patients with a known value; "
        "'missing m' counts patients of the column with no value.",
        "Laboratory values in each test's canonical unit (bvall.cohort.units). Baseline = the "
        "value at the named time point (WBC: diagnosis; haemoglobin and platelets: "
        "pretreatment), else the latest value on or before day 0.",
        "NCCN risk group derived by the criteria engine (nccn_risk); other rows as recorded.",
        "Lesions: patients with the lesion among patients whose profiling was performed or "
        "who have a recorded finding.",
    )
    return StudyTable(
        id="table1-baseline",
        title="Table 1. Patient demographics and baseline characteristics",
        columns=("Characteristic", *(h for h, _ in columns)),
        rows=tuple(rows),
        notes=notes,
    )


def _unit(test: str) -> str:
    """The canonical unit of a lab test as printed (``10^9/L`` as ×10⁹/L)."""
    return lab_test(test).canonical_unit.replace("10^9/L", "×10⁹/L")


def _num(v: object) -> float | None:
    return None if v is None else float(v)  # type: ignore[arg-type]


def _marrow(dx: pd.DataFrame, column: str) -> dict[str, float]:
    return {
        str(p): float(v)
        for p, v in zip(dx["patient_id"], dx[column], strict=True)
        if not is_missing(v)
    }


def _lesion_rows(data: StudyData) -> list[Row]:
    findings = data.cohort.frame("genetic_findings")
    profiling = _column(data, "patients", "genetic_profiling")
    with_finding = set(findings["patient_id"])
    known = {p for p in data.patient_ids if profiling.get(p) == "performed" or p in with_finding}
    labels = {t.code: t.label for t in vocabulary("genetic_lesion").terms}
    order = [t.code for t in vocabulary("genetic_lesion").terms]
    present_lesions = sorted(set(findings["lesion"]), key=order.index)
    if not present_lesions:
        return []
    rows = [heading("Cytogenetic and molecular lesions, n (%)")]
    for lesion in present_lesions:
        carriers = set(findings.loc[findings["lesion"] == lesion, "patient_id"])
        outcome = {p: (p in carriers) if p in known else None for p in data.patient_ids}
        rows.append(
            rate_row(
                labels.get(lesion, lesion),
                data.columns(),
                outcome,
                what=f"lesion {lesion}",
                sources=dict.fromkeys(data.patient_ids, ""),
                style="n",
                indent=1,
            )
        )
    return rows
