"""NCCN response with flow MRD, NCCN B-ALL risk groups and the seed paper's eligibility.

Response (seed paper's restatement of NCCN v3.2024; CLINICAL.md 4.1): CR = < 5 % marrow blasts,
no circulating blasts or extramedullary disease, trilineage haematopoiesis, ANC >= 1 x 10^9/L,
platelets >= 100 x 10^9/L; CRi = counts not recovered; PD = >= 25 % increase in blasts;
relapse = > 5 % blasts after CR; MRD negative = < 1e-4 at an assay sensitivity <= 1e-4.
Risk (CLINICAL.md 4.3): any poor-risk lesion -> poor. Eligibility: seed paper, Study Design.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bvall.cohort import Cohort
from bvall.criteria import CriteriaSettings, derive

from .scenarios import Builder

REMISSION = {
    "blasts_percent": 1.0,
    "circulating_blasts": False,
    "extramedullary_disease": False,
    "trilineage_hematopoiesis": True,
}


def _marrow(
    b: Builder, pid: str, day: int, timepoint: str = "pre_consolidation", **kw: Any
) -> None:
    row = {**REMISSION, **kw}
    b.add("marrow_assessments", patient_id=pid, timepoint=timepoint, study_day=day, **row)


def _counts(b: Builder, pid: str, day: int, anc: float, plt: float) -> None:
    b.lab(pid, "anc", day, anc, "10^9/L", 1.8, 6.3)
    b.lab(pid, "platelets", day, plt, "10^9/L", 125.0, 350.0)


def _response_cohort() -> Cohort:
    b = Builder()
    for pid, marrow, anc, plt in (
        ("R1", {"blasts_percent": 4.9}, 1.0, 100.0),
        ("R2", {"blasts_percent": 5.0}, 2.0, 150.0),
        ("R3", {"blasts_percent": 4.9}, 0.9, 150.0),
        ("R4", {"blasts_percent": 4.9, "circulating_blasts": True}, 2.0, 150.0),
        ("R5", {"trilineage_hematopoiesis": None, "response_reported": "CR"}, 2.0, 150.0),
        ("M1", {"mrd_status": "negative", "mrd_sensitivity": 0.0001}, 2.0, 150.0),
        ("M2", {"mrd_status": "negative", "mrd_sensitivity": 0.001}, 2.0, 150.0),
        ("M3", {"mrd_level": 0.00009, "mrd_sensitivity": 0.0001}, 2.0, 150.0),
        ("M4", {"mrd_level": 0.0001, "mrd_sensitivity": 0.0001}, 2.0, 150.0),
        ("M5", {"mrd_status": "negative"}, 2.0, 150.0),
    ):
        b.patient(pid)
        _marrow(b, pid, 28, **marrow)
        _counts(b, pid, 28, anc, plt)
    # Progression: >= 25 % more blasts than the diagnostic marrow (60 % -> 75 %).
    for pid, blasts in (("P1", 75.0), ("P2", 74.9)):
        b.patient(pid)
        _marrow(b, pid, -5, "diagnosis", blasts_percent=60.0, trilineage_hematopoiesis=False)
        _marrow(b, pid, 21, "d14_21", blasts_percent=blasts, trilineage_hematopoiesis=False)
    # Relapse after CR (D28): > 5 % marrow blasts on D120.
    for pid, blasts in (("L1", 5.1), ("L2", 5.0), ("L3", 25.0)):
        b.patient(pid)
        _marrow(b, pid, 28)
        _counts(b, pid, 28, 2.0, 150.0)
        _marrow(b, pid, 120, "relapse", blasts_percent=blasts, trilineage_hematopoiesis=False)
    # Counts within 3 days of the marrow (response_counts_window_days).
    for pid, day in (("W1", 31), ("W2", 32)):
        b.patient(pid)
        _marrow(b, pid, 28)
        _counts(b, pid, day, 2.0, 150.0)
    return b.cohort()


@pytest.fixture(scope="module")
def responses() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in derive(_response_cohort(), "response").to_pylist():
        out.setdefault(row["patient_id"], []).append(row)
    return out


@pytest.mark.parametrize(
    ("pid", "response", "source"),
    [
        ("R1", "CR", "derived"),  # ANC 1.0 >= 1 and platelets 100 >= 100
        ("R2", "NR", "derived"),  # 5.0 % is not < 5 %
        ("R3", "CRi", "derived"),
        ("R4", "NR", "derived"),
        ("R5", "CR", "reported"),  # trilineage not recorded: CR cannot be derived
        ("P1", "PD", "derived"),
        ("P2", "NR", "derived"),
        ("W1", "CR", "derived"),
        ("W2", None, "missing"),
    ],
)
def test_response(
    responses: dict[str, list[dict[str, Any]]], pid: str, response: str | None, source: str
) -> None:
    row = responses[pid][-1]
    assert (row["response"], row["response_source"]) == (response, source), row["explanation"]
    assert row["explanation"].endswith("NCCN ALL v3.2024")


def test_relapse_after_cr(responses: dict[str, list[dict[str, Any]]]) -> None:
    assert [r["response"] for r in responses["L1"]] == ["CR", "relapse"]
    assert [r["response"] for r in responses["L2"]] == ["CR", "NR"]
    assert "after CR on D28" in responses["L1"][1]["explanation"]


@pytest.mark.parametrize(
    ("pid", "negative"),
    [("M1", True), ("M2", None), ("M3", True), ("M4", False), ("M5", None), ("R1", None)],
)
def test_mrd_negativity(
    responses: dict[str, list[dict[str, Any]]], pid: str, negative: bool | None
) -> None:
    assert responses[pid][0]["mrd_negative"] is negative


def test_response_settings() -> None:
    cohort = _response_cohort()
    strict = {
        r["patient_id"]: r
        for r in derive(
            cohort, "response", settings=CriteriaSettings(count_recovery_comparator=">")
        ).to_pylist()
        if r["timepoint"] != "relapse"
    }
    assert strict["R1"]["response"] == "CRi"  # NCCN/ELN '>': 1.0 and 100 are not recovered
    high = derive(cohort, "response", settings=CriteriaSettings(relapse_marrow_blasts="ge_25"))
    relapses = {
        r["patient_id"]: r["response"] for r in high.to_pylist() if r["timepoint"] == "relapse"
    }
    assert relapses == {"L1": "NR", "L2": "NR", "L3": "relapse"}
    loose = derive(cohort, "response", settings=CriteriaSettings(mrd_requires_sensitivity=False))
    m5 = next(r for r in loose.to_pylist() if r["patient_id"] == "M5")
    assert m5["mrd_negative"] is True


def _risk_cohort() -> Cohort:
    b = Builder()
    lesions = {
        "K1": ["TP53"],
        "K2": ["high_hyperdiploidy", "KMT2A_r"],
        "K3": ["high_hyperdiploidy"],
        "K4": [],
        "K5": [],
        "K6": ["ZNF384_r"],
        "K7": ["CRLF2_r"],
        "K8": [],
        "K9": [],
    }
    extra = {
        "K5": {"genetic_profiling": "not_done"},
        "K8": {"karyotype": "complex"},
        "K9": {"karyotype": "hypodiploid"},
    }
    for pid, found in lesions.items():
        b.patient(pid, **{"genetic_profiling": "performed", **extra.get(pid, {})})
        for lesion in found:
            b.add("genetic_findings", patient_id=pid, lesion=lesion, detail=lesion)
    return b.cohort()


def test_risk_groups() -> None:
    cohort = _risk_cohort()
    rows = {r["patient_id"]: r for r in derive(cohort, "risk").to_pylist()}
    groups = {pid: r["risk_group"] for pid, r in rows.items()}
    assert groups == {
        "K1": "poor",
        "K2": "poor",
        "K3": "standard",
        "K4": "standard",
        "K5": "unknown",
        "K6": "poor",
        "K7": "poor",
        "K8": "poor",
        "K9": "standard",
    }
    assert rows["K2"]["explanation"].startswith(
        "poor risk: KMT2A_r (standard-risk: high_hyperdiploidy)"
    )
    assert "karyotype hypodiploid without a chromosome count" in rows["K9"]["explanation"]
    other = derive(
        cohort,
        "risk",
        settings=CriteriaSettings(znf384_mef2d_risk="intermediate", crlf2_r_as_ph_like=False),
    )
    changed = {r["patient_id"]: r for r in other.to_pylist()}
    assert changed["K6"]["risk_group"] == "standard"
    assert changed["K6"]["unclassified_findings"] == "ZNF384_r"
    assert changed["K7"]["risk_group"] == "standard"


def test_published_risk_matches_table_1() -> None:
    """Seed paper, Table 1: NCCN poor risk 53.8 % (7/13), standard 46.2 % (6/13)."""
    from bvall.cohort import load_cohort

    rows = derive(load_cohort("published"), "risk").to_pylist()
    poor = sorted(r["patient_id"] for r in rows if r["risk_group"] == "poor")
    assert poor == ["P01", "P04", "P08", "P09", "P11", "P12", "P13"]


def test_eligibility() -> None:
    b = Builder()
    cases = {
        "E1": ({}, dt.date(2024, 6, 1), True),
        "E2": ({"age_years": 17}, dt.date(2024, 6, 1), False),
        "E3": ({"age_years": 18}, dt.date(2024, 6, 1), True),
        "E4": ({"diagnosis": "burkitt_leukemia"}, dt.date(2024, 6, 1), False),
        "E5": ({"cd19_positive": None}, dt.date(2024, 6, 1), None),
        "E6": ({}, dt.date(2024, 2, 29), False),
        "E7": ({}, dt.date(2024, 3, 1), True),
        "E8": ({}, dt.date(2025, 3, 31), True),
        "E9": ({}, dt.date(2025, 4, 1), False),
        "EA": ({"diagnosis": "mpal"}, dt.date(2024, 6, 1), False),
    }
    for pid, (extra, d1, _e) in cases.items():
        fields = {"diagnosis": "b_all_ph_negative", "cd19_positive": True, **extra}
        b.patient(pid, d1=d1, blin=False, **fields)
        b.rows["patients"][-1]["age_years"] = extra.get("age_years", 50)
    rows = {r["patient_id"]: r for r in derive(b.cohort(), "eligibility").to_pylist()}
    assert {pid: rows[pid]["eligible"] for pid in cases} == {pid: c[2] for pid, c in cases.items()}
    assert "burkitt" in rows["E4"]["criteria_not_met"]
    assert rows["E5"]["criteria_unknown"] == "cd19"
    assert rows["E1"]["explanation"].startswith("eligible: all 7 criteria met")
