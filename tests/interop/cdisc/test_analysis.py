"""The analysis datasets reproduce the study: survival of the analysis tables, the criteria
engine's worst grades, and Table 1 counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from bvall.analysis.tables import build_analysis
from bvall.cohort import load_cohort
from bvall.criteria import derive
from bvall.interop.cdisc import CdiscExport, load_terminology
from bvall.stats import compute_kaplan_meier

LANDMARK = 365


@pytest.fixture(scope="module")
def analysis():  # type: ignore[no-untyped-def]
    return build_analysis(load_cohort("example"))


def _row(table, label: str):  # type: ignore[no-untyped-def]
    return next(r for r in table.rows if r.label == label)


@pytest.mark.parametrize(("paramcd", "heading"), [("OS", "Overall survival"), ("RFS", "Relapse")])
def test_adtte_km_gives_the_one_year_estimates_of_the_analysis_tables(
    example_export: tuple[CdiscExport, Path], analysis, paramcd: str, heading: str
) -> None:
    result, _ = example_export
    adtte = result.datasets["ADTTE"]
    table = analysis.table("table-survival")
    rows = [r for r in table.rows if r.label.startswith(f"{LANDMARK}-day rate")]
    headings = [r for r in table.rows if r.heading]
    row = rows[0] if headings[0].label.startswith(heading) else rows[1]
    assert headings[0 if row is rows[0] else 1].label.startswith(heading)
    arms = [None, "Venetoclax-blinatumomab concurrent", "Venetoclax-blinatumomab sequential"]
    checked = 0
    for arm, cell in zip(arms, row.cells, strict=True):
        data = adtte[adtte["PARAMCD"] == paramcd]
        if arm is not None:
            data = data[data["TRT01P"] == arm]
        if cell.value is None:
            assert data.empty or data["AVAL"].max() < LANDMARK
            continue
        time, event = data["AVAL"].to_numpy(), (1 - data["CNSR"]).to_numpy()
        ours = compute_kaplan_meier(time, event).at([LANDMARK])[0].survival
        kmf = KaplanMeierFitter().fit(time, event_observed=event)
        theirs = float(kmf.survival_function_at_times([LANDMARK]).iloc[0])
        assert ours == pytest.approx(cell.value, abs=1e-12)
        assert theirs == pytest.approx(cell.value, abs=1e-12)
        checked += 1
    assert checked >= 2


def test_adtte_follows_the_endpoints(example_export: tuple[CdiscExport, Path]) -> None:
    result, _ = example_export
    adtte = result.datasets["ADTTE"].set_index(["USUBJID", "PARAMCD"])
    e = derive(load_cohort("example"), "endpoints").to_pandas()
    for r in e.itertuples(index=False):
        os_ = adtte.loc[(f"EXAMPLE-{r.patient_id}", "OS")]
        assert os_["AVAL"] == r.os_days
        assert os_["CNSR"] == (0 if r.os_event else 1)
        assert os_["ADT"] - os_["STARTDT"] == os_["AVAL"]
        assert os_["EVNTDESC"] == ("DEATH" if r.os_event else "ALIVE AT LAST CONTACT")
        assert (os_["CNSDTDSC"] == "") == bool(r.os_event)
    adsl = result.datasets["ADSL"].set_index("USUBJID")
    assert (adtte.xs("OS", level="PARAMCD")["STARTDT"] == adsl["IND1DT"]).all()
    # the pre-phase dexamethasone is exposure: first exposure precedes D1
    assert (adsl["TRTSDT"] <= adsl["IND1DT"]).all()
    assert (adsl["TRTSDT"] < adsl["IND1DT"]).any()


def test_adlb_worst_grades_equal_the_criteria_engine(
    example_export: tuple[CdiscExport, Path],
) -> None:
    result, _ = example_export
    adlb = result.datasets["ADLB"]
    params = load_terminology()["ctcae_param"]
    worst = derive(load_cohort("example"), "worst_grades").to_pandas()
    worst = worst[worst["term_id"].isin(list(params)) & worst["derived_grade"].notna()]
    assert len(worst) > 100
    flagged = adlb[adlb["WORSTFL"] == "Y"].set_index(["USUBJID", "PARAMCD"])
    on = adlb[adlb["ONTRTFL"] == "Y"].groupby(["USUBJID", "PARAMCD"])["ATOXGRN"].max()
    for w in worst.itertuples(index=False):
        key = (f"EXAMPLE-{w.patient_id}", params[w.term_id])
        assert flagged.at[key, "ATOXGRN"] == w.derived_grade, key
        assert flagged.at[key, "ADY"] == w.worst_day, key
        assert on[key] == w.derived_grade
    assert len(flagged) == len(worst)
    # baseline grade is the grade of the baseline record, on every record of the parameter
    base = adlb[adlb["ABLFL"] == "Y"].set_index(["USUBJID", "PARAMCD"])["ATOXGR"]
    for (subject, param), group in adlb.groupby(["USUBJID", "PARAMCD"]):
        expected = base.get((subject, param), "")
        assert set(group["BTOXGR"]) == {expected}


def test_lb_toxicity_grade_is_the_engine_grade(example_export: tuple[CdiscExport, Path]) -> None:
    lb = example_export[0].datasets["LB"]
    neut = lb[(lb["LBTESTCD"] == "NEUT") & (lb["LBTOXGR"] != "")]
    # CTCAE v5.0 Neutrophil count decreased: G4 < 0.5, G3 0.5-<1.0, G2 1.0-<1.5 (x10^9/L)
    g4 = neut[neut["LBSTRESN"] < 0.5]
    assert set(g4["LBTOXGR"]) == {"4"}
    assert set(g4["LBTOX"]) == {"Neutrophil count decreased"}
    g3 = neut[(neut["LBSTRESN"] >= 0.5) & (neut["LBSTRESN"] < 1.0)]
    assert set(g3["LBTOXGR"]) == {"3"}


def test_adae_astct_grades_equal_the_criteria_engine(
    example_export: tuple[CdiscExport, Path],
) -> None:
    result, _ = example_export
    adae = result.datasets["ADAE"]
    e = derive(load_cohort("example"), "endpoints").to_pandas().set_index("patient_id")
    for decod, column in (
        ("Cytokine release syndrome", "crs_max_grade"),
        ("Immune effector cell-associated neurotoxicity syndrome", "icans_max_grade"),
    ):
        events = adae[adae["AEDECOD"] == decod]
        assert set(events["ATOXSCL"]) == {"ASTCT 2019"}
        worst = events.groupby("USUBJID")["ASTCTGR"].max()
        for pid, grade in e[column].items():
            assert worst.get(f"EXAMPLE-{pid}", 0) == grade, (decod, pid)
        assert (events["RULEID"].str.startswith(("astct_crs.", "astct_icans."))).all()
    assert set(adae["TRTEMFL"]) <= {"Y", "N"}
    supp = result.datasets["SUPPAE"]
    # every investigator grade of a CRS/ICANS event survives in SUPPAE or on a reported record
    reported = load_cohort("example").frame("adverse_events")
    n_astct = reported["term"].isin(["Cytokine release syndrome", "ICANS"]).sum()
    kept = (supp["QNAM"] == "AERPTGR").sum() + adae["AESPID"].str.contains("REPORTED").sum()
    assert kept == n_astct


def test_adsl_counts_equal_table_1(example_export: tuple[CdiscExport, Path], analysis) -> None:
    adsl = example_export[0].datasets["ADSL"]
    table = analysis.table("table1-baseline")
    by = {
        "Male": ("SEX", "M"),
        "Female": ("SEX", "F"),
        "Standard": ("RISKGR", "STANDARD"),
        "Poor": ("RISKGR", "POOR"),
        "CD19 positive (flow cytometry)": ("CD19FL", "Y"),
        "Normal": ("KARYOTYP", "normal"),
        "Hypodiploidy": ("KARYOTYP", "hypodiploid"),
        "Hyperdiploidy": ("KARYOTYP", "hyperdiploid"),
        "Other abnormal": ("KARYOTYP", "other"),
        "CNS-1 (no blasts in CSF)": ("CNSSTAT", "CNS-1"),
    }
    arms = [None, "CONCURRENT", "SEQUENTIAL"]
    for label, (column, value) in by.items():
        row = _row(table, label)
        for arm, cell in zip(arms, row.cells, strict=True):
            part = adsl if arm is None else adsl[adsl["ARMCD"] == arm]
            assert set(part.loc[part[column] == value, "SUBJID"]) == set(cell.patients), label
    for label, column in (
        ("Age, years, median (range)", "AGE"),
        ("WBC at diagnosis, ×10⁹/L", "WBCBL"),
        ("Haemoglobin before treatment, g/L", "HGBBL"),
        ("Platelets before treatment, ×10⁹/L", "PLATBL"),
        ("Marrow blasts at diagnosis (morphology), %", "BMBLBL"),
        ("Marrow blasts at diagnosis (flow cytometry), %", "BMFBLBL"),
    ):
        cell = _row(table, label).cells[0]
        assert float(np.median(adsl[column].dropna())) == pytest.approx(cell.value, abs=1e-12)
    assert (adsl["ITTFL"] == "Y").all()
    assert (adsl["SAFFL"] == "Y").all()
    assert (adsl["SYNTHFL"] == "Y").all()


def test_adrs_best_response_and_mrd_equal_the_endpoints(
    example_export: tuple[CdiscExport, Path],
) -> None:
    adrs = example_export[0].datasets["ADRS"]
    e = derive(load_cohort("example"), "endpoints").to_pandas()
    best = adrs[adrs["PARAMCD"] == "BESTRESP"].set_index("USUBJID")["AVALC"]
    mrd = adrs[adrs["PARAMCD"] == "MRDNEG"].set_index("USUBJID")["AVALC"]
    for r in e.itertuples(index=False):
        assert best[f"EXAMPLE-{r.patient_id}"] == r.best_response
        assert mrd[f"EXAMPLE-{r.patient_id}"] == ("Y" if r.mrd_negative else "N")
    assert set(adrs["PARAMCD"]) == {"OVRLRESP", "MRDSTAT", "BESTRESP", "MRDNEG", "MRDNEG14"}
    assert pd.Series(adrs["RULEID"]).str.len().min() > 0


def test_adsl_lesion_flags_equal_table_1_and_cover_the_vocabulary(
    example_export: tuple[CdiscExport, Path], analysis
) -> None:
    from bvall.cohort.vocab import vocabulary

    flags = load_terminology()["lesion_flag"]
    assert set(flags) == set(vocabulary("genetic_lesion").codes)
    adsl = example_export[0].datasets["ADSL"]
    table = analysis.table("table1-baseline")
    labels = {t.code: t.label for t in vocabulary("genetic_lesion").terms}
    rows = 0
    for code, var in flags.items():
        row = next((r for r in table.rows if r.label == labels[code]), None)
        if row is None:  # Table 1 shows the lesions someone carries
            assert "Y" not in set(adsl[var])
            continue
        rows += 1
        for arm, cell in zip([None, "CONCURRENT", "SEQUENTIAL"], row.cells, strict=True):
            part = adsl if arm is None else adsl[adsl["ARMCD"] == arm]
            assert set(part.loc[part[var] == "Y", "SUBJID"]) == set(cell.patients), code
            known = part[part[var] != ""]
            if cell.value is not None:
                assert (known[var] == "Y").mean() == pytest.approx(cell.value, abs=1e-12)
    assert rows >= 5


def test_rule_ids_name_the_rule_and_its_file_version(
    example_export: tuple[CdiscExport, Path],
) -> None:
    from bvall.criteria.rules import load_rule_file

    result, _ = example_export
    version = load_rule_file("ctcae_v5_labs").version
    adlb = result.datasets["ADLB"]
    grades = derive(load_cohort("example"), "grades").to_pandas()
    assert set(adlb["RULEID"]) == {
        f"{r}@{version}" for r in grades.loc[grades["kind"] == "lab", "rule_id"]
    }
    adtte = result.datasets["ADTTE"]
    assert set(adtte["RULEID"]) == {f"endpoints@{load_rule_file('endpoints').version}"}


def test_a_reported_crs_without_raw_data_keeps_its_reported_grade(
    published_export: tuple[CdiscExport, Path],
) -> None:
    result, _ = published_export
    ae = result.datasets["AE"]
    reported = load_cohort("published").frame("adverse_events")
    crs = reported[reported["term"] == "Cytokine release syndrome"]
    got = ae[ae["AEDECOD"] == "Cytokine release syndrome"]
    assert len(got) == len(crs) > 0
    assert sorted(got["AETOXGR"]) == sorted(str(int(g)) for g in crs["grade"])
    assert got["AESPID"].str.startswith("CRS-REPORTED-").all()
    adae = result.datasets["ADAE"]
    crs_adae = adae[adae["AEDECOD"] == "Cytokine release syndrome"]
    assert (crs_adae["RPTGR"] == crs_adae["ATOXGRN"]).all()
    assert set(crs_adae["ATOXSCL"]) == {"ASTCT 2019"}
