"""ADaM occurrence, response and time-to-event datasets: ADAE, ADRS and ADTTE.

ADTTE follows the endpoint definitions of the criteria engine (``derive(cohort, "endpoints")``,
``bvall/criteria/data/endpoints.toml``), the ones the analysis tables and the paper use: OS from
D1 to death (event) or last contact (censored); RFS from the first CR to relapse or death (event)
or last contact (censored). ``AVAL`` is the engine's ``os_days``/``rfs_days``, the elapsed days
since the origin, so ``ADT = STARTDT + AVAL`` (not the ``+ 1`` of a study day). A subject
without the time or the event (no follow-up; no CR for RFS) has no record, as the analysis
tables leave them out.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bvall.interop.cdisc.spec import frame_of
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
from bvall.interop.cdisc.terminology import visit_of


def _bvall_day(sdtm: Any) -> int | None:
    """Back from an SDTM day (no day 0) to the bvall day (day 0 = the day before D1)."""
    if is_missing(sdtm) or sdtm == "":
        return None
    d = int(sdtm)
    return d if d >= 1 else d + 1


def build_adae(study: Study, sdtm: dict[str, pd.DataFrame], adsl: pd.DataFrame) -> pd.DataFrame:
    """ADAE: AE with SUPPAE merged, numeric and ASTCT grades, treatment-emergence (onset on or
    after D1) and the subject's treatment and safety flag."""
    supp = sdtm["SUPPAE"]
    quals: dict[tuple[str, str], dict[str, str]] = {}
    for s in records(supp):
        quals.setdefault((s.USUBJID, str(s.IDVARVAL)), {})[s.QNAM] = s.QVAL
    subject = adsl.set_index("USUBJID")
    rows = []
    for a in records(sdtm["AE"]):
        q = quals.get((a.USUBJID, str(int(a.AESEQ))), {})
        grade = None if a.AETOXGR in ("", None) else int(a.AETOXGR)
        scale = q.get("AETOXSCL", "")
        day = _bvall_day(a.AESTDY)
        reported = q.get("AERPTGR", a.AETOXGR if "AERULE" not in q else "")
        rows.append(
            {
                "STUDYID": a.STUDYID,
                "USUBJID": a.USUBJID,
                "AESEQ": a.AESEQ,
                "AESPID": a.AESPID,
                "AETERM": a.AETERM,
                "AEDECOD": a.AEDECOD,
                "AEBODSYS": a.AEBODSYS,
                "AESER": a.AESER,
                "AETOXGR": a.AETOXGR,
                "ATOXGRN": grade,
                "ATOXSCL": scale,
                "ASTCTGR": grade if scale == "ASTCT 2019" else None,
                "RPTGR": None if reported in ("", None) else int(reported),
                "ASTDT": sas_date(a.AESTDTC[:10] or None),
                "AENDT": sas_date(a.AEENDTC[:10] or None),
                "ASTDY": day,
                "TRTEMFL": "" if day is None else yes(day >= 1),
                "TRT01A": subject.at[a.USUBJID, "TRT01A"],
                "SAFFL": subject.at[a.USUBJID, "SAFFL"],
                "RULEID": q.get("AERULE", ""),
            }
        )
    return frame_of(rows, "ADAE")


def _adrs_row(study: Study, pid: Any, **values: Any) -> dict[str, Any]:
    day = values.pop("day")
    timepoint = values.pop("timepoint", None)
    num, visit = visit_of(timepoint, sdtm_day(day)) if timepoint else (None, "")
    return {
        "STUDYID": study.study_id,
        "USUBJID": study.usubjid(pid),
        "ADY": day,
        "ADT": sas_date(study.date_of_day(pid, day)),
        "AVISIT": visit,
        "AVISITN": num,
        **values,
    }


def build_adrs(study: Study) -> pd.DataFrame:
    """ADRS: overall response and MRD status per marrow assessment, best overall response,
    MRD negativity at any assessment and at day 14-21, per subject."""
    rows = []
    for r in records(study.derived("response")):
        day = None if is_missing(r.day) else int(r.day)
        rule = rule_ref(r.rule_id, r.rule_version)
        if not is_missing(r.response):
            rows.append(
                _adrs_row(
                    study,
                    r.patient_id,
                    day=day,
                    timepoint=r.timepoint,
                    PARAMCD="OVRLRESP",
                    PARAM="Overall Response by NCCN ALL V3.2024",
                    AVALC=r.response,
                    SRCTYPE=r.response_source,
                    RULEID=rule,
                )
            )
        if not is_missing(r.mrd_negative):
            rows.append(
                _adrs_row(
                    study,
                    r.patient_id,
                    day=day,
                    timepoint=r.timepoint,
                    PARAMCD="MRDSTAT",
                    PARAM="MRD Status (Flow Cytometry, 1e-4)",
                    AVALC="NEGATIVE" if bool(r.mrd_negative) else "POSITIVE",
                    SRCTYPE="derived",
                    RULEID=rule,
                )
            )
    for e in records(study.derived("endpoints")):
        rule = rule_ref(e.rule_id, e.rule_version)
        day = None if is_missing(e.best_response_day) else int(e.best_response_day)
        subject = [
            ("BESTRESP", "Best Overall Response", e.best_response, e.best_response_source, day),
            ("MRDNEG", "MRD Negativity at Any Assessment", yes(e.mrd_negative),
             e.mrd_negative_source, None),
            ("MRDNEG14", "MRD Negativity at Day 14-21", yes(e.mrd_negative_d14_21),
             e.mrd_negative_d14_21_source, None),
        ]  # fmt: skip
        for code, label, value, source, d in subject:
            if is_missing(value) or value == "":
                continue
            rows.append(
                _adrs_row(
                    study,
                    e.patient_id,
                    day=d,
                    PARAMCD=code,
                    PARAM=label,
                    AVALC=value,
                    SRCTYPE=source,
                    RULEID=rule,
                )
            )
    return add_sequence(frame_of(rows, "ADRS"), "ASEQ", ["USUBJID", "PARAMCD", "AVISITN"])


def build_adtte(study: Study, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADTTE: OS and RFS per subject (module docstring)."""
    trt = adsl.set_index("SUBJID")["TRT01P"]
    rows = []
    for e in records(study.derived("endpoints")):
        pid = e.patient_id
        rule = rule_ref(e.rule_id, e.rule_version)
        base = {"STUDYID": study.study_id, "USUBJID": study.usubjid(pid), "TRT01P": trt[pid]}
        d1 = study.d1.get(pid)
        if not is_missing(e.os_days) and not is_missing(e.os_event):
            event = bool(e.os_event)
            start = sas_date(d1)
            rows.append(
                {
                    **base,
                    "PARAMCD": "OS",
                    "PARAM": "Overall Survival from D1 (Days)",
                    "AVAL": float(e.os_days),
                    "CNSR": 0 if event else 1,
                    "STARTDT": start,
                    "ADT": start + float(e.os_days),
                    "EVNTDESC": "DEATH" if event else "ALIVE AT LAST CONTACT",
                    "CNSDTDSC": "" if event else "DATE OF LAST CONTACT",
                    "SRCDOM": "DS" if event else "ADSL",
                    "SRCVAR": "DSSTDTC" if event else "LSTALVDT",
                    "RULEID": rule,
                }
            )
        if not is_missing(e.rfs_days) and not is_missing(e.rfs_event):
            event = bool(e.rfs_event)
            relapse = not is_missing(e.relapse) and bool(e.relapse)
            start = sas_date(study.date_of_day(pid, e.cr_day))
            what = "RELAPSE" if relapse else "DEATH IN CR"
            rows.append(
                {
                    **base,
                    "PARAMCD": "RFS",
                    "PARAM": "Relapse-Free Survival from First CR (Days)",
                    "AVAL": float(e.rfs_days),
                    "CNSR": 0 if event else 1,
                    "STARTDT": start,
                    "ADT": start + float(e.rfs_days),
                    "EVNTDESC": what if event else "ALIVE IN CR AT LAST CONTACT",
                    "CNSDTDSC": "" if event else "DATE OF LAST CONTACT",
                    "SRCDOM": ("RS" if relapse else "DS") if event else "ADSL",
                    "SRCVAR": ("RSDTC" if relapse else "DSSTDTC") if event else "LSTALVDT",
                    "RULEID": rule,
                }
            )
    frame = frame_of(rows, "ADTTE")
    if len(frame):
        frame = frame.sort_values(["USUBJID", "PARAMCD"], kind="stable").reset_index(drop=True)
    return frame
