"""SDTM findings: LB, VS and CP.

Values are as recorded in the cohort; standard units come from the one conversion table
(:mod:`bvall.cohort.units`), toxicity grades from the criteria engine (``derive(cohort,
"grades")``), controlled terms from ``data/terminology.toml``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bvall.cohort.units import lab_test
from bvall.errors import SpecError
from bvall.interop.cdisc.sdtm_interventions import identifiers
from bvall.interop.cdisc.spec import frame_of, load_terminology
from bvall.interop.cdisc.study import Study, add_sequence, is_missing, iso_dtc, records, sdtm_day
from bvall.interop.cdisc.terminology import cdisc_unit, visit_of


def format_value(x: Any) -> str:
    """A number as result text: integers without a decimal point, others in full (repr)."""
    if is_missing(x):
        return ""
    f = float(x)
    return str(int(f)) if f.is_integer() else repr(f)


def _key(*parts: Any) -> tuple[str, ...]:
    return tuple("" if is_missing(x) else str(x) for x in parts)


def _lab_grades(study: Study) -> dict[tuple[str, ...], dict[str, Any]]:
    """Per lab value (patient, test, day, time, time point, value): the engine's highest grade
    for that value and whether it is the baseline of its test."""
    g = study.derived("grades")
    g = g[g["kind"] == "lab"]
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in records(g):
        day = None if is_missing(r.day) else int(r.day)
        key = _key(r.patient_id, r.test, day, r.time, r.timepoint, float(r.value))
        grade = None if is_missing(r.grade) else int(r.grade)
        base = not is_missing(r.baseline_day) and day is not None and int(r.baseline_day) == day
        have = out.get(key)
        if have is None or (grade is not None and (have["grade"] is None or grade > have["grade"])):
            out[key] = {
                "grade": grade,
                "term": r.term,
                "baseline": base or bool(have and have["baseline"]),
            }
        elif base:
            have["baseline"] = True
    return out


def build_lb(study: Study) -> pd.DataFrame:
    """LB: every lab value as reported and in its standard unit, with the CTCAE grade the
    criteria engine gives it (the highest, when a value is graded for two terms), and the
    marrow blast percentage by morphology (LBSPEC BONE MARROW)."""
    tests = load_terminology()["lab_test"]
    grades = _lab_grades(study)
    rows: list[dict[str, Any]] = []
    baseline_done: set[tuple[str, str]] = set()
    for r in records(study.frame("labs")):
        if r.test not in tests:
            raise SpecError(f"Lab test {r.test!r} has no LBTESTCD in terminology.toml [lab_test].")
        ct, spec = tests[r.test], lab_test(r.test)
        day = study.bvall_day(r.patient_id, r.study_day, r.date)
        std = spec.to_canonical(float(r.value), str(r.unit))
        lo = None if is_missing(r.ref_low) else spec.to_canonical(float(r.ref_low), str(r.unit))
        hi = None if is_missing(r.ref_high) else spec.to_canonical(float(r.ref_high), str(r.unit))
        censored = not is_missing(r.qualifier)
        qual = str(r.qualifier) if censored else ""
        nrind = ""
        if not censored:
            if lo is not None and std < lo:
                nrind = "LOW"
            elif hi is not None and std > hi:
                nrind = "HIGH"
            elif lo is not None or hi is not None:
                nrind = "NORMAL"
        graded = grades.get(_key(r.patient_id, r.test, day, r.time, r.timepoint, float(r.value)))
        blfl = ""
        if graded and graded["baseline"] and (r.patient_id, r.test) not in baseline_done:
            blfl = "Y"
            baseline_done.add((r.patient_id, r.test))
        visitnum, visit = visit_of(r.timepoint, sdtm_day(day))
        rows.append(
            {
                **identifiers(study, "LB", r.patient_id),
                "LBTESTCD": ct["testcd"],
                "LBTEST": ct["test"],
                "LBCAT": ct["cat"],
                "LBSPEC": "BLOOD",
                "LBORRES": qual + format_value(r.value),
                "LBORRESU": cdisc_unit(r.unit),
                "LBORNRLO": format_value(r.ref_low),
                "LBORNRHI": format_value(r.ref_high),
                "LBSTRESC": qual + format_value(std),
                "LBSTRESN": None if censored else std,
                "LBSTRESU": cdisc_unit(spec.canonical_unit),
                "LBSTNRLO": lo,
                "LBSTNRHI": hi,
                "LBNRIND": nrind,
                "LBTOX": graded["term"] if graded and graded["grade"] is not None else "",
                "LBTOXGR": "" if not graded or graded["grade"] is None else str(graded["grade"]),
                "LBLOBXFL": blfl,
                "VISITNUM": visitnum,
                "VISIT": visit,
                "LBDTC": iso_dtc(r.date, r.time),
                "LBDY": sdtm_day(day),
            }
        )
    marrow_ct = load_terminology()["marrow_test"]["blasts_morphology"]
    for m in records(study.frame("marrow_assessments")):
        if is_missing(m.blasts_percent):
            continue
        day = study.bvall_day(m.patient_id, m.study_day, m.date)
        visitnum, visit = visit_of(m.timepoint, sdtm_day(day))
        rows.append(
            {
                **identifiers(study, "LB", m.patient_id),
                "LBTESTCD": marrow_ct["testcd"],
                "LBTEST": marrow_ct["test"],
                "LBCAT": "HEMATOLOGY",
                "LBSPEC": "BONE MARROW",
                "LBORRES": format_value(m.blasts_percent),
                "LBORRESU": "%",
                "LBSTRESC": format_value(m.blasts_percent),
                "LBSTRESN": m.blasts_percent,
                "LBSTRESU": "%",
                "VISITNUM": visitnum,
                "VISIT": visit,
                "LBDTC": iso_dtc(m.date),
                "LBDY": sdtm_day(day),
            }
        )
    return add_sequence(
        frame_of(rows, "LB"), "LBSEQ", ["USUBJID", "VISITNUM", "LBDTC", "LBSPEC", "LBTESTCD"]
    )


def build_vs(study: Study) -> pd.DataFrame:
    """VS: each vital sign of the vitals table, and weight and height at enrolment."""
    signs = load_terminology()["vital_sign"]
    rows = []
    vitals = study.frame("vitals")
    for r in records(vitals):
        day = study.bvall_day(r.patient_id, r.study_day, r.date)
        for column, ct in signs.items():
            if column not in vitals.columns:
                continue
            v = getattr(r, column)
            if is_missing(v):
                continue
            rows.append(_vs_row(study, r.patient_id, ct, v, iso_dtc(r.date, r.time), day))
    for p in records(study.frame("patients")):
        day = study.day_of_date(p.patient_id, p.enrolment_date)
        for column in ("weight_kg", "height_cm"):
            v = getattr(p, column)
            if not is_missing(v):
                rows.append(
                    _vs_row(study, p.patient_id, signs[column], v, iso_dtc(p.enrolment_date), day)
                )
    return add_sequence(frame_of(rows, "VS"), "VSSEQ", ["USUBJID", "VSDY", "VSDTC", "VSTESTCD"])


def _vs_row(
    study: Study, pid: Any, ct: dict[str, str], v: Any, dtc: str, day: int | None
) -> dict[str, Any]:
    return {
        **identifiers(study, "VS", pid),
        "VSTESTCD": ct["testcd"],
        "VSTEST": ct["test"],
        "VSORRES": format_value(v),
        "VSORRESU": ct["unit"],
        "VSSTRESC": format_value(v),
        "VSSTRESN": float(v),
        "VSSTRESU": ct["unit"],
        "VSDTC": dtc,
        "VSDY": sdtm_day(day),
    }


def build_cp(study: Study) -> pd.DataFrame:
    """CP: marrow MRD (status, level and sensitivity in %) and blasts by flow cytometry.

    MRD is a cell-phenotype finding by flow cytometry, so it goes to the SDTMIG 3.4 Cell
    Phenotype domain rather than MB (micro-organisms) or a custom domain (docs/cdisc.md).
    """
    term = load_terminology()
    tests, methods, statuses = term["marrow_test"], term["mrd_method"], term["mrd_status"]
    rows = []
    for m in records(study.frame("marrow_assessments")):
        day = sdtm_day(study.bvall_day(m.patient_id, m.study_day, m.date))
        visitnum, visit = visit_of(m.timepoint, day)
        when = {"VISITNUM": visitnum, "VISIT": visit, "CPDTC": iso_dtc(m.date), "CPDY": day}
        method = "" if is_missing(m.mrd_method) else methods[str(m.mrd_method)]
        if not is_missing(m.mrd_status) or not is_missing(m.mrd_level):
            level = None if is_missing(m.mrd_level) else 100 * float(m.mrd_level)
            status = "" if is_missing(m.mrd_status) else statuses[str(m.mrd_status)]
            result = format_value(level) if level is not None and status != "NEGATIVE" else status
            rows.append(
                {
                    **identifiers(study, "CP", m.patient_id),
                    "CPTESTCD": tests["mrd"]["testcd"],
                    "CPTEST": tests["mrd"]["test"],
                    "CPORRES": result,
                    "CPORRESU": "%" if level is not None and status != "NEGATIVE" else "",
                    "CPSTRESC": result,
                    "CPSTRESN": level if status != "NEGATIVE" else None,
                    "CPSTRESU": "%" if level is not None and status != "NEGATIVE" else "",
                    "CPSPEC": "BONE MARROW",
                    "CPMETHOD": method,
                    "CPLLOQ": None
                    if is_missing(m.mrd_sensitivity)
                    else 100 * float(m.mrd_sensitivity),
                    **when,
                }
            )
        if not is_missing(m.flow_blasts_percent):
            rows.append(
                {
                    **identifiers(study, "CP", m.patient_id),
                    "CPTESTCD": tests["flow_blasts"]["testcd"],
                    "CPTEST": tests["flow_blasts"]["test"],
                    "CPORRES": format_value(m.flow_blasts_percent),
                    "CPORRESU": "%",
                    "CPSTRESC": format_value(m.flow_blasts_percent),
                    "CPSTRESN": float(m.flow_blasts_percent),
                    "CPSTRESU": "%",
                    "CPSPEC": "BONE MARROW",
                    "CPMETHOD": "FLOW CYTOMETRY",
                    "CPLLOQ": None,
                    **when,
                }
            )
    return add_sequence(frame_of(rows, "CP"), "CPSEQ", ["USUBJID", "VISITNUM", "CPTESTCD"])
