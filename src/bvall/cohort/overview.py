"""A one-row-per-patient overview of what a cohort records (observed and reported values only)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bvall.cohort.model import Cohort


def _by_patient(cohort: Cohort, table: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in cohort[table].to_pylist():
        out[row["patient_id"]].append(row)
    return out


def _marrow_text(row: dict[str, Any] | None) -> str | None:
    if row is None:
        return None
    parts = []
    if row.get("response_reported"):
        parts.append(row["response_reported"])
    if row.get("mrd_status"):
        parts.append(
            {
                "negative": "MRD-",
                "positive": "MRD+",
                "positive_below_quantification": "MRD+ (<LOQ)",
                "not_evaluable": "MRD n/e",
            }[row["mrd_status"]]
        )
    return ", ".join(parts) or "done"


def patient_overview(cohort: Cohort) -> list[dict[str, Any]]:
    """One dict per patient: demographics, arm, lesions, baseline counts, marrow results,
    reported AEs, reported summaries and transfusion totals. Nothing here is derived by rules.
    """
    genetics = _by_patient(cohort, "genetic_findings")
    labs = _by_patient(cohort, "labs")
    marrow = _by_patient(cohort, "marrow_assessments")
    aes = _by_patient(cohort, "adverse_events")
    summaries = _by_patient(cohort, "reported_summaries")
    transfusions = _by_patient(cohort, "transfusions")
    provenance = _by_patient(cohort, "provenance")
    out = []
    for p in cohort["patients"].to_pylist():
        pid = p["patient_id"]
        rec: dict[str, Any] = {
            "patient_id": pid,
            "site_id": p["site_id"],
            "sex": p["sex"],
            "age": p["age_years"],
            "arm": p["arm"],
            "diagnosis": p["diagnosis"],
            "lesions": [g["lesion"] for g in genetics.get(pid, [])],
        }
        first: dict[str, dict[str, Any]] = {}
        for m in marrow.get(pid, []):
            first.setdefault(m["timepoint"], m)
        rec["marrow_blasts_percent"] = first.get("diagnosis", {}).get("blasts_percent")
        baseline: dict[str, tuple[float, str]] = {}
        for lab in labs.get(pid, []):
            if lab["timepoint"] in ("diagnosis", "pretreatment", "baseline_d1"):
                baseline.setdefault(lab["test"], (lab["value"], lab["unit"]))
        rec["baseline_labs"] = {k: {"value": v, "unit": u} for k, (v, u) in baseline.items()}
        rec["marrow_d14_21"] = _marrow_text(first.get("d14_21"))
        rec["marrow_pre_consolidation"] = _marrow_text(first.get("pre_consolidation"))
        rec["adverse_events"] = [
            {"term": a["term"], "grade": a["grade"], "system": a["grading_system"]}
            for a in aes.get(pid, [])
        ]
        rec["reported"] = {s["quantity"]: s["value"] for s in summaries.get(pid, [])}
        totals: dict[str, float] = defaultdict(float)
        for t in transfusions.get(pid, []):
            totals[f"{t['product']} ({t['amount_unit']})"] += t["amount"]
        rec["transfusions"] = dict(totals)
        rec["ambiguous"] = [
            {
                "table": q["table_name"],
                "record": q["record"],
                "column": q["column_name"],
                "readings": q["readings"],
            }
            for q in provenance.get(pid, [])
            if q["status"] == "ambiguous"
        ]
        out.append(rec)
    return out
