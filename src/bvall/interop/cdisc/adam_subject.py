"""ADaM subject-level and laboratory datasets: ADSL and ADLB.

ADSL carries the arm, the population flags and the baseline characteristics of Table 1, each by
the rule Table 1 uses (:mod:`bvall.analysis.tables.baseline` for baseline labs, the criteria
engine for the NCCN risk group). ADLB is one record per lab value and CTCAE term graded by the
criteria engine (``derive(cohort, "grades")``): a test graded in two directions (potassium) is two
parameters. The on-treatment window and the worst grade follow ``derive(cohort,
"worst_grades")``: D1 to the day before the next course (pre-phase excluded), at most
``induction_max_day``; the worst record is the highest grade, earliest day first.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bvall.analysis.tables.baseline import compute_baseline_labs
from bvall.errors import SpecError
from bvall.interop.cdisc.spec import frame_of, load_terminology
from bvall.interop.cdisc.study import (
    Study,
    add_sequence,
    is_missing,
    records,
    rule_ref,
    sas_date,
    sdtm_day,
    yes,
)
from bvall.interop.cdisc.terminology import cdisc_unit, visit_of


def build_adsl(study: Study, sdtm: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """ADSL: one record per subject (module docstring)."""
    dm = sdtm["DM"].set_index("SUBJID")
    patients = study.frame("patients").set_index("patient_id")
    endpoints = study.derived("endpoints").set_index("patient_id")
    risk = study.derived("risk").set_index("patient_id")
    labs = study.frame("labs")
    warnings: list[str] = []
    baseline = {
        t: compute_baseline_labs(labs, t, warnings) for t in ("wbc", "hemoglobin", "platelets")
    }
    marrow = study.frame("marrow_assessments")
    dx = (
        marrow[marrow["timepoint"] == "diagnosis"]
        .drop_duplicates("patient_id")
        .set_index("patient_id")
    )
    treated = set(sdtm["EX"]["USUBJID"])
    lesions = compute_lesion_flags(study)
    rows = []
    for pid in study.cohort.patient_ids:
        d, p, e = dm.loc[pid], patients.loc[pid], endpoints.loc[pid]
        dead = e["death"]
        last_alive = None if (not is_missing(dead) and bool(dead)) else e["last_contact_day"]
        group = risk.at[pid, "risk_group"] if pid in risk.index else None
        rows.append(
            {
                "STUDYID": study.study_id,
                "USUBJID": d["USUBJID"],
                "SUBJID": pid,
                "SITEID": d["SITEID"],
                "AGE": d["AGE"],
                "AGEU": d["AGEU"],
                "SEX": d["SEX"],
                "ARM": d["ARM"],
                "ARMCD": d["ARMCD"],
                "ACTARM": d["ACTARM"],
                "TRT01P": d["ARM"],
                "TRT01A": d["ACTARM"],
                "TRTSDT": sas_date(d["RFXSTDTC"] or None),
                "IND1DT": sas_date(study.d1.get(pid)),
                "TRTEDT": sas_date(d["RFXENDTC"] or None),
                "ITTFL": "Y",
                "SAFFL": "Y" if d["USUBJID"] in treated else "N",
                "EFFFL": "N" if is_missing(e["best_response"]) else "Y",
                "ECOGBL": p["ecog"],
                "CNSSTAT": p["cns_status"],
                "CD19FL": yes(p["cd19_positive"]),
                "KARYOTYP": p["karyotype"],
                "RISKGR": "" if is_missing(group) or group == "unknown" else str(group).upper(),
                **lesions[pid],
                "WBCBL": baseline["wbc"].get(pid),
                "HGBBL": baseline["hemoglobin"].get(pid),
                "PLATBL": baseline["platelets"].get(pid),
                "BMBLBL": dx.at[pid, "blasts_percent"] if pid in dx.index else None,
                "BMFBLBL": dx.at[pid, "flow_blasts_percent"] if pid in dx.index else None,
                "DTHFL": yes(dead),
                "DTHDT": sas_date(study.date_of_day(pid, e["death_day"])),
                "LSTALVDT": sas_date(study.date_of_day(pid, last_alive)),
                "SYNTHFL": "Y" if study.synthetic else "N",
            }
        )
    return frame_of(rows, "ADSL")


def compute_lesion_flags(study: Study) -> dict[str, dict[str, str]]:
    """Per patient, the ADSL flag of every genetic lesion (``terminology.toml [lesion_flag]``):
    ``Y`` carrier, ``N`` known not to carry it (profiling performed, or another finding
    recorded), ``""`` not known — the rule of Table 1's lesion rows."""
    flags = load_terminology()["lesion_flag"]
    findings = study.frame("genetic_findings")
    profiling = study.frame("patients").set_index("patient_id")["genetic_profiling"]
    with_finding = set(findings["patient_id"])
    out = {}
    for pid in study.cohort.patient_ids:
        known = profiling.get(pid) == "performed" or pid in with_finding
        carried = set(findings.loc[findings["patient_id"] == pid, "lesion"])
        out[pid] = {
            var: ("Y" if code in carried else "N") if known else "" for code, var in flags.items()
        }
    return out


def compute_induction_windows(study: Study) -> dict[str, tuple[int, int]]:
    """Per patient (first, last) bvall study day of the induction window (module docstring)."""
    max_day = study.settings.induction_max_day
    courses = study.frame("treatment_courses")
    out: dict[str, tuple[int, int]] = {}
    for pid in study.cohort.patient_ids:
        mine = courses[(courses["patient_id"] == pid) & (courses["course_type"] != "prephase")]
        starts = [study.day_of_date(pid, s) for s in mine["start_date"]]
        later = [s for s in starts if s is not None and s > 1]
        end = min(min(later) - 1, max_day) if later else max_day
        out[pid] = (1, end)
    return out


def build_adlb(study: Study) -> pd.DataFrame:
    """ADLB: CTCAE grades of every lab value with baseline, on-treatment and worst flags."""
    params = load_terminology()["ctcae_param"]
    grades = study.derived("grades")
    grades = grades[grades["kind"] == "lab"]
    windows = compute_induction_windows(study)
    rows: list[dict[str, Any]] = []
    for r in records(grades):
        if r.term_id not in params:
            raise SpecError(
                f"CTCAE term {r.term_id!r} has no ADLB parameter in terminology.toml "
                "[ctcae_param]; add one (at most 8 characters)."
            )
        day = None if is_missing(r.day) else int(r.day)
        first, last = windows[str(r.patient_id)]
        grade = None if is_missing(r.grade) else int(r.grade)
        _num, visit = visit_of(r.timepoint, sdtm_day(day))
        rows.append(
            {
                "STUDYID": study.study_id,
                "USUBJID": study.usubjid(r.patient_id),
                "PARAMCD": params[r.term_id],
                "PARAM": f"{r.term} ({cdisc_unit(r.unit_si) or 'ratio'})",
                "AVAL": r.value_si,
                "ADT": sas_date(study.date_of_day(r.patient_id, day)),
                "ADY": day,
                "AVISIT": visit,
                "BASE": r.baseline_si,
                "ABLFL": "",
                "ATOXDSCL": r.term,
                "ATOXGR": "" if grade is None else str(grade),
                "ATOXGRN": grade,
                "BTOXGR": "",
                "ONTRTFL": "Y" if day is not None and first <= day <= last else "",
                "WORSTFL": "",
                "RULEID": rule_ref(r.rule_id, r.rule_version),
                "_BASEDAY": r.baseline_day,
                "_TIME": "" if is_missing(r.time) else str(r.time),
            }
        )
    frame = frame_of(rows, "ADLB")
    if frame.empty:
        return frame.drop(columns=["_BASEDAY", "_TIME"], errors="ignore")
    frame = add_sequence(frame, "ASEQ", ["USUBJID", "PARAMCD", "ADY", "_TIME"])
    for _key, idx in frame.groupby(["USUBJID", "PARAMCD"]).groups.items():
        part = frame.loc[idx]
        base = part[part["ADY"].notna() & (part["ADY"] == part["_BASEDAY"])]
        if len(base):
            first = base.index[0]
            frame.loc[first, "ABLFL"] = "Y"
            frame.loc[list(idx), "BTOXGR"] = str(frame.at[first, "ATOXGR"])
        on = part[(part["ONTRTFL"] == "Y") & part["ATOXGRN"].notna()]
        if len(on):
            top = on[on["ATOXGRN"] == on["ATOXGRN"].max()]
            frame.loc[top.index[0], "WORSTFL"] = "Y"
    return frame.drop(columns=["_BASEDAY", "_TIME"])
