"""Three-valued conditions: missing is unknown, ambiguity is respected."""

from __future__ import annotations

import pytest

from bvall.analysis.claims.conditions import CohortView, compile_condition, t_and, t_or
from bvall.errors import SpecError
from tests.analysis.claims.cohorts import ambiguous, cohort, patients

PEOPLE = patients(
    ("A", "M", 50, "concurrent"), ("B", "F", 60, "sequential"), ("C", "M", 70, "sequential")
)


def verdicts(spec: dict, **tables) -> dict[str, bool | None]:  # type: ignore[no-untyped-def, type-arg]
    view = CohortView(cohort(patients=PEOPLE, **tables))
    return {p: v for p, (v, _) in compile_condition("test", spec).evaluate(view).items()}


def test_kleene_logic() -> None:
    assert t_and([True, None]) is None
    assert t_and([False, None]) is False
    assert t_or([True, None]) is True
    assert t_or([False, None]) is None
    assert t_or([]) is False


def test_operators_on_rows() -> None:
    aes = [
        {"patient_id": "A", "term": "Febrile neutropenia", "grade": "3"},
        {"patient_id": "B", "term": "Febrile neutropenia", "grade": "2"},
        {"patient_id": "C", "term": "Lung infection", "grade": "3"},
    ]
    spec = {"table": "adverse_events", "where": {"term": "Febrile neutropenia", "grade": {"ge": 3}}}
    assert verdicts(spec, adverse_events=aes) == {"A": True, "B": False, "C": False}
    listed = {"table": "adverse_events", "where": {"term": ["Lung infection", "Sepsis"]}}
    assert verdicts(listed, adverse_events=aes) == {"A": False, "B": False, "C": True}
    negated = {"not": {"table": "adverse_events", "where": {"grade": {"lt": 3}}}}
    assert verdicts(negated, adverse_events=aes) == {"A": True, "B": False, "C": True}


def test_missing_cell_is_unknown_not_no() -> None:
    aes = [{"patient_id": "A", "term": "Febrile neutropenia"}]
    spec = {"table": "adverse_events", "where": {"term": "Febrile neutropenia", "grade": {"ge": 3}}}
    view = CohortView(cohort(patients=PEOPLE, adverse_events=aes))
    result = compile_condition("t", spec).evaluate(view)
    assert result["A"][0] is None
    assert "adverse_events.grade is not recorded (term=Febrile neutropenia)" in result["A"][1][0]
    assert result["B"] == (False, ())


@pytest.mark.parametrize(
    ("readings", "expected"),
    [("3 | 4", True), ("1 | 2", False), ("2 | 3", None), ("3 | unknown", None)],
)
def test_ambiguous_cell_is_evaluated_under_each_reading(
    readings: str, expected: bool | None
) -> None:
    aes = [{"patient_id": "A", "term": "Febrile neutropenia"}]
    prov = [ambiguous("adverse_events", "A", "term=Febrile neutropenia", "grade", readings)]
    spec = {"table": "adverse_events", "where": {"grade": {"ge": 3}}}
    assert verdicts(spec, adverse_events=aes, provenance=prov)["A"] is expected


def test_record_that_may_not_exist() -> None:
    # A provenance entry for a record the table lacks: the record may exist, so the patient is
    # unknown where the known key fits, and still false where it does not.
    marrow = [{"patient_id": "B", "timepoint": "d14_21", "mrd_status": "negative"}]
    prov = [
        ambiguous(
            "marrow_assessments", "A", "timepoint=d14_21", "mrd_status", "MRD- | not assessed"
        )
    ]
    d14 = {"table": "marrow_assessments", "where": {"timepoint": "d14_21"}}
    assert verdicts(d14, marrow_assessments=marrow, provenance=prov) == {
        "A": None,
        "B": True,
        "C": False,
    }
    other = {"table": "marrow_assessments", "where": {"timepoint": "pre_consolidation"}}
    assert verdicts(other, marrow_assessments=marrow, provenance=prov)["A"] is False


def test_all_and_any() -> None:
    aes = [
        {"patient_id": "A", "term": "Febrile neutropenia", "grade": "3"},
        {"patient_id": "A", "term": "Lung infection", "grade": "3"},
        {"patient_id": "B", "term": "Febrile neutropenia"},
    ]
    both = {
        "all": [
            {"table": "adverse_events", "where": {"term": "Febrile neutropenia"}},
            {"table": "adverse_events", "where": {"term": "Lung infection"}},
        ]
    }
    assert verdicts(both, adverse_events=aes) == {"A": True, "B": False, "C": False}
    either = {
        "any": [
            {"table": "adverse_events", "where": {"grade": 3}},
            {"table": "patients", "where": {"age_years": {"gt": 65}}},
        ]
    }
    assert verdicts(either, adverse_events=aes) == {"A": True, "B": None, "C": True}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"table": "adverse_event"},
            "'adverse_event' is not a cohort table; did you mean 'adverse_events'",
        ),
        (
            {"table": "adverse_events", "where": {"grde": 3}},
            "column 'grde' is not in adverse_events; did you mean 'grade'",
        ),
        (
            {"table": "adverse_events", "where": {"term": "Febrile neutropaenia"}},
            "'Febrile neutropaenia' is not a code of vocabulary 'ae_term'; did you mean",
        ),
        ({"table": "adverse_events", "where": {"grade": "3"}}, "'3' is not a number"),
        (
            {"table": "adverse_events", "where": {"grade": {"gte": 3}}},
            "operator 'gte' is not known; did you mean",
        ),
        ({"all": []}, "expected a non-empty list"),
        ({"tabel": "patients"}, "a condition is {table = ..., where = {...}}"),
    ],
)
def test_bad_conditions_say_how_to_fix(spec: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SpecError) as exc:
        compile_condition("claim 'x'.recompute.match", spec)
    assert message in str(exc.value)
    assert "claim 'x'.recompute.match" in str(exc.value)
