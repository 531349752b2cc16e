"""The criteria files: they load, every setting is documented where its rules live, and a
malformed file is refused whole with a message that names the row and the problem."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from bvall.criteria.eligibility import build_eligibility
from bvall.criteria.lab_criteria import build_lab_criteria, load_lab_criteria
from bvall.criteria.risk import build_risk_table
from bvall.criteria.rules import RULE_FILES, RuleFile, load_rule_file, setting_docs
from bvall.criteria.settings import CriteriaSettings, setting_names
from bvall.criteria.sign_criteria import build_sign_criteria
from bvall.criteria.tls import build_tls_criteria
from bvall.errors import InputError, SpecError, UnknownNameError


def test_every_file_loads_with_a_version_and_a_source() -> None:
    for name in RULE_FILES:
        rf = load_rule_file(name)
        assert rf.rule_version == f"{name}@{rf.version}"
        assert rf.source


def test_every_setting_is_documented_once_with_its_default() -> None:
    docs = setting_docs()
    assert set(docs) == set(setting_names())
    default = CriteriaSettings()
    for name, doc in docs.items():
        value = getattr(default, name)
        if isinstance(value, dt.date):
            value = value.isoformat()
        assert doc.default == value, name
        assert doc.justification, name
        assert doc.source, name


def test_settings_reject_unknown_values_and_names() -> None:
    with pytest.raises(InputError, match="count_recovery_comparator='>>' is not an option"):
        CriteriaSettings(count_recovery_comparator=">>")  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="did you mean 'tls_criteria'"):
        CriteriaSettings.from_mapping({"tls_criterias": "howard_2011"})
    with pytest.raises(InputError, match="is not a whole number"):
        CriteriaSettings.from_mapping({"induction_max_day": "six"})
    s = CriteriaSettings.from_mapping(
        {"mrd_requires_sensitivity": "false", "study_period_end": "2025-06-30"}
    )
    assert s.mrd_requires_sensitivity is False
    assert s.study_period_end == dt.date(2025, 6, 30)
    assert s.changed() == {
        "mrd_requires_sensitivity": False,
        "study_period_end": dt.date(2025, 6, 30),
    }


def _with(
    rf: RuleFile, table: str, index: int, change: Callable[[dict[str, Any]], None]
) -> RuleFile:
    rows = [dict(r) for r in rf.rows(table)]
    change(rows[index])
    tables = dict(rf.tables)
    tables[table] = tuple(rows)
    return dataclasses.replace(rf, tables=tables)


def _lab_row(term: str, grade: int, clause: str = "") -> int:
    rf = load_rule_file("ctcae_v5_labs")
    for i, r in enumerate(rf.rows("criterion")):
        if r["term"] == term and r["grade"] == grade and r.get("clause", "") == clause:
            return i
    raise AssertionError((term, grade, clause))


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(row: dict[str, Any]) -> None:
        row[key] = value

    return change


ANC4 = ("neutrophil_count_decreased", 4)


@pytest.mark.parametrize(
    ("row", "change", "message"),
    [
        (ANC4, _set("threshold", 0.5), "unknown key 'threshold'"),
        (ANC4, _set("unit", "mg/dL"), "Unit 'mg/dL' is not accepted for Absolute neutrophil count"),
        (ANC4, _set("value", 1.2), "not monotone"),
        (ANC4, _set("comparator", ">"), "points the wrong way"),
        (ANC4, _set("basis", "ratio"), "basis 'ratio' is not known"),
        (ANC4, _set("requires", ["value", "LLN"]), "requires = \\['LLN', 'value'\\]"),
        (ANC4, _set("grade", 5), "grade 5 is outside 1-4"),
        (ANC4, _set("direction", "H"), "direction 'H' differs"),
        (ANC4, _set("term", "neutropenia"), "has no \\[\\[term\\]\\] row"),
        (ANC4, _set("when", "hypokalaemia_lln_to_3=sometimes"), "is not an option"),
        (ANC4, _set("when", "no_such_setting=1"), "is not a criteria setting"),
        (ANC4, _set("value", True), "is not a number"),
        (("anemia", 1), _set("grade", 2), "duplicate of row"),
    ],
)
def test_malformed_lab_criteria_are_refused(
    row: tuple[str, int], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    rf = load_rule_file("ctcae_v5_labs")
    broken = _with(rf, "criterion", _lab_row(*row), change)
    with pytest.raises(SpecError, match=message):
        build_lab_criteria(broken)


def test_unknown_term_and_test_are_refused() -> None:
    rf = load_rule_file("ctcae_v5_labs")
    with pytest.raises(SpecError, match="is not in the ae_term vocabulary"):
        build_lab_criteria(_with(rf, "term", 0, _set("term", "Neutropenia")))
    with pytest.raises(SpecError, match="Lab test 'neutrophils' is not known"):
        build_lab_criteria(_with(rf, "term", 0, _set("test", "neutrophils")))


def test_the_shipped_lab_criteria_have_every_term_of_the_issue() -> None:
    terms = {t.term for t in load_lab_criteria().terms.values()}
    assert {
        "Neutrophil count decreased",
        "Platelet count decreased",
        "Anemia",
        "White blood cell decreased",
        "Lymphocyte count decreased",
        "Alanine aminotransferase increased",
        "Aspartate aminotransferase increased",
        "Blood bilirubin increased",
        "Creatinine increased",
        "Fibrinogen decreased",
        "Hyperkalemia",
        "Hypokalemia",
        "Hypocalcemia",
        "Hyperuricemia",
    } <= terms


def _first(rf: RuleFile, table: str, **match: Any) -> int:
    for i, r in enumerate(rf.rows(table)):
        if all(r.get(k) == v for k, v in match.items()):
            return i
    raise AssertionError(match)


def test_malformed_crs_and_icans_rows_are_refused() -> None:
    crs = load_rule_file("astct_crs")
    i = _first(crs, "criterion", parameter="hypoxia", grade=2)
    with pytest.raises(SpecError, match="code 'cpap' of hypoxia has two grades"):
        build_sign_criteria(_with(crs, "criterion", i, _set("devices", ["cpap", "blow_by"])))
    j = _first(crs, "criterion", parameter="hypoxia", grade=4)
    with pytest.raises(SpecError, match="not in the oxygen_device vocabulary"):
        build_sign_criteria(_with(crs, "criterion", j, _set("devices", ["ecmo"])))
    icans = load_rule_file("astct_icans")
    k = _first(icans, "criterion", domain="ice", grade=3)
    with pytest.raises(SpecError, match="not monotone"):
        build_sign_criteria(_with(icans, "criterion", k, _set("value", 8)))
    with pytest.raises(SpecError, match="input 'ice' is not known"):
        build_sign_criteria(_with(icans, "criterion", k, _set("input", "ice")))


def test_malformed_tls_risk_and_eligibility_rows_are_refused() -> None:
    tls = load_rule_file("tls")
    i = _first(tls, "criterion", set="cairo_bishop_2004", analyte="potassium")
    with pytest.raises(SpecError, match="Unit 'mg/dL' is not accepted for Potassium"):
        build_tls_criteria(_with(tls, "criterion", i, _set("unit", "mg/dL")))
    with pytest.raises(SpecError, match="change criterion points the wrong way"):
        build_tls_criteria(_with(tls, "criterion", i, _set("change_pct", -25.0)))
    risk = load_rule_file("nccn_risk")
    j = _first(risk, "lesion", lesion="TP53")
    with pytest.raises(SpecError, match="'TP53_mut' is not in the genetic_lesion vocabulary"):
        build_risk_table(_with(risk, "lesion", j, _set("lesion", "TP53_mut")))
    with pytest.raises(SpecError, match="group must be one of"):
        build_risk_table(_with(risk, "lesion", j, _set("group", "high")))
    elig = load_rule_file("eligibility")
    k = _first(elig, "criterion", id="age")
    with pytest.raises(SpecError, match="field 'age' is not one of"):
        build_eligibility(_with(elig, "criterion", k, _set("field", "age")))


def test_a_setting_default_outside_its_options_is_refused(tmp_path: Any) -> None:
    rf = load_rule_file("tls")
    docs: Mapping[str, Any] = {d.name: d for d in rf.settings}
    assert docs["tls_criteria"].default in docs["tls_criteria"].options
