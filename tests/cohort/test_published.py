"""The `published` cohort against the seed paper (Lei et al.), cell by cell.

Reference values are typed from the paper's Table 2 and Table 3 (rows in printed order) and its
Results text; each assertion names the table or sentence it checks.
"""

from __future__ import annotations

import json
import statistics

import pytest

# Table 2, baseline half: sex/age, poor-risk factors, blasts burden (%), WBC (10^9/L), schedule.
TABLE2 = [
    ("P01", "M", 72, {"TP53"}, 46.0, 2.02, "concurrent"),
    ("P02", "M", 18, set(), 79.2, 1.56, "sequential"),
    ("P03", "M", 52, set(), 66.0, 17.2, "sequential"),
    ("P04", "F", 25, {"KMT2A_r", "TP53"}, 94.0, 222.17, "concurrent"),
    ("P05", "F", 74, set(), 64.4, 1.59, "concurrent"),
    ("P06", "F", 32, set(), 72.0, 9.65, "concurrent"),
    ("P07", "M", 67, set(), 62.0, 2.84, "sequential"),
    ("P08", "M", 41, {"CRLF2_r"}, 89.6, 2.23, "concurrent"),
    ("P09", "F", 49, {"KMT2A_r"}, 83.6, 1.98, "concurrent"),
    ("P10", "M", 68, set(), 84.4, 35.97, "sequential"),
    ("P11", "M", 24, {"ZNF384_r"}, 61.6, 1.71, "sequential"),
    ("P12", "F", 54, {"HLF_r"}, 80.4, 2.61, "concurrent"),
    ("P13", "M", 63, {"TP53"}, 96.0, 38.55, "concurrent"),
]
# Table 2, outcome half: days of ANC < 0.5, days of platelets < 20, non-haematological AEs and
# the CRS column, as printed (CRS grade 2 of P10 is settled by the Results text).
TABLE2_DAYS = [
    (20, 0),
    (14, 0),
    (0, 0),
    (5, 5),
    (1, 0),
    (6, 0),
    (0, 0),
    (16, 3),
    (1, 0),
    (15, 14),
    (3, 0),
    (6, 0),
    (9, 1),
]
TABLE2_AES = {
    "P01": {("Transaminases increased", 1)},
    "P02": {("Transaminases increased", 1), ("Fibrinogen decreased", 2)},
    "P03": {("Transaminases increased", 1)},
    "P04": {
        ("Transaminases increased", 2),
        ("Fibrinogen decreased", 2),
        ("Cytokine release syndrome", 1),
    },
    "P05": {("Transaminases increased", 1), ("Cytokine release syndrome", 3)},
    "P06": {("Cytokine release syndrome", 1)},
    "P07": set(),
    "P08": {
        ("Lung infection", 3),
        ("Fibrinogen decreased", 3),
        ("Cytokine release syndrome", 1),
    },
    "P09": {("Transaminases increased", 1), ("Fibrinogen decreased", 2)},
    "P10": {
        ("Transaminases increased", 3),
        ("Febrile neutropenia", 3),
        ("ICANS", 2),
        ("Cytokine release syndrome", 2),
    },
    "P11": {("Transaminases increased", 1), ("Febrile neutropenia", 3)},
    "P12": {("Transaminases increased", 1), ("Cytokine release syndrome", 1)},
    "P13": {("Transaminases increased", 1)},
}
# Table 3: pretreatment platelets (10^9/L), platelet units, pretreatment Hb (g/L), RBC units.
TABLE3 = [
    (46, 0, 105, 0),
    (108, 0, 68, 0),
    (56, 0, 73, 0),
    (62, 0, 93, 2),
    (85, 0, 65, 2),
    (29, 10, 104, 2),
    (136, 0, 109, 0),
    (40, 30, 63, 10),
    (212, 0, 64, 4),
    (26, 60, 97, 4),
    (198, 0, 91, 0),
    (60, 0, 55, 3),
    (133, 10, 61, 4.5),
]


def _rows(cohort, table):  # type: ignore[no-untyped-def]
    return cohort[table].to_pylist()


def test_thirteen_patients_with_sex_age_arm_from_table2(published) -> None:  # type: ignore[no-untyped-def]
    patients = {p["patient_id"]: p for p in _rows(published, "patients")}
    assert list(patients) == [r[0] for r in TABLE2]
    for pid, sex, age, _, _, _, arm in TABLE2:
        assert (patients[pid]["sex"], patients[pid]["age_years"], patients[pid]["arm"]) == (
            sex,
            age,
            arm,
        )


def test_cohort_counts_match_results_text(published) -> None:  # type: ignore[no-untyped-def]
    patients = _rows(published, "patients")
    # Results: "8 cases being male (61.5%)"; Treatment: first 5 cases sequential.
    assert sum(p["sex"] == "M" for p in patients) == 8
    assert sum(p["sex"] == "F" for p in patients) == 5
    assert sum(p["arm"] == "concurrent" for p in patients) == 8
    assert sum(p["arm"] == "sequential" for p in patients) == 5
    # Abstract/Results: median age 52 (range 18-74).
    ages = [p["age_years"] for p in patients]
    assert statistics.median(ages) == 52
    assert (min(ages), max(ages)) == (18, 74)


def test_lesions_blasts_and_wbc_from_table2(published) -> None:  # type: ignore[no-untyped-def]
    lesions: dict[str, set[str]] = {}
    for g in _rows(published, "genetic_findings"):
        lesions.setdefault(g["patient_id"], set()).add(g["lesion"])
    blasts = {
        m["patient_id"]: m["blasts_percent"]
        for m in _rows(published, "marrow_assessments")
        if m["timepoint"] == "diagnosis"
    }
    wbc = {
        lab["patient_id"]: (lab["value"], lab["unit"], lab["timepoint"])
        for lab in _rows(published, "labs")
        if lab["test"] == "wbc"
    }
    for pid, _, _, les, bl, w, _ in TABLE2:
        assert lesions.get(pid, set()) == les, pid
        assert blasts[pid] == pytest.approx(bl, abs=0), pid
        assert wbc[pid] == (w, "10^9/L", "diagnosis"), pid
    # Results: 7 patients (53.8%) had a poor-risk lesion; median blasts 79.2%; median WBC 2.61.
    assert len(lesions) == 7
    assert statistics.median(blasts.values()) == pytest.approx(79.2, abs=0)
    assert statistics.median(v[0] for v in wbc.values()) == pytest.approx(2.61, abs=0)


def test_reported_days_below_thresholds_from_table2(published) -> None:  # type: ignore[no-untyped-def]
    got = {
        (s["patient_id"], s["quantity"]): s["value"] for s in _rows(published, "reported_summaries")
    }
    for (pid, *_), (anc, plt) in zip(TABLE2, TABLE2_DAYS, strict=True):
        assert got[(pid, "days_anc_below_0_5")] == anc
        assert got[(pid, "days_plt_below_20")] == plt


def test_adverse_events_from_table2(published) -> None:  # type: ignore[no-untyped-def]
    got: dict[str, set[tuple[str, int | None]]] = {pid: set() for pid in TABLE2_AES}
    for a in _rows(published, "adverse_events"):
        got[a["patient_id"]].add((a["term"], a["grade"]))
    assert got == TABLE2_AES
    aes = _rows(published, "adverse_events")
    # Results/Table 4: transaminase elevation 10/13 (grade 3 in 1); hypofibrinogenaemia 4/13;
    # CRS 6/13 with one grade 3; one grade 2 ICANS.
    ta = [a for a in aes if a["term"] == "Transaminases increased"]
    assert len(ta) == 10
    assert sum(a["grade"] >= 3 for a in ta) == 1
    assert sum(a["term"] == "Fibrinogen decreased" for a in aes) == 4
    crs = [a for a in aes if a["term"] == "Cytokine release syndrome"]
    assert len(crs) == 6
    assert [a["grade"] for a in crs].count(3) == 1
    assert all(a["grading_system"] == "ASTCT 2019" for a in crs)


def test_every_table3_value(published) -> None:  # type: ignore[no-untyped-def]
    labs = {
        (lab["patient_id"], lab["test"]): (lab["value"], lab["unit"])
        for lab in _rows(published, "labs")
        if lab["timepoint"] == "pretreatment"
    }
    tx = {
        (t["patient_id"], t["product"]): (t["amount"], t["amount_unit"], t["period"])
        for t in _rows(published, "transfusions")
    }
    for (pid, *_), (plt, plt_u, hb, rbc_u) in zip(TABLE2, TABLE3, strict=True):
        assert labs[(pid, "platelets")] == (plt, "10^9/L")
        assert labs[(pid, "hemoglobin")] == (hb, "g/L")
        assert tx[(pid, "platelets")] == (plt_u, "unit", "induction")
        assert tx[(pid, "rbc")] == (rbc_u, "unit", "induction")
    # Results: 4 received platelets (median 20, range 10-60); 8 RBC (median 3.5, range 2-10).
    plt_units = [a for (_, p), (a, *_) in tx.items() if p == "platelets" and a > 0]
    rbc_units = [a for (_, p), (a, *_) in tx.items() if p == "rbc" and a > 0]
    assert (len(plt_units), statistics.median(plt_units), min(plt_units), max(plt_units)) == (
        4,
        20,
        10,
        60,
    )
    assert (len(rbc_units), statistics.median(rbc_units), min(rbc_units), max(rbc_units)) == (
        8,
        3.5,
        2,
        10,
    )


def test_marrow_outcomes_certain_settled_and_ambiguous(published) -> None:  # type: ignore[no-untyped-def]
    marrow = {(m["patient_id"], m["timepoint"]): m for m in _rows(published, "marrow_assessments")}
    d14 = {pid: m for (pid, tp), m in marrow.items() if tp == "d14_21"}
    # Rows 4-13 print MRD-; row 2 is the non-responder (settled by the text); rows 1 and 3 are
    # ambiguous (one MRD-negative, one not assessed) and left without a record.
    assert sorted(pid for pid, m in d14.items() if m["mrd_status"] == "negative") == [
        f"P{i:02d}" for i in range(4, 14)
    ]
    assert d14["P02"]["response_reported"] == "NR"
    assert "P01" not in d14
    assert "P03" not in d14
    pre = {
        pid
        for (pid, tp), m in marrow.items()
        if tp == "pre_consolidation"
        and m["response_reported"] == "CR"
        and m["mrd_status"] == "negative"
    }
    # Results: 12 of 13 achieved CR with MRD negativity after the first induction cycle.
    assert len(pre) == 12
    assert "P02" not in pre
    prov = _rows(published, "provenance")
    amb = {(p["patient_id"], p["record"]) for p in prov if p["status"] == "ambiguous"}
    assert ("P01", "timepoint=d14_21") in amb
    assert ("P03", "timepoint=d14_21") in amb
    settled = {
        (p["patient_id"], p["record"], p["column_name"])
        for p in prov
        if p["status"] == "settled_by_text"
    }
    assert ("P02", "timepoint=d14_21", "response_reported") in settled


def _record_label(table: str, row: dict) -> str:  # type: ignore[type-arg]
    from bvall.cohort import TABLES

    if table == "patients":
        return "patient"
    parts = [
        f"{k}={row[k]}" for k in TABLES[table].key if k != "patient_id" and row.get(k) is not None
    ]
    return ";".join(parts)


def test_every_transcribed_value_has_provenance(published) -> None:  # type: ignore[no-untyped-def]
    prov = {
        (p["table_name"], p["patient_id"], p["record"], p["column_name"]): p
        for p in _rows(published, "provenance")
    }
    checked = 0
    for table in published.table_names:
        if table == "provenance":
            continue
        for row in _rows(published, table):
            record = _record_label(table, row)
            for col, value in row.items():
                if value is None or col in ("patient_id", "course_id"):
                    continue
                key = (table, row["patient_id"], record, col)
                assert key in prov, f"no provenance for {key}"
                assert prov[key]["status"] in ("certain", "settled_by_text")
                checked += 1
    assert checked > 500
    for p in prov.values():
        if p["status"] == "ambiguous":
            assert " | " in (p["readings"] or ""), p
        if p["status"] in ("ambiguous", "not_reported"):
            assert p["note"], p  # why it is missing, and what the text says
        if p["status"] == "settled_by_text":
            assert p["printed"] or p["note"], p  # the sentence that settles it


def test_cli_show_published_json(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("cohort", "show", "published", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["patients"]) == 13
    for p in data["patients"]:
        assert {"patient_id", "sex", "age", "arm"} <= set(p)
    assert data["synthetic"] is False
    assert [p["age"] for p in data["patients"]] == [r[2] for r in TABLE2]


def test_cli_show_published_table_reads_in_a_terminal(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("cohort", "show", "published")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    # One line per patient in a 160-column page, with the ambiguous marrow cells marked.
    assert sum(line.startswith("│ P") for line in lines) >= 13
    assert "? (MRD- | not" in result.stdout
    assert max(len(line) for line in lines) <= 160
