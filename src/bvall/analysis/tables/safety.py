"""Safety tables: adverse events (``table-adverse-events``), CRS/ICANS/TLS
(``table-crs-icans``) and transfusions and cytopenia (``table-transfusion``).

Worst grade per patient and term comes from ``derive(cohort, "endpoints")`` for the terms of the
seed paper's Table 4 (which applies the cohort's declaration of complete reporting: no report of
a completely reported term is grade 0) and from ``derive(cohort, "worst_grades")`` for every
other graded term. A patient with a reported event of unknown grade counts for "any grade" and
is missing for the grade bands.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from bvall.analysis.model import Cell, Row, StudyTable
from bvall.analysis.tables.cells import (
    count_cell,
    heading,
    rate_row,
    summary_row,
    text_cell,
)
from bvall.analysis.tables.data import StudyData, is_missing, present
from bvall.criteria.columns import AE_COLUMNS
from bvall.criteria.plans import complete_terms

#: Haematological CTCAE terms (shown first, as the seed paper's Table 4).
HAEMATOLOGICAL = (
    "neutrophil_count_decreased",
    "anemia",
    "platelet_count_decreased",
    "white_blood_cell_decreased",
    "lymphocyte_count_decreased",
)

#: The seed paper's names for the terms of its Table 4.
PAPER_NAMES = {
    "neutrophil_count_decreased": "neutropenia",
    "anemia": "anaemia",
    "platelet_count_decreased": "thrombocytopenia",
    "transaminases_increased": "transaminase elevation",
    "fibrinogen_decreased": "hypofibrinogenaemia",
    "lung_infection": "pneumonia",
}

#: Grade bands: column suffix and the grades it counts.
BANDS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("any grade", (1, 2, 3, 4, 5)),
    ("grade 3–4", (3, 4)),
    ("grade 5", (5,)),
)


def _term_grades(
    data: StudyData,
) -> dict[str, tuple[str, dict[str, float | None], dict[str, bool], dict[str, str]]]:
    """Per term id: (term name, worst grade per patient, event reported per patient, sources)."""
    w = data.frame("worst_grades")
    e = data.endpoints
    pids = data.patient_ids
    names = {str(t): str(n) for t, n in zip(w["term_id"], w["term"], strict=True)}
    events: dict[str, dict[str, bool]] = {}
    for t, p, n in zip(w["term_id"], w["patient_id"], w["reported_events"], strict=True):
        events.setdefault(str(t), {})[str(p)] = not is_missing(n) and int(n) > 0
    out: dict[str, tuple[str, dict[str, float | None], dict[str, bool], dict[str, str]]] = {}
    for prefix, term_id in AE_COLUMNS.items():
        name = names.get(term_id, term_id.replace("_", " ").capitalize())
        out[term_id] = (
            name,
            {p: _grade(e.at[p, f"{prefix}_max_grade"]) for p in pids},
            events.get(term_id, {}),
            {p: str(e.at[p, f"{prefix}_max_grade_source"]) for p in pids},
        )
    complete = complete_terms(data.cohort)
    for tid, group in w.groupby("term_id", sort=True):
        term_id = str(tid)
        if term_id in out:
            continue
        rows = {str(p): r for p, r in zip(group["patient_id"], group.itertuples(), strict=True)}
        name = str(group["term"].iloc[0])
        derived_any = (group["worst_grade_source"] == "derived").any()
        grades: dict[str, float | None] = {}
        src: dict[str, str] = {}
        for p in pids:
            r = rows.get(p)
            if r is not None:
                grades[p] = _grade(r.worst_grade)
                src[p] = str(r.worst_grade_source)
            elif not derived_any and name in complete:
                grades[p], src[p] = 0.0, "reported"
            else:
                grades[p], src[p] = None, "missing"
        out[term_id] = (name, grades, events.get(term_id, {}), src)
    return out


def _grade(v: object) -> float | None:
    v = present(v)
    return None if v is None else float(v)  # type: ignore[arg-type]


def _band(grade: float | None, event: bool, grades: tuple[int, ...]) -> bool | None:
    if grade is None:
        return True if (event and 1 in grades) else None
    if grade == 0 and event and 1 in grades:
        return True
    return grade in grades


def build_adverse_event_table(data: StudyData, notes_out: list[str] | None = None) -> StudyTable:
    """Worst grade per patient and CTCAE term: any grade, grade 3–4 (and grade 5 if any)."""
    terms = _term_grades(data)
    has_g5 = any(g == 5 for _n, gr, _e, _s in terms.values() for g in gr.values())
    bands = [b for b in BANDS if b[0] != "grade 5" or has_g5]
    columns = data.columns()
    headers = [f"{h}: {band}" for h, _ in columns for band, _g in bands]
    silent: list[str] = []
    reported_only: list[str] = []
    sections: dict[bool, list[Row]] = {True: [], False: []}
    for term_id, (name, grades, events, src) in terms.items():
        quiet = not any((g or 0) >= 1 for g in grades.values()) and not any(events.values())
        if quiet and term_id not in AE_COLUMNS.values():
            if any(g is not None for g in grades.values()):
                silent.append(name)
            continue
        label = name + (f" ({PAPER_NAMES[term_id]})" if term_id in PAPER_NAMES else "")
        cells: list[Cell] = []
        unknown_denominator = (
            all(s != "derived" for s in src.values())
            and all(g is None or g >= 1 for g in grades.values())
            and term_id not in AE_COLUMNS.values()
        )
        for _h, ids in columns:
            for band, band_grades in bands:
                if unknown_denominator:
                    yes = [
                        p for p in ids if _band(grades.get(p), events.get(p, False), band_grades)
                    ]
                    cells.append(
                        Cell(
                            text=f"{len(yes)} reported",
                            value=len(yes),
                            provenance=f"{name}, {band}: {len(yes)} patients with a reported "
                            "event; the cohort does not declare this term completely reported, "
                            "so there is no denominator.",
                            patients=tuple(yes),
                            source="reported",
                        )
                    )
                    continue
                outcome = {p: _band(grades.get(p), events.get(p, False), band_grades) for p in ids}
                known = [p for p in ids if outcome[p] is not None]
                cells.append(
                    count_cell(
                        [p for p in known if outcome[p]],
                        known,
                        len(ids) - len(known),
                        what=f"{name}, {band} (worst grade per patient)",
                        sources=src,
                        style="n",
                    )
                )
        if unknown_denominator:
            reported_only.append(name)
        sections[term_id in HAEMATOLOGICAL].append(Row(label=label, cells=tuple(cells), indent=1))
    rows = [
        heading("Haematological"),
        *sections[True],
        heading("Non-haematological"),
        *sections[False],
    ]
    notes = [
        "n (%) of patients by worst CTCAE v5.0 grade during induction; % of patients with a "
        "known grade; 'missing m': patients with no graded value and no report of the term.",
        "Source per cell: derived (graded by the criteria engine from labs and vital signs), "
        "reported (the grade the source reported), or mixed.",
        "CRS and ICANS are in table-crs-icans.",
    ]
    if silent:
        notes.append("Graded, no patient with grade ≥ 1: " + ", ".join(sorted(silent)) + ".")
    if reported_only:
        notes.append(
            "Reported only, without a denominator: " + ", ".join(sorted(reported_only)) + "."
        )
    return StudyTable(
        id="table-adverse-events",
        title="Adverse events during induction (worst grade per patient)",
        columns=("Adverse event", *headers),
        rows=tuple(rows),
        notes=tuple(notes),
    )


def _grade_rows(
    label: str, data: StudyData, column: str, columns: list[tuple[str, list[str]]]
) -> list[Row]:
    e = data.endpoints
    grades = {p: _grade(e.at[p, column]) for p in data.patient_ids}
    src = {p: str(e.at[p, f"{column}_source"]) for p in data.patient_ids}
    rows = [heading(label)]
    for g in range(5):
        rows.append(
            rate_row(
                f"Grade {g}",
                columns,
                {p: None if v is None else v == g for p, v in grades.items()},
                what=f"{label}, grade {g}",
                sources=src,
                style="n",
                indent=1,
            )
        )
    return rows


def _episode_rows(
    name: str,
    episodes: pd.DataFrame,
    graded: Mapping[str, float | None],
    columns: list[tuple[str, list[str]]],
) -> list[Row]:
    """Onset, duration and management of the first episode per patient with an episode."""
    with_event = [p for p, g in graded.items() if g is not None and g >= 1]
    if not with_event:
        return []
    width = len(columns)
    if episodes.empty:
        why = (
            f"not computable: no episode-level {name} data (vital signs / neurological "
            "assessments); grades as reported"
        )
        return [
            Row(
                f"{name} onset, duration, management",
                tuple(text_cell(why) for _ in range(width)),
                indent=1,
            )
        ]
    first = episodes.sort_values(["patient_id", "episode"]).drop_duplicates("patient_id")
    first = first.set_index("patient_id")
    ep_cols = [(h, [p for p in ids if p in first.index]) for h, ids in columns]
    sources = dict.fromkeys(first.index, "derived")
    rows = [
        summary_row(
            f"{name} onset, study day, median (range)",
            ep_cols,
            {p: _grade(first.at[p, "onset_day"]) for p in first.index},
            unit="study day",
            sources=sources,
            indent=1,
        ),
        summary_row(
            f"{name} duration, hours, median (range)",
            ep_cols,
            {p: _grade(first.at[p, "duration_hours"]) for p in first.index},
            unit="hours",
            sources=sources,
            indent=1,
        ),
    ]
    by_patient = episodes.groupby("patient_id")
    dexa = {str(p): bool((g["dexamethasone_mg"].fillna(0) > 0).any()) for p, g in by_patient}
    rows.append(
        rate_row(f"{name} treated with dexamethasone", ep_cols, dexa, sources=sources, indent=1)
    )
    if "tocilizumab_given" in episodes.columns:
        toci = {
            str(p): bool(g["tocilizumab_given"].fillna(False).astype(bool).any())
            for p, g in by_patient
        }
        rows.append(
            rate_row(f"{name} treated with tocilizumab", ep_cols, toci, sources=sources, indent=1)
        )
    return rows


def build_crs_icans_table(data: StudyData) -> StudyTable:
    """CRS and ICANS by maximum grade (ASTCT 2019), episodes and management, and TLS."""
    columns = data.columns()
    e = data.endpoints
    rows = _grade_rows("CRS, maximum grade (ASTCT)", data, "crs_max_grade", columns)
    crs_grades = {p: _grade(e.at[p, "crs_max_grade"]) for p in data.patient_ids}
    rows += _episode_rows("CRS", data.frame("crs"), crs_grades, columns)
    rows += _grade_rows("ICANS, maximum grade (ASTCT)", data, "icans_max_grade", columns)
    icans_grades = {p: _grade(e.at[p, "icans_max_grade"]) for p in data.patient_ids}
    rows += _episode_rows("ICANS", data.frame("icans"), icans_grades, columns)
    tls = data.frame("tls")
    criteria = str(tls["criteria"].iloc[0]) if len(tls) else data.settings.tls_criteria
    rows.append(heading(f"Tumour lysis syndrome ({criteria})"))
    for column, label in (("laboratory_tls", "Laboratory TLS"), ("clinical_tls", "Clinical TLS")):
        values = {
            str(p): (None if is_missing(v) else bool(v))
            for p, v in zip(tls["patient_id"], tls[column], strict=True)
        }
        rows.append(
            rate_row(
                label,
                columns,
                values,
                sources={p: ("derived" if v is not None else "missing") for p, v in values.items()},
                indent=1,
            )
        )
    return StudyTable(
        id="table-crs-icans",
        title="Cytokine release syndrome, ICANS and tumour lysis syndrome during induction",
        columns=("Event", *(h for h, _ in columns)),
        rows=tuple(rows),
        notes=(
            "Maximum grade per patient, n (%) of patients with a known grade; derived from vital "
            "signs and neurological assessments (ASTCT 2019) or as reported.",
            "Onset, duration and management: the first episode of each patient with one; onset "
            "as study day (D1 = first induction dose).",
            "TLS: laboratory and clinical TLS by the criteria engine; missing when the analytes "
            "were not measured in the window.",
        ),
    )


def build_transfusion_table(data: StudyData) -> StudyTable:
    """Patients transfused and units (median, range, among the transfused); days with
    ANC < 0.5 ×10⁹/L and with platelets < 20 ×10⁹/L (median, range)."""
    columns = data.columns()
    e = data.endpoints
    rows: list[Row] = []
    for product, column in (("Platelet", "platelet_units"), ("Red-cell", "rbc_units")):
        units = {p: _grade(e.at[p, column]) for p in data.patient_ids}
        src = {p: str(e.at[p, f"{column}_source"]) for p in data.patient_ids}
        rows.append(heading(f"{product} transfusion"))
        rows.append(
            rate_row(
                "Patients transfused, n/N (%)",
                columns,
                {p: None if u is None else u > 0 for p, u in units.items()},
                what=f"{product.lower()} transfusion during induction",
                sources=src,
                indent=1,
            )
        )
        rows.append(
            summary_row(
                "Units among the transfused, median (range)",
                [(h, [p for p in ids if (units[p] or 0) > 0]) for h, ids in columns],
                units,
                what=f"{product.lower()} units during induction, transfused patients",
                unit="units",
                sources=src,
                indent=1,
            )
        )
    rows.append(heading("Cytopenia, days during induction, median (range)"))
    for label, column in (
        ("Days with ANC < 0.5 ×10⁹/L", "days_anc_below_0_5"),
        ("Days with platelets < 20 ×10⁹/L", "days_plt_below_20"),
    ):
        rows.append(
            summary_row(
                label,
                columns,
                {p: _grade(e.at[p, column]) for p in data.patient_ids},
                unit="days",
                sources={p: str(e.at[p, f"{column}_source"]) for p in data.patient_ids},
                indent=1,
            )
        )
    mode = data.settings.below_threshold_days
    return StudyTable(
        id="table-transfusion",
        title="Transfusions and cytopenia during induction",
        columns=("Measure", *(h for h, _ in columns)),
        rows=tuple(rows),
        notes=(
            "Units as recorded (dated transfusions summed over induction, or the period totals a "
            "source reports).",
            f"Days below a threshold: criteria setting below_threshold_days = {mode!r} "
            "(derived from dated counts), or the day counts the source reports.",
        ),
    )
