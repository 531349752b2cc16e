"""Hold/resume rules from the labels (BLINCYTO and VENCLEXTA US PI; CLINICAL.md 6.4 and the
venclextahcp.com AML assessment page): a boundary table per agent and event."""

from __future__ import annotations

import pytest

from bvall.errors import InputError, UnknownNameError
from bvall.regimen import classify_dose_action


@pytest.mark.parametrize(
    ("agent", "event", "grade", "kwargs", "action", "summary"),
    [
        (
            "blinatumomab",
            "crs",
            1,
            {},
            "continue",
            "continue blinatumomab: CRS grade 1 (no label dose modification)",
        ),
        (
            "blinatumomab",
            "crs",
            2,
            {},
            "continue",
            "continue blinatumomab: CRS grade 2 (no label dose modification)",
        ),
        ("blinatumomab", "crs", 3, {}, "hold", "hold blinatumomab: CRS grade 3"),
        ("blinatumomab", "CRS", 4, {}, "discontinue", "discontinue blinatumomab: CRS grade 4"),
        (
            "blinatumomab",
            "icans",
            2,
            {},
            "continue",
            "continue blinatumomab: neurological toxicity grade 2 (no label dose modification)",
        ),
        (
            "blinatumomab",
            "neurological_toxicity",
            3,
            {"dose_step": "full"},
            "hold",
            "hold blinatumomab: neurological toxicity grade 3",
        ),
        (
            "blinatumomab",
            "neurological_toxicity",
            3,
            {"dose_step": "low"},
            "discontinue",
            "discontinue blinatumomab: neurological toxicity grade 3",
        ),
        (
            "blinatumomab",
            "neurological_toxicity",
            4,
            {},
            "discontinue",
            "discontinue blinatumomab: neurological toxicity grade 4",
        ),
        ("blinatumomab", "seizure", None, {"count": 1}, "hold", "hold blinatumomab: seizure"),
        (
            "blinatumomab",
            "seizure",
            None,
            {"count": 2},
            "discontinue",
            "discontinue blinatumomab: seizure",
        ),
        (
            "blinatumomab",
            "liver_enzymes",
            None,
            {"analyte": "transaminases", "x_uln": 5.0},
            "continue",
            "continue blinatumomab: liver enzyme elevation (no label dose modification)",
        ),
        (
            "blinatumomab",
            "liver_enzymes",
            None,
            {"analyte": "transaminases", "x_uln": 5.01},
            "hold",
            "hold blinatumomab: liver enzyme elevation",
        ),
        (
            "blinatumomab",
            "liver_enzymes",
            None,
            {"analyte": "bilirubin", "x_uln": 3.0},
            "continue",
            "continue blinatumomab: liver enzyme elevation (no label dose modification)",
        ),
        (
            "blinatumomab",
            "liver_enzymes",
            None,
            {"analyte": "bilirubin", "x_uln": 3.2},
            "hold",
            "hold blinatumomab: liver enzyme elevation",
        ),
        (
            "blinatumomab",
            "other",
            3,
            {},
            "hold",
            "hold blinatumomab: other clinically relevant adverse reaction grade 3",
        ),
        (
            "blinatumomab",
            "other",
            4,
            {},
            "consider_discontinuation",
            "consider discontinuing blinatumomab: other clinically relevant adverse reaction grade 4",
        ),
        (
            "venetoclax",
            "tls_laboratory",
            None,
            {"resolution_hours": 48},
            "hold",
            "hold venetoclax: laboratory TLS",
        ),
        (
            "venetoclax",
            "tls_laboratory",
            None,
            {"resolution_hours": 49},
            "hold",
            "hold venetoclax: laboratory TLS",
        ),
        ("venetoclax", "tls_clinical", None, {}, "hold", "hold venetoclax: clinical TLS"),
        (
            "venetoclax",
            "neutropenia",
            4,
            {"in_remission": False},
            "continue",
            "continue venetoclax: neutropenia grade 4",
        ),
        (
            "venetoclax",
            "neutropenia",
            4,
            {"in_remission": True},
            "hold",
            "hold venetoclax: neutropenia grade 4",
        ),
        (
            "venetoclax",
            "neutropenia",
            3,
            {"in_remission": True},
            "continue",
            "continue venetoclax: neutropenia grade 3 (no label dose modification)",
        ),
        (
            "venetoclax",
            "thrombocytopenia",
            4,
            {"in_remission": False},
            "continue",
            "continue venetoclax: thrombocytopenia grade 4",
        ),
        (
            "venetoclax",
            "non_hematologic",
            3,
            {},
            "hold",
            "hold venetoclax: other clinically relevant adverse reaction grade 3",
        ),
        (
            "venetoclax",
            "non_hematologic",
            2,
            {},
            "continue",
            "continue venetoclax: other clinically relevant adverse reaction grade 2 (no label dose modification)",
        ),
    ],
)
def test_dose_action_table(
    agent: str, event: str, grade: int | None, kwargs: dict, action: str, summary: str
) -> None:  # type: ignore[type-arg]
    a = classify_dose_action(agent=agent, event=event, grade=grade, **kwargs)
    assert a.action == action
    assert a.summary == summary
    assert a.source
    if action != "continue" or a.rule_id:
        assert a.rule_id
        assert a.then


def test_crs_grade_3_text_and_source() -> None:
    a = classify_dose_action(agent="blinatumomab", event="crs", grade=3)
    assert a.summary == "hold blinatumomab: CRS grade 3"
    assert "restart at 9 µg/day" in a.then
    assert a.source.startswith("BLINCYTO US PI")
    assert a.to_dict()["rule_id"] == "blinatumomab-crs-3"


def test_tls_resolution_time_decides_the_resume_dose() -> None:
    fast = classify_dose_action("venetoclax", "tls", resolution_hours=24)
    slow = classify_dose_action("venetoclax", "tls", resolution_hours=72)
    assert "same dose" in fast.then
    assert "reduced dose" in slow.then


def test_missing_context_is_asked_for_not_guessed() -> None:
    a = classify_dose_action("venetoclax", "neutropenia", 4)
    assert a.action == "needs_information"
    assert a.missing == ("in_remission",)
    b = classify_dose_action("blinatumomab", "neurological_toxicity", 3)
    assert b.action == "needs_information"
    assert b.missing == ("dose_step",)
    c = classify_dose_action("blinatumomab", "crs")
    assert c.action == "needs_information"
    assert c.missing == ("grade",)


def test_bad_input() -> None:
    with pytest.raises(UnknownNameError, match="Accepted: crs"):
        classify_dose_action("blinatumomab", "cytokine storm", 3)
    with pytest.raises(UnknownNameError, match="blinatumomab, venetoclax"):
        classify_dose_action("dexamethasone", "crs", 3)
    with pytest.raises(InputError, match="from 1 to 5"):
        classify_dose_action("blinatumomab", "crs", 6)
