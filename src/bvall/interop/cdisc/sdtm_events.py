"""SDTM events and response: AE (with SUPPAE), RS and DS.

AE holds every adverse event the investigator reported, and CRS and ICANS as the criteria engine
grades them (ASTCT 2019, ``derive(cohort, "crs")`` / ``"icans"``). A reported CRS or ICANS event
and a derived episode of the same patient are one event: they are paired in onset order, the
record carries the ASTCT grade derived from the vital signs and neurological assessments, and the
investigator's grade is kept in SUPPAE (``AERPTGR``) so nothing reported is lost. A reported event
without a derived episode (no raw data) keeps its reported grade.

AEDECOD: CTCAE v5.0 and ASTCT terms are MedDRA Lowest Level Terms (CTCAE v5.0, "Introduction":
"CTCAE v5.0 terms are MedDRA LLTs"), so the term is written as the dictionary-derived term;
a term outside both (a reported grouping such as "Transaminases increased") is written as
reported. Coding to MedDRA preferred terms with a licensed dictionary is the sponsor's step
(docs/cdisc.md).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bvall.cohort.vocab import vocabulary
from bvall.interop.cdisc.spec import frame_of, load_terminology
from bvall.interop.cdisc.study import (
    Study,
    add_sequence,
    is_missing,
    iso_dtc,
    records,
    rule_ref,
    sdtm_day,
    yes,
)
from bvall.interop.cdisc.terminology import visit_of

#: Cohort AE terms the criteria engine derives as ASTCT episodes, by derivation name.
EPISODE_TERMS = {"crs": "Cytokine release syndrome", "icans": "ICANS"}
RESPONSE_CATEGORY = "NCCN ALL V3.2024"

SUPP_LABELS = {
    "AETOXSCL": "Toxicity Grading Scale",
    "AERPTGR": "Grade Reported by the Investigator",
    "AERULE": "bvall Rule Identifier and Version",
}


def _ae_term(term: str) -> tuple[str, str]:
    """(AEDECOD, AEBODSYS) of a cohort AE term (module docstring)."""
    voc = vocabulary("ae_term")
    if term not in voc:
        return term, ""
    t = voc.term(term)
    system, soc = t.attributes.get("system", ""), str(t.attributes.get("soc", ""))
    # ASTCT codes are short ("ICANS"); the label is the term MedDRA lists.
    return (t.label if system == "ASTCT 2019" else term), soc


def _reported_row(study: Study, r: Any, n: int) -> dict[str, Any]:
    decod, soc = _ae_term(r.term)
    start = study.bvall_day(r.patient_id, r.onset_day, r.onset_date)
    end = study.bvall_day(r.patient_id, r.resolution_day, r.resolution_date)
    supp = {}
    if not is_missing(r.grading_system):
        supp["AETOXSCL"] = (str(r.grading_system), "CRF")
    return {
        "STUDYID": study.study_id,
        "DOMAIN": "AE",
        "USUBJID": study.usubjid(r.patient_id),
        "AESPID": f"AE-{n}",
        "AETERM": r.term if is_missing(r.term_verbatim) else r.term_verbatim,
        "AEDECOD": decod,
        "AEBODSYS": soc,
        "AESER": yes(r.serious),
        "AETOXGR": "" if is_missing(r.grade) else str(int(r.grade)),
        "AESTDTC": iso_dtc(r.onset_date),
        "AEENDTC": iso_dtc(r.resolution_date),
        "AESTDY": sdtm_day(start),
        "AEENDY": sdtm_day(end),
        "_SUPP": supp,
        "_DAY": start,
    }


def _episode_row(study: Study, what: str, e: Any, reported: Any | None) -> dict[str, Any]:
    term = EPISODE_TERMS[what]
    decod, soc = _ae_term(term)
    supp = {
        "AETOXSCL": ("ASTCT 2019", "DERIVED"),
        "AERULE": (rule_ref(e.rule_id, e.rule_version), "DERIVED"),
    }
    verbatim = decod
    serious = ""
    if reported is not None:
        if not is_missing(reported.grade):
            supp["AERPTGR"] = (str(int(reported.grade)), "CRF")
        verbatim = reported.term if is_missing(reported.term_verbatim) else reported.term_verbatim
        serious = yes(reported.serious)
    start_date = study.date_of_day(e.patient_id, e.onset_day)
    end_date = study.date_of_day(e.patient_id, e.end_day)
    return {
        "STUDYID": study.study_id,
        "DOMAIN": "AE",
        "USUBJID": study.usubjid(e.patient_id),
        "AESPID": f"{what.upper()}-{int(e.episode)}",
        "AETERM": verbatim,
        "AEDECOD": decod,
        "AEBODSYS": soc,
        "AESER": serious,
        "AETOXGR": str(int(e.max_grade)),
        "AESTDTC": iso_dtc(start_date, e.onset_time),
        "AEENDTC": iso_dtc(end_date, e.end_time),
        "AESTDY": sdtm_day(e.onset_day),
        "AEENDY": sdtm_day(e.end_day),
        "_SUPP": supp,
        "_DAY": int(e.onset_day),
    }


def build_ae(study: Study) -> tuple[pd.DataFrame, pd.DataFrame]:
    """AE and SUPPAE (see the module docstring)."""
    ae = study.frame("adverse_events")
    rows: list[dict[str, Any]] = []
    episode_terms = set(EPISODE_TERMS.values())
    for i, r in enumerate(records(ae[~ae["term"].isin(episode_terms)]), start=1):
        rows.append(_reported_row(study, r, i))
    for what, term in EPISODE_TERMS.items():
        episodes = study.derived(what)
        reported = ae[ae["term"] == term]
        for pid in sorted(set(episodes["patient_id"]) | set(reported["patient_id"])):
            eps = episodes[episodes["patient_id"] == pid].sort_values("onset_day")
            rep = reported[reported["patient_id"] == pid].copy()
            rep["_day"] = [
                study.bvall_day(pid, d, t)
                for d, t in zip(rep["onset_day"], rep["onset_date"], strict=True)
            ]
            reps = list(records(rep.sort_values("_day", na_position="last")))
            for k, e in enumerate(records(eps)):
                rows.append(_episode_row(study, what, e, reps[k] if k < len(reps) else None))
            for k, r in enumerate(reps[len(eps) :], start=len(eps) + 1):
                row = _reported_row(study, r, k)
                row["AESPID"] = f"{what.upper()}-REPORTED-{k}"
                rows.append(row)
    frame = add_sequence(frame_of(rows, "AE"), "AESEQ", ["USUBJID", "_DAY", "AEDECOD", "AESPID"])
    supp = []
    for r in frame.to_dict("records"):
        for qnam, (qval, qorig) in (r["_SUPP"] or {}).items():
            supp.append(
                {
                    "STUDYID": r["STUDYID"],
                    "RDOMAIN": "AE",
                    "USUBJID": r["USUBJID"],
                    "IDVAR": "AESEQ",
                    "IDVARVAL": str(int(r["AESEQ"])),
                    "QNAM": qnam,
                    "QLABEL": SUPP_LABELS[qnam],
                    "QVAL": qval,
                    "QORIG": qorig,
                }
            )
    return frame.drop(columns=["_SUPP", "_DAY"]), frame_of(supp, "SUPPAE")


def build_rs(study: Study) -> pd.DataFrame:
    """RS: the NCCN overall response and the MRD status of every marrow assessment."""
    response = study.derived("response")
    marrow = study.frame("marrow_assessments")
    statuses = load_terminology()["mrd_status"]
    rows = []
    for r in records(response):
        m = marrow[(marrow["patient_id"] == r.patient_id) & (marrow["timepoint"] == r.timepoint)]
        date = m["date"].iloc[0] if len(m) else None
        day = None if is_missing(r.day) else int(r.day)
        if is_missing(date):
            date = study.date_of_day(r.patient_id, day)
        visitnum, visit = visit_of(r.timepoint, sdtm_day(day))
        when = {"VISITNUM": visitnum, "VISIT": visit, "RSDTC": iso_dtc(date), "RSDY": sdtm_day(day)}
        base = {"STUDYID": study.study_id, "DOMAIN": "RS", "USUBJID": study.usubjid(r.patient_id)}
        if not is_missing(r.response) or not is_missing(r.response_reported):
            rows.append(
                {
                    **base,
                    "RSTESTCD": "OVRLRESP",
                    "RSTEST": "Overall Response",
                    "RSCAT": RESPONSE_CATEGORY,
                    "RSORRES": "" if is_missing(r.response_reported) else r.response_reported,
                    "RSSTRESC": "" if is_missing(r.response) else r.response,
                    "RSEVAL": "INVESTIGATOR" if r.response_source == "reported" else "",
                    **when,
                }
            )
        if not is_missing(r.mrd_negative):
            status = m["mrd_status"].iloc[0] if len(m) else None
            rows.append(
                {
                    **base,
                    "RSTESTCD": "MRDSTAT",
                    "RSTEST": "MRD Status",
                    "RSCAT": RESPONSE_CATEGORY,
                    "RSORRES": "" if is_missing(status) else statuses[str(status)],
                    "RSSTRESC": "NEGATIVE" if bool(r.mrd_negative) else "POSITIVE",
                    "RSEVAL": "",
                    **when,
                }
            )
    return add_sequence(frame_of(rows, "RS"), "RSSEQ", ["USUBJID", "VISITNUM", "RSTESTCD"])


def build_ds(study: Study) -> pd.DataFrame:
    """DS: deaths (a patient alive at the data cut-off has no disposition event yet)."""
    events = study.frame("follow_up_events")
    rows = []
    for r in records(events[events["event"] == "death"]):
        day = study.bvall_day(r.patient_id, r.study_day, r.date)
        rows.append(
            {
                "STUDYID": study.study_id,
                "DOMAIN": "DS",
                "USUBJID": study.usubjid(r.patient_id),
                "DSTERM": "DEATH" if is_missing(r.cause) else f"DEATH: {str(r.cause).upper()}",
                "DSDECOD": "DEATH",
                "DSCAT": "DISPOSITION EVENT",
                "DSSTDTC": iso_dtc(r.date),
                "DSSTDY": sdtm_day(day),
            }
        )
    return add_sequence(frame_of(rows, "DS"), "DSSEQ", ["USUBJID", "DSSTDY"])
