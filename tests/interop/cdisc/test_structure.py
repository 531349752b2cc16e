"""Structural rules of every dataset: names, labels, lengths, ISO 8601, keys, terminology."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from bvall.errors import InputError, SpecError
from bvall.interop.cdisc import CdiscExport, check_formats, load_spec, load_terminology
from bvall.interop.cdisc.spec import conform_dataset

SPECS = list(load_spec())
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?$")


@pytest.mark.parametrize("name", SPECS)
def test_every_dataset_keeps_the_xpt_v5_and_cdisc_limits(
    example_export: tuple[CdiscExport, Path], name: str
) -> None:
    result, _out = example_export
    frame, spec = result.datasets[name], load_spec()[name]
    assert len(spec.label) + len(" (SYNTHETIC)") <= 40
    for var in spec.variables:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]{0,7}", var.name)
        assert 1 <= len(var.label) <= 40
        values = frame[var.name]
        if var.numeric:
            assert values.dtype == "float64"
            if var.type in ("integer", "date"):
                assert all(v.is_integer() for v in values.dropna())
        else:
            assert all(isinstance(v, str) and v.isascii() and len(v) <= 200 for v in values)
        if var.type == "datetime":
            assert all(v == "" or ISO.match(v) for v in values), var.name
    assert frame["STUDYID"].nunique() == 1
    dm = result.datasets["DM"]
    assert set(frame["USUBJID"]) <= set(dm["USUBJID"])
    if not spec.is_adam and "DOMAIN" in spec.names:
        assert set(frame["DOMAIN"]) == {name}
    keys = list(spec.keys)
    assert not frame.duplicated(keys).any(), f"{name}: duplicate keys {keys}"


def test_lab_terms_and_units_are_cdisc_terminology(
    example_export: tuple[CdiscExport, Path],
) -> None:
    lb = example_export[0].datasets["LB"]
    term = load_terminology()
    assert set(lb["LBTESTCD"]) <= {t["testcd"] for t in term["lab_test"].values()} | {"BLASTLE"}
    assert {"NEUT", "PLAT", "HGB", "ALT", "WBC"} <= set(lb["LBTESTCD"])
    assert set(lb["LBSTRESU"]) <= set(term["unit"].values())
    neut = lb[lb["LBTESTCD"] == "NEUT"]
    assert set(neut["LBSTRESU"]) == {"10^9/L"}
    assert set(lb["LBNRIND"]) <= {"", "LOW", "NORMAL", "HIGH"}
    # LBNRIND against the standard-unit range
    low = lb[(lb["LBNRIND"] == "LOW")]
    assert (low["LBSTRESN"] < low["LBSTNRLO"]).all()


def test_sdtm_study_days_have_no_day_zero(example_export: tuple[CdiscExport, Path]) -> None:
    result, _ = example_export
    for name, column in (("LB", "LBDY"), ("VS", "VSDY"), ("EX", "EXSTDY"), ("AE", "AESTDY")):
        days = result.datasets[name][column].dropna()
        assert (days != 0).all(), name
    lb = result.datasets["LB"]
    dm = result.datasets["DM"].set_index("USUBJID")
    # LBDY = LBDTC - RFSTDTC + 1 on or after RFSTDTC, LBDTC - RFSTDTC before (SDTMIG 3.4 4.4.4)
    dated = lb[lb["LBDTC"] != ""].head(400)
    for r in dated.itertuples(index=False):
        delta = (pd.Timestamp(r.LBDTC[:10]) - pd.Timestamp(dm.at[r.USUBJID, "RFSTDTC"])).days
        assert (delta + 1 if delta >= 0 else delta) == r.LBDY


def test_a_cohort_without_dates_exports_study_days_and_visits(
    published_export: tuple[CdiscExport, Path],
) -> None:
    result, _ = published_export
    dm = result.datasets["DM"]
    assert set(dm["STUDYID"]) == {"BV-JSPH"}
    assert set(dm["RFSTDTC"]) == {""}
    lb = result.datasets["LB"]
    assert set(lb["VISIT"]) >= {"DIAGNOSIS", "PRETREATMENT"}
    assert result.datasets["ADTTE"].empty


def test_conform_refuses_non_ascii_and_bad_dates_quoting_the_value() -> None:
    spec = load_spec()["DS"]
    row = dict.fromkeys(spec.names, "") | {"DSSEQ": 1, "DSSTDY": 3}
    bad = pd.DataFrame([row | {"DSTERM": "DEATH: µ"}])
    with pytest.raises(SpecError, match="'DEATH: µ' is not ASCII"):
        conform_dataset(spec, bad)
    with pytest.raises(SpecError, match="'07/12/2026' is not an ISO 8601"):
        conform_dataset(spec, pd.DataFrame([row | {"DSSTDTC": "07/12/2026"}]))
    with pytest.raises(SpecError, match="missing \\['DSSEQ'\\]"):
        conform_dataset(spec, pd.DataFrame([row]).drop(columns=["DSSEQ"]))


def test_unknown_format_is_named() -> None:
    assert check_formats(["XPT", "json", "xpt"]) == ("xpt", "json")
    with pytest.raises(InputError, match="'sas7bdat' is not known"):
        check_formats(["sas7bdat"])


def test_non_ascii_text_goes_to_dataset_json_and_is_refused_by_xpt(tmp_path: Path) -> None:
    from bvall.cohort import TABLES, Cohort, load_cohort
    from bvall.interop.cdisc import export_cdisc

    published = load_cohort("published")
    tables = {name: published[name].to_pandas() for name in TABLES}
    tables["adverse_events"].loc[0, "term_verbatim"] = "转氨酶升高"
    cohort = Cohort.from_tables(tables, published.metadata)
    with pytest.raises(SpecError, match=re.escape("AE.AETERM: '转氨酶升高' is not ASCII")):
        export_cdisc(cohort, tmp_path / "xpt", formats=["xpt"])
    assert not (tmp_path / "xpt").exists()
    result = export_cdisc(cohort, tmp_path / "json", formats=["json"])
    assert "转氨酶升高" in set(result.datasets["AE"]["AETERM"])
    assert "转氨酶升高" in (tmp_path / "json" / "ae.json").read_text(encoding="utf-8")


def test_last_observation_before_exposure_is_the_engines_baseline(
    example_export: tuple[CdiscExport, Path],
) -> None:
    lb = example_export[0].datasets["LB"]
    flagged = lb[lb["LBLOBXFL"] == "Y"]
    assert len(flagged) > 100
    assert not flagged.duplicated(["USUBJID", "LBTESTCD"]).any()
    # before D1 (SDTM day < 1); the engine takes the last value on or before bvall day 0
    assert (flagged["LBDY"] < 1).all()
    for (subject, test), group in lb[lb["LBDY"] < 1].groupby(["USUBJID", "LBTESTCD"]):
        mine = flagged[(flagged["USUBJID"] == subject) & (flagged["LBTESTCD"] == test)]
        if len(mine):
            assert mine["LBDY"].iloc[0] == group["LBDY"].max()


def test_a_study_id_must_be_ascii() -> None:
    from bvall.cohort import load_cohort
    from bvall.interop.cdisc.study import Study

    with pytest.raises(InputError, match="Study id 'BV–01' must be 1-200 ASCII"):
        Study(load_cohort("published"), "BV–01")
