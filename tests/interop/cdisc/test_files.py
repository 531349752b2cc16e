"""The files of an export: XPT read back by an independent reader, Dataset-JSON, define.xml."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from pandas.testing import assert_frame_equal

from bvall.criteria.rules import load_rule_file
from bvall.interop.cdisc import CdiscExport, load_spec

SPECS = list(load_spec())
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}


@pytest.mark.parametrize("name", SPECS)
def test_xpt_read_back_by_pandas_equals_the_frame_written(
    example_export: tuple[CdiscExport, Path], name: str
) -> None:
    result, out = example_export
    frame = result.datasets[name]
    back = pd.read_sas(out / f"{name.lower()}.xpt", format="xport", encoding="utf-8")
    assert list(back.columns) == list(frame.columns)
    assert len(back) == len(frame) > 0
    # pandas decodes the IBM-float zero ReadStat writes as 16**-65 (5.4e-79), so numbers are
    # compared to 1e-70; every non-zero value and every text is exact. pyreadstat's own reader
    # gives the frame back exactly.
    assert_frame_equal(back, frame, check_dtype=True, check_exact=False, rtol=0, atol=1e-70)
    zero = frame.select_dtypes("float64") == 0
    assert (
        (
            back.select_dtypes("float64")[~zero].fillna(-1)
            == frame.select_dtypes("float64")[~zero].fillna(-1)
        )
        .all()
        .all()
    )
    own, _meta = pyreadstat.read_xport(
        str(out / f"{name.lower()}.xpt"), disable_datetime_conversion=True
    )
    own = own.astype(dict.fromkeys(frame.select_dtypes("float64").columns, "float64"))
    assert_frame_equal(own, frame, check_dtype=True, check_exact=True)


@pytest.mark.parametrize("name", SPECS)
def test_xpt_of_a_cohort_without_dates_reads_back_too(
    published_export: tuple[CdiscExport, Path], name: str
) -> None:
    result, out = published_export
    frame = result.datasets[name]
    own, _meta = pyreadstat.read_xport(
        str(out / f"{name.lower()}.xpt"), disable_datetime_conversion=True
    )
    assert list(own.columns) == list(frame.columns)
    assert len(own) == len(frame)
    if len(frame):
        back = pd.read_sas(out / f"{name.lower()}.xpt", format="xport", encoding="utf-8")
        assert_frame_equal(back, frame, check_dtype=True, check_exact=False, rtol=0, atol=1e-70)


@pytest.mark.parametrize("name", SPECS)
def test_xpt_metadata_has_the_specified_labels_and_the_synthetic_mark(
    example_export: tuple[CdiscExport, Path], name: str
) -> None:
    _result, out = example_export
    spec = load_spec()[name]
    _frame, meta = pyreadstat.read_xport(str(out / f"{name.lower()}.xpt"), metadataonly=True)
    assert meta.table_name == name
    assert meta.file_label == f"{spec.label} (SYNTHETIC)"
    assert meta.column_names_to_labels == {v.name: v.label for v in spec.variables}


def test_published_cohort_is_not_marked_synthetic(
    published_export: tuple[CdiscExport, Path],
) -> None:
    result, out = published_export
    _frame, meta = pyreadstat.read_xport(str(out / "dm.xpt"), metadataonly=True)
    assert meta.file_label == "Demographics"
    assert set(result.datasets["ADSL"]["SYNTHFL"]) == {"N"}
    assert "SYNTHETIC" not in (out / "define.xml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", SPECS)
def test_dataset_json_holds_the_same_values(
    example_export: tuple[CdiscExport, Path], name: str
) -> None:
    result, out = example_export
    spec, frame = load_spec()[name], result.datasets[name]
    doc = json.loads((out / f"{name.lower()}.json").read_text(encoding="utf-8"))
    assert doc["datasetJSONVersion"] == "1.1.0"
    assert doc["name"] == name
    assert doc["label"].endswith("(SYNTHETIC)")
    assert doc["records"] == len(doc["rows"]) == len(frame)
    assert [c["name"] for c in doc["columns"]] == list(spec.names)
    for col in doc["columns"]:
        var = spec.variable(col["name"])
        if var.type == "date":
            assert (col["dataType"], col["targetDataType"]) == ("date", "integer")
        if not var.numeric:
            assert col["length"] >= int(frame[var.name].str.len().max() or 0)
    for row, record in zip(doc["rows"], frame.itertuples(index=False, name=None), strict=True):
        for var, got, want in zip(spec.variables, row, record, strict=True):
            if var.type == "date":
                expected = (
                    None
                    if math.isnan(want)
                    else (pd.Timestamp("1960-01-01") + pd.Timedelta(days=want)).date().isoformat()
                )
                assert got == expected
            elif var.numeric:
                assert (got is None and math.isnan(want)) or got == want
            else:
                assert got == (want or None)


def test_define_xml_describes_every_dataset_and_names_the_rules(
    example_export: tuple[CdiscExport, Path],
) -> None:
    _result, out = example_export
    root = ET.parse(out / "define.xml").getroot()
    mdv = root.find("odm:Study/odm:MetaDataVersion", NS)
    assert mdv is not None
    assert mdv.get("{http://www.cdisc.org/ns/def/v2.1}DefineVersion") == "2.1.0"
    groups = {g.get("Name"): g for g in mdv.findall("odm:ItemGroupDef", NS)}
    assert list(groups) == SPECS
    methods = {m.get("OID"): "".join(m.itertext()) for m in mdv.findall("odm:MethodDef", NS)}
    items = {i.get("OID") for i in mdv.findall("odm:ItemDef", NS)}
    for name, spec in load_spec().items():
        klass = groups[name].find("def:Class", NS)
        assert klass is not None
        assert klass.get("Name") == spec.cls
        refs = groups[name].findall("odm:ItemRef", NS)
        assert [r.get("ItemOID") for r in refs] == [f"IT.{name}.{v}" for v in spec.names]
        for var in spec.variables:
            assert f"IT.{name}.{var.name}" in items
            if var.origin == "Derived":
                text = methods[f"MT.{name}.{var.name}"]
                for rule in var.rules:
                    assert f"{rule} version {load_rule_file(rule).version}" in text
    # the toxicity grade says which rule file derived it
    assert "ctcae_v5_labs version" in methods["MT.LB.LBTOXGR"]
    assert "SYNTHETIC" in "".join(root.itertext())


def test_define_code_lists_hold_every_value_written(
    example_export: tuple[CdiscExport, Path],
) -> None:
    result, out = example_export
    mdv = ET.parse(out / "define.xml").getroot().find("odm:Study/odm:MetaDataVersion", NS)
    assert mdv is not None
    lists = {
        c.get("OID"): {i.get("CodedValue"): "".join(i.itertext()).strip() for i in c}
        for c in mdv.findall("odm:CodeList", NS)
    }
    aliases = {
        c.get("OID"): a.get("Name")
        for c in mdv.findall("odm:CodeList", NS)
        for a in c.findall("odm:Alias", NS)
    }
    assert aliases["CL.SEX"] == "C66731"
    assert aliases["CL.LBTESTCD"] == "C65047"
    checked = 0
    for name, spec in load_spec().items():
        frame = result.datasets[name]
        for var in spec.variables:
            if not var.codelist_id or frame.empty:
                continue
            written = set(frame[var.name]) - {""}
            assert written <= set(lists[f"CL.{var.codelist_id}"]), (name, var.name)
            checked += 1
            if var.decode:
                for code, decode in zip(frame[var.name], frame[var.decode], strict=True):
                    if code:
                        assert lists[f"CL.{var.codelist_id}"][code] == decode
    assert checked > 40
    assert lists["CL.LBTESTCD"]["NEUT"] == "Neutrophils"
