"""SDTM demographics and interventions: DM, EX and CM.

Every builder takes a :class:`~bvall.interop.cdisc.study.Study` and returns a frame with the
columns of its dataset in ``data/variables.csv`` (conformed and checked later by
:func:`~bvall.interop.cdisc.spec.conform_dataset`). EX holds the study drugs of the BV regimen
(``terminology.toml [study_drug]``) as given; every other agent given goes to CM as the
protocol's supportive care, beside the recorded concomitant medications.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bvall.cohort.vocab import vocabulary
from bvall.interop.cdisc.spec import frame_of, load_terminology
from bvall.interop.cdisc.study import Study, add_sequence, is_missing, iso_dtc, records, sdtm_day
from bvall.interop.cdisc.terminology import cdisc_unit, route_of


def identifiers(study: Study, domain: str, patient_id: Any) -> dict[str, Any]:
    """STUDYID, DOMAIN and USUBJID of a record of ``domain``."""
    return {"STUDYID": study.study_id, "DOMAIN": domain, "USUBJID": study.usubjid(patient_id)}


def _study_drug_doses(study: Study) -> pd.DataFrame:
    doses = study.frame("dose_administrations")
    drugs = load_terminology()["study_drug"]
    return doses[doses["agent"].isin(list(drugs)) & doses["status"].isin(["given", "interrupted"])]


def build_dm(study: Study) -> pd.DataFrame:
    """DM: one record per patient."""
    patients = study.frame("patients")
    ex = _study_drug_doses(study)
    deaths = study.frame("follow_up_events")
    deaths = deaths[deaths["event"] == "death"]
    rows = []
    for p in records(patients):
        pid = p.patient_id
        mine = ex[ex["patient_id"] == pid]
        starts = [d for d in mine["date_start"] if not is_missing(d)]
        ends = [d for d in mine["date_end"].fillna(mine["date_start"]) if not is_missing(d)]
        death = deaths[deaths["patient_id"] == pid]
        treated = len(mine) > 0
        arm = "" if is_missing(p.arm) else str(p.arm)
        rows.append(
            {
                **identifiers(study, "DM", pid),
                "SUBJID": pid,
                "RFSTDTC": iso_dtc(study.d1.get(pid)),
                "RFENDTC": iso_dtc(max(ends)) if ends else "",
                "RFXSTDTC": iso_dtc(min(starts)) if starts else "",
                "RFXENDTC": iso_dtc(max(ends)) if ends else "",
                "DTHDTC": iso_dtc(death["date"].iloc[0]) if len(death) else "",
                "DTHFL": "Y" if len(death) else "",
                "SITEID": p.site_id,
                "AGE": p.age_years,
                "AGEU": "YEARS",
                "SEX": p.sex,
                "ARMCD": arm.upper(),
                "ARM": study.arm_label.get(arm, ""),
                "ACTARMCD": arm.upper() if treated else "",
                "ACTARM": study.arm_label.get(arm, "") if treated else "",
            }
        )
    return frame_of(rows, "DM")


def build_ex(study: Study) -> pd.DataFrame:
    """EX: venetoclax, blinatumomab and dexamethasone as given (held doses are not exposure)."""
    drugs = load_terminology()["study_drug"]
    rows = []
    for d in records(_study_drug_doses(study)):
        route = route_of(d.route)
        start = study.bvall_day(d.patient_id, d.study_day_start, d.date_start)
        end_day = d.study_day_end if not is_missing(d.study_day_end) else d.study_day_start
        end = study.bvall_day(d.patient_id, end_day, d.date_end)
        adj = "" if is_missing(d.reason) else str(d.reason)
        if d.status == "interrupted" and not adj:
            adj = "INFUSION INTERRUPTED"
        rows.append(
            {
                **identifiers(study, "EX", d.patient_id),
                "EXSPID": d.course_id,
                "EXTRT": drugs[d.agent],
                "EXDOSE": d.dose,
                "EXDOSU": cdisc_unit(d.dose_unit),
                "EXDOSFRQ": route["frequency"],
                "EXROUTE": route["route"],
                "EXADJ": adj,
                "EXSTDTC": iso_dtc(d.date_start),
                "EXENDTC": iso_dtc(d.date_end if not is_missing(d.date_end) else d.date_start),
                "EXSTDY": sdtm_day(start),
                "EXENDY": sdtm_day(end),
            }
        )
    return add_sequence(frame_of(rows, "EX"), "EXSEQ", ["USUBJID", "EXSTDY", "EXTRT"])


def build_cm(study: Study) -> pd.DataFrame:
    """CM: recorded concomitant medications, and the protocol's supportive care given
    (dose_administrations agents other than the study drugs)."""
    rows = []
    for m in records(study.frame("concomitant_medications")):
        start = study.bvall_day(m.patient_id, m.start_day, m.start_date)
        end = study.bvall_day(m.patient_id, m.end_day, m.end_date)
        rows.append(
            {
                **identifiers(study, "CM", m.patient_id),
                "CMTRT": str(m.drug).upper(),
                "CMCAT": "CONCOMITANT",
                "CMINDC": "" if is_missing(m.indication) else str(m.indication).upper(),
                "CMDOSE": m.dose,
                "CMDOSU": cdisc_unit(m.dose_unit),
                "CMROUTE": route_of(m.route)["route"],
                "CMSTDTC": iso_dtc(m.start_date),
                "CMENDTC": iso_dtc(m.end_date),
                "CMSTDY": sdtm_day(start),
                "CMENDY": sdtm_day(end),
            }
        )
    doses = study.frame("dose_administrations")
    drugs = load_terminology()["study_drug"]
    labels = {t.code: t.label for t in vocabulary("agent").terms}
    support = doses[~doses["agent"].isin(list(drugs)) & (doses["status"] == "given")]
    for d in records(support):
        start = study.bvall_day(d.patient_id, d.study_day_start, d.date_start)
        end_day = d.study_day_end if not is_missing(d.study_day_end) else d.study_day_start
        end = study.bvall_day(d.patient_id, end_day, d.date_end)
        rows.append(
            {
                **identifiers(study, "CM", d.patient_id),
                "CMTRT": labels.get(d.agent, d.agent).upper(),
                "CMCAT": "PROTOCOL SUPPORTIVE CARE",
                "CMINDC": "",
                "CMDOSE": d.dose,
                "CMDOSU": cdisc_unit(d.dose_unit),
                "CMROUTE": route_of(d.route)["route"],
                "CMSTDTC": iso_dtc(d.date_start),
                "CMENDTC": iso_dtc(d.date_end if not is_missing(d.date_end) else d.date_start),
                "CMSTDY": sdtm_day(start),
                "CMENDY": sdtm_day(end),
            }
        )
    return add_sequence(frame_of(rows, "CM"), "CMSEQ", ["USUBJID", "CMSTDY", "CMCAT", "CMTRT"])
