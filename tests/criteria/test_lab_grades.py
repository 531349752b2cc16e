"""CTCAE v5.0 lab grades: boundary tables, one per term.

Every row is (term, test, value, unit, LLN, ULN, baseline, expected grade) with the CTCAE v5.0
wording it checks (NCI CTCAE v5.0, 27 Nov 2017; SI encoding of pharmaverse/admiral
ncictcaev5.json, CLINICAL.md 1.2). Each table has the values just below, at and just above every
threshold, a value in another accepted unit, a unit the test does not accept, a missing reference
range and, for baseline-dependent terms, a missing baseline. ``None`` = not gradable.
``expected_max`` is the highest grade still possible when some criteria cannot be evaluated
(issue 15: a grade that is certain is kept, ``grade_max`` says how high it may be); it defaults to
the expected grade.
All cases are graded in one query (one patient per case: baseline on day 0, value on day 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import pyarrow as pa
import pytest

from bvall.cohort.units import lab_test
from bvall.criteria.grading import grade_lab_values
from bvall.criteria.labs import prepare_labs
from bvall.criteria.settings import CriteriaSettings
from bvall.errors import UnknownUnitError


@dataclass(frozen=True)
class Case:
    term: str
    test: str
    value: float
    unit: str
    lln: float | None
    uln: float | None
    expected: int | None
    baseline: float | None = None  # same unit as the value, on day 0, same reference range
    qualifier: str | None = None
    albumin: float | None = 40.0
    note: str = ""
    expected_max: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def L(term: str, test: str, unit: str, lln: float | None, uln: float | None):  # type: ignore[no-untyped-def]  # noqa: N802
    def make(value: float, expected: int | None, **kw: Any) -> Case:
        kw.setdefault("lln", lln)
        kw.setdefault("uln", uln)
        kw.setdefault("unit", unit)
        return Case(term, test, value, expected=expected, **kw)

    return make


ANC = L("neutrophil_count_decreased", "anc", "10^9/L", 1.8, 6.3)
PLT = L("platelet_count_decreased", "platelets", "10^9/L", 125.0, 350.0)
HB = L("anemia", "hemoglobin", "g/L", 130.0, 175.0)
WBC = L("white_blood_cell_decreased", "wbc", "10^9/L", 3.5, 9.5)
ALC = L("lymphocyte_count_decreased", "alc", "10^9/L", 1.1, 3.2)
ALT = L("alanine_aminotransferase_increased", "alt", "U/L", 9.0, 50.0)
AST = L("aspartate_aminotransferase_increased", "ast", "U/L", 15.0, 40.0)
BILI = L("blood_bilirubin_increased", "bilirubin", "µmol/L", 3.4, 20.0)
CREAT = L("creatinine_increased", "creatinine", "µmol/L", 57.0, 100.0)
FIB = L("fibrinogen_decreased", "fibrinogen", "g/L", 2.0, 4.0)
HYPERK = L("hyperkalemia", "potassium", "mmol/L", 3.5, 5.3)
HYPOK = L("hypokalemia", "potassium", "mmol/L", 3.5, 5.3)
HYPOCA = L("hypocalcemia", "calcium", "mmol/L", 2.11, 2.52)
ICA = L("hypocalcemia_ionized", "calcium_ionized", "mmol/L", 1.15, 1.32)
URIC = L("hyperuricemia", "uric_acid", "µmol/L", 208.0, 428.0)

CASES: list[Case] = [
    # Neutrophil count decreased: G1 <LLN-1.5; G2 <1.5-1.0; G3 <1.0-0.5; G4 <0.5 x 10e9/L.
    ANC(0.49, 4),
    ANC(0.5, 3),
    ANC(0.51, 3),
    ANC(0.99, 3),
    ANC(1.0, 2),
    ANC(1.01, 2),
    ANC(1.49, 2),
    ANC(1.5, 1),
    ANC(1.51, 1),
    ANC(1.79, 1),
    ANC(1.8, 0),
    ANC(1.81, 0),
    ANC(490.0, 4, unit="/µL", note="<500/mm3"),
    ANC(500.0, 3, unit="/µL"),
    ANC(0.3, None, unit="IU/mL", note="unit not accepted"),
    ANC(0.4, 4, lln=None, note="caught by the absolute grade 4 threshold without an LLN"),
    ANC(1.7, None, lln=None, note="grade 1 needs the LLN"),
    ANC(2.5, None, lln=None, note="grade 0 needs the LLN too"),
    ANC(0.1, 4, qualifier="<", note="'<0.1' is below 0.5"),
    ANC(0.5, 4, qualifier="<", note="'<0.5' is below 0.5"),
    ANC(0.6, 3, qualifier="<", expected_max=4, note="'<0.6': grade 3 at least, 4 possible"),
    # Platelet count decreased: G1 <LLN-75; G2 <75-50; G3 <50-25; G4 <25 x 10e9/L.
    PLT(24.9, 4),
    PLT(25.0, 3),
    PLT(25.1, 3),
    PLT(49.9, 3),
    PLT(50.0, 2),
    PLT(74.9, 2),
    PLT(75.0, 1),
    PLT(124.9, 1),
    PLT(125.0, 0),
    PLT(125.1, 0),
    PLT(24900.0, 4, unit="/µL", note="<25,000/mm3"),
    PLT(25.0, 3, unit="10^3/µL"),
    PLT(20.0, None, unit="g/L"),
    PLT(100.0, None, lln=None),
    PLT(20.0, 4, lln=None),
    # Anemia: G1 <LLN-100 g/L; G2 <100-80; G3 <80 g/L (G4 clinical only).
    HB(79.9, 3),
    HB(80.0, 2),
    HB(80.1, 2),
    HB(99.9, 2),
    HB(100.0, 1),
    HB(129.9, 1),
    HB(130.0, 0),
    HB(40.0, 3, note="lab maximum is 3"),
    HB(7.9, 3, unit="g/dL", note="<8.0 g/dL"),
    HB(8.0, 2, unit="g/dL"),
    HB(79.0, None, unit="mg/dL"),
    HB(120.0, None, lln=None),
    HB(70.0, 3, lln=None),
    # White blood cell decreased: G1 <LLN-3.0; G2 <3.0-2.0; G3 <2.0-1.0; G4 <1.0 x 10e9/L.
    WBC(0.99, 4),
    WBC(1.0, 3),
    WBC(1.99, 3),
    WBC(2.0, 2),
    WBC(2.99, 2),
    WBC(3.0, 1),
    WBC(3.49, 1),
    WBC(3.5, 0),
    WBC(990.0, 4, unit="/µL"),
    WBC(3.2, None, lln=None),
    WBC(1.0, None, unit="%"),
    # Lymphocyte count decreased: G1 <LLN-0.8; G2 <0.8-0.5; G3 <0.5-0.2; G4 <0.2 x 10e9/L.
    ALC(0.19, 4),
    ALC(0.2, 3),
    ALC(0.49, 3),
    ALC(0.5, 2),
    ALC(0.79, 2),
    ALC(0.8, 1),
    ALC(1.09, 1),
    ALC(1.1, 0),
    ALC(0.9, None, lln=None),
    ALC(190.0, 4, unit="/µL"),
    ALC(0.5, None, unit="U/L"),
    # ALT increased, baseline normal (baseline 30 <= ULN 50): G1 >ULN-3.0xULN; G2 >3.0-5.0;
    # G3 >5.0-20.0; G4 >20.0 x ULN.
    ALT(50.0, 0, baseline=30.0),
    ALT(50.1, 1, baseline=30.0),
    ALT(150.0, 1, baseline=30.0),
    ALT(150.1, 2, baseline=30.0),
    ALT(250.0, 2, baseline=30.0),
    ALT(250.1, 3, baseline=30.0),
    ALT(1000.0, 3, baseline=30.0),
    ALT(1000.1, 4, baseline=30.0),
    ALT(2.5, 1, unit="µkat/L", baseline=0.5, note="2.5 µkat/L = 150 U/L = 3 x ULN"),
    ALT(100.0, None, unit="IU/mL", baseline=30.0),
    ALT(100.0, None, uln=None, baseline=30.0, note="ULN missing"),
    ALT(100.0, None, baseline=None, expected_max=4, note="baseline normal or abnormal?"),
    ALT(99.9, 1, uln=33.3, baseline=20.0, note="3 x 33.3 = 99.9 at 15 significant digits"),
    ALT(99.91, 2, uln=33.3, baseline=20.0),
    # ALT increased, baseline abnormal (baseline 60 > ULN 50): G1 1.5-3.0 x baseline (>=);
    # G2 >3.0-5.0; G3 >5.0-20.0; G4 >20.0 x baseline.
    ALT(89.9, 0, baseline=60.0, note="below 1.5 x baseline"),
    ALT(90.0, 1, baseline=60.0),
    ALT(180.0, 1, baseline=60.0),
    ALT(180.1, 2, baseline=60.0),
    ALT(300.0, 2, baseline=60.0),
    ALT(300.1, 3, baseline=60.0),
    ALT(1200.0, 3, baseline=60.0),
    ALT(1200.1, 4, baseline=60.0),
    ALT(60.0, 0, baseline=60.0, note="the baseline value itself"),
    # AST increased: the same criteria as ALT (ULN 40).
    AST(40.0, 0, baseline=20.0),
    AST(40.1, 1, baseline=20.0),
    AST(120.1, 2, baseline=20.0),
    AST(200.1, 3, baseline=20.0),
    AST(800.1, 4, baseline=20.0),
    AST(74.9, 0, baseline=50.0),
    AST(75.0, 1, baseline=50.0),
    AST(150.1, 2, baseline=50.0),
    AST(70.0, None, baseline=None, expected_max=4),
    AST(70.0, None, uln=None, baseline=20.0),
    AST(70.0, None, unit="mg/dL", baseline=20.0),
    # Blood bilirubin increased, baseline normal: G1 >ULN-1.5; G2 >1.5-3.0; G3 >3.0-10.0;
    # G4 >10.0 x ULN. Baseline abnormal: G1 >1.0-1.5 x baseline (strict); ...
    BILI(20.0, 0, baseline=10.0),
    BILI(20.1, 1, baseline=10.0),
    BILI(30.0, 1, baseline=10.0),
    BILI(30.1, 2, baseline=10.0),
    BILI(60.0, 2, baseline=10.0),
    BILI(60.1, 3, baseline=10.0),
    BILI(200.0, 3, baseline=10.0),
    BILI(200.1, 4, baseline=10.0),
    BILI(25.0, 0, baseline=25.0, note="equal to the abnormal baseline: strict >"),
    BILI(25.1, 1, baseline=25.0),
    BILI(37.5, 1, baseline=25.0),
    BILI(37.6, 2, baseline=25.0),
    BILI(75.1, 3, baseline=25.0),
    BILI(250.1, 4, baseline=25.0),
    BILI(1.0, 0, unit="mg/dL", baseline=0.5, note="1.0 mg/dL = 17.1 µmol/L"),
    BILI(30.0, None, baseline=None, expected_max=4),
    BILI(30.0, None, unit="g/L", baseline=10.0),
    # Creatinine increased: G1 >ULN-1.5xULN; G2 >1.5-3.0 x baseline or x ULN; G3 >3.0 x baseline
    # or >3.0-6.0 x ULN; G4 >6.0 x ULN. Baseline 80 umol/L, ULN 100.
    CREAT(100.0, 0, baseline=80.0),
    CREAT(100.1, 1, baseline=80.0),
    CREAT(120.0, 1, baseline=80.0, note="= 1.5 x baseline"),
    CREAT(120.1, 2, baseline=80.0, note="> 1.5 x baseline"),
    CREAT(150.1, 2, baseline=80.0),
    CREAT(240.0, 2, baseline=80.0),
    CREAT(240.1, 3, baseline=80.0, note="> 3 x baseline"),
    CREAT(600.0, 3, baseline=80.0),
    CREAT(600.1, 4, baseline=80.0),
    CREAT(70.0, 2, baseline=40.0, note="admiral's example: within range but > 1.5 x baseline"),
    CREAT(90.0, None, baseline=None, expected_max=3, note="x baseline criteria undecidable"),
    CREAT(160.0, 2, baseline=None, expected_max=3, note="> 1.5 x ULN certain; > 3 x baseline?"),
    CREAT(300.1, 3, baseline=None, note="> 3 x ULN: grade 3 whatever the baseline"),
    CREAT(700.0, 4, baseline=None, note="> 6 x ULN needs no baseline"),
    CREAT(1.5, 1, unit="mg/dL", baseline=1.0, note="132.6 umol/L = 1.5 x baseline 88.4: not >"),
    CREAT(1.6, 2, unit="mg/dL", baseline=1.0, note="141.4 umol/L > 1.5 x baseline 88.4"),
    CREAT(150.0, 2, uln=None, baseline=80.0, expected_max=4, note="> 1.5 x baseline; ULN?"),
    CREAT(110.0, None, uln=None, baseline=80.0, expected_max=4, note="nothing certain"),
    CREAT(150.0, None, unit="mmol/L", baseline=80.0),
    # Fibrinogen decreased (LLN 2.0, baseline 2.0): G1 <1.0-0.75 x LLN; G2 <0.75-0.5 x LLN or
    # 25-<50% decrease; G3 <0.5-0.25 x LLN or 50-<75% decrease; G4 <0.25 x LLN or 75% decrease
    # or <50 mg/dL ('if abnormal': value < LLN).
    FIB(2.0, 0, baseline=2.0),
    FIB(1.9, 1, baseline=2.0),
    FIB(1.51, 1, baseline=2.0),
    FIB(1.5, 2, baseline=2.0, note="-25 % from baseline"),
    FIB(1.49, 2, baseline=2.0),
    FIB(1.01, 2, baseline=2.0),
    FIB(1.0, 3, baseline=2.0, note="-50 %"),
    FIB(0.99, 3, baseline=2.0),
    FIB(0.51, 3, baseline=2.0),
    FIB(0.5, 4, baseline=2.0, note="-75 %"),
    FIB(0.49, 4, baseline=2.0),
    FIB(0.45, 4, lln=None, baseline=2.0, note="absolute < 0.5 g/L without an LLN"),
    FIB(1.2, None, lln=None, baseline=2.0),
    # No baseline (issue 15): the LLN criteria still decide a grade; the %-decrease criteria
    # cannot be evaluated, so a higher grade (up to 4: a 75 % decrease) stays possible.
    FIB(1.6, 1, baseline=None, expected_max=4, note="< LLN certain; % criteria need a baseline"),
    FIB(1.3, 2, baseline=None, expected_max=4, note="< 0.75 x LLN certain"),
    FIB(0.99, 3, baseline=None, expected_max=4, note="0.495 x LLN: < 0.5 x LLN certain"),
    FIB(1.49, 2, baseline=None, expected_max=4, note="< 0.75 x LLN (1.5) certain"),
    FIB(1.5, 1, baseline=None, expected_max=4, note="= 0.75 x LLN: grade 1 certain"),
    FIB(0.45, 4, baseline=None, note="absolute < 0.5 g/L: grade 4, nothing higher"),
    FIB(0.49, 4, baseline=None, note="< 0.25 x LLN? no: < 0.5 g/L absolute"),
    FIB(2.0, 0, baseline=None, note="not below LLN: the % criteria ('if abnormal') cannot hold"),
    FIB(150.0, 2, unit="mg/dL", baseline=200.0, note="1.5 g/L, -25 %"),
    FIB(1.5, None, unit="mmol/L", baseline=2.0),
    # Hyperkalemia: G1 >ULN-5.5; G2 >5.5-6.0; G3 >6.0-7.0; G4 >7.0 mmol/L.
    HYPERK(5.3, 0),
    HYPERK(5.31, 1),
    HYPERK(5.5, 1),
    HYPERK(5.51, 2),
    HYPERK(6.0, 2),
    HYPERK(6.01, 3),
    HYPERK(7.0, 3),
    HYPERK(7.01, 4),
    HYPERK(6.5, 3, unit="mEq/L"),
    HYPERK(5.4, None, uln=None),
    HYPERK(6.5, 3, uln=None),
    HYPERK(5.0, None, unit="mg/dL"),
    HYPERK(7.0, 4, qualifier=">", note="'>7.0' is above 7.0"),
    # Hypokalemia: G1 <LLN-3.0; G2 symptomatic <LLN-3.0 (admiral worst case: always 2);
    # G3 <3.0-2.5; G4 <2.5 mmol/L.
    HYPOK(3.5, 0),
    HYPOK(3.49, 2),
    HYPOK(3.0, 2),
    HYPOK(2.99, 3),
    HYPOK(2.5, 3),
    HYPOK(2.49, 4),
    HYPOK(3.2, None, lln=None),
    HYPOK(2.4, 4, lln=None),
    HYPOK(3.0, None, unit="g/L"),
    # Hypocalcemia (albumin-corrected): G1 <LLN-2.0; G2 <2.0-1.75; G3 <1.75-1.5; G4 <1.5 mmol/L.
    HYPOCA(2.11, 0),
    HYPOCA(2.1, 1),
    HYPOCA(2.0, 1),
    HYPOCA(1.99, 2),
    HYPOCA(1.75, 2),
    HYPOCA(1.74, 3),
    HYPOCA(1.5, 3),
    HYPOCA(1.49, 4),
    HYPOCA(1.9, 1, albumin=30.0, note="corrected 1.9 + 0.02 x (40 - 30) = 2.1"),
    HYPOCA(1.9, None, albumin=None, note="no albumin to correct"),
    HYPOCA(8.0, 2, unit="mg/dL", note="8.0 mg/dL = 1.996 mmol/L"),
    HYPOCA(2.05, None, lln=None),
    HYPOCA(2.0, None, unit="g/L"),
    # Hypocalcemia, ionised: G1 <LLN-1.0; G2 <1.0-0.9; G3 <0.9-0.8; G4 <0.8 mmol/L.
    ICA(1.15, 0),
    ICA(1.14, 1),
    ICA(1.0, 1),
    ICA(0.99, 2),
    ICA(0.9, 2),
    ICA(0.89, 3),
    ICA(0.8, 3),
    ICA(0.79, 4),
    ICA(1.1, None, lln=None),
    ICA(3.2, 4, unit="mg/dL"),
    # Hyperuricemia: >ULN with physiologic consequences = 3 (admiral worst case).
    URIC(428.0, 0),
    URIC(428.1, 3),
    URIC(8.0, 3, unit="mg/dL", note="475.8 umol/L"),
    URIC(500.0, None, uln=None),
    URIC(500.0, None, unit="mmol/L/h"),
]


def _table(cases: list[Case]) -> pa.Table:
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "patient_id",
            "test",
            "value",
            "unit",
            "qualifier",
            "ref_low",
            "ref_high",
            "day",
            "minute",
            "timepoint",
        )
    }

    def add(
        pid: str, test: str, value: float, unit: str, day: int, c: Case, qualifier: str | None
    ) -> None:
        # Reference limits are written in the canonical unit and stored in the row's unit.
        try:
            factor = lab_test(test).factor(unit)
        except UnknownUnitError:
            factor = 1.0
        low, high = (c.lln, c.uln) if test == c.test else (40.0, 55.0)
        cols["patient_id"].append(pid)
        cols["test"].append(test)
        cols["value"].append(value)
        cols["unit"].append(unit)
        cols["qualifier"].append(qualifier)
        cols["ref_low"].append(None if low is None else low / factor)
        cols["ref_high"].append(None if high is None else high / factor)
        cols["day"].append(day)
        cols["minute"].append(360)
        cols["timepoint"].append(None)

    for i, c in enumerate(cases):
        pid = f"C{i:04d}"
        if c.baseline is not None:
            add(pid, c.test, c.baseline, c.unit, 0, c, None)
        add(pid, c.test, c.value, c.unit, 5, c, c.qualifier)
        if c.albumin is not None and c.test == "calcium":
            add(pid, "albumin", c.albumin, "g/L", 5, c, None)
    return pa.table(
        cols,
        schema=pa.schema(
            [
                ("patient_id", pa.string()),
                ("test", pa.string()),
                ("value", pa.float64()),
                ("unit", pa.string()),
                ("qualifier", pa.string()),
                ("ref_low", pa.float64()),
                ("ref_high", pa.float64()),
                ("day", pa.int64()),
                ("minute", pa.int64()),
                ("timepoint", pa.string()),
            ]
        ),
    )


def grade_cases(
    cases: list[Case], settings: CriteriaSettings | None = None, medications: pa.Table | None = None
) -> dict[str, dict[str, Any]]:
    """Grade every case; {patient id: row of the day-5 value for the case's term}."""
    settings = settings or CriteriaSettings()
    con = ibis.duckdb.connect()
    labs = prepare_labs(ibis.memtable(_table(cases)), settings)
    meds = ibis.memtable(medications) if medications is not None else None
    g = grade_lab_values(labs, settings, medications=meds, terms=sorted({c.term for c in cases}))
    g = g.filter(g.day == 5).select(
        "patient_id", "term_id", "grade", "grade_max", "rule_id", "reason", "explanation", "inputs"
    )
    out: dict[str, dict[str, Any]] = {}
    for row in con.to_pyarrow(g).to_pylist():
        out[f"{row['patient_id']}|{row['term_id']}"] = row
    return {f"C{i:04d}": out[f"C{i:04d}|{c.term}"] for i, c in enumerate(cases)}


@pytest.fixture(scope="module")
def graded() -> dict[str, dict[str, Any]]:
    return grade_cases(CASES)


def _id(c: Case) -> str:
    extra = f" {c.qualifier}" if c.qualifier else ""
    return f"{c.term}:{extra}{c.value:g} {c.unit} base={c.baseline} lln={c.lln} uln={c.uln}"


@pytest.mark.parametrize(("index", "case"), list(enumerate(CASES)), ids=[_id(c) for c in CASES])
def test_boundary(graded: dict[str, dict[str, Any]], index: int, case: Case) -> None:
    row = graded[f"C{index:04d}"]
    assert row["grade"] == case.expected, (case.note, row["explanation"])
    assert row["explanation"]
    assert row["rule_id"].startswith(f"ctcae_v5_labs.{case.term}")
    if case.expected is None:
        assert row["reason"], row
        assert row["explanation"].startswith("not gradable: ")
        if case.expected_max is not None:
            assert row["grade_max"] == case.expected_max, row["explanation"]
    else:
        assert row["explanation"].startswith(f"grade {case.expected}: ")
        assert row["reason"] is None
        top = case.expected if case.expected_max is None else case.expected_max
        assert row["grade_max"] == top, row["explanation"]
        if top > case.expected:
            assert (
                f"at least grade {case.expected}, up to grade {top} possible: "
                in (row["explanation"])
            )


def test_every_term_has_a_boundary_table() -> None:
    from bvall.criteria.lab_criteria import load_lab_criteria

    covered = {c.term for c in CASES}
    assert covered == set(load_lab_criteria().terms)


def test_explanation_names_value_threshold_and_source(graded: dict[str, dict[str, Any]]) -> None:
    row = graded[f"C{CASES.index(ANC(0.49, 4)):04d}"]
    assert row["explanation"] == (
        "grade 4: ANC 0.49 ×10⁹/L < 0.5, CTCAE v5.0 Neutrophil count decreased"
    )
    alt = graded[f"C{CASES.index(ALT(150.1, 2, baseline=30.0)):04d}"]
    assert "ALT 150.1 U/L > 3 × ULN 50 (= 150)" in alt["explanation"]
    assert "baseline 30 within ULN 50" in alt["explanation"]
    unit = graded[f"C{CASES.index(ANC(0.3, None, unit='IU/mL', note='unit not accepted')):04d}"]
    assert "unit 'IU/mL' is not accepted for anc" in unit["reason"]


def test_inputs_are_json_with_the_values_used(graded: dict[str, dict[str, Any]]) -> None:
    import json

    row = graded[f"C{CASES.index(ALT(90.0, 1, baseline=60.0)):04d}"]
    inputs = json.loads(row["inputs"])
    assert inputs["value_si"] == 90.0
    assert inputs["baseline_si"] == 60.0
    assert inputs["uln_si"] == 50.0


# --- settings that change a grade ---------------------------------------------------------


def test_hypokalaemia_settings() -> None:
    """CTCAE v5.0 Hypokalemia G1 '<LLN - 3.0 mmol/L' vs G2 'Symptomatic ...; intervention
    indicated' (setting hypokalaemia_lln_to_3)."""
    cases = [HYPOK(3.2, 2), HYPOK(3.2, 2), HYPOK(3.2, 2)]
    asym = grade_cases(cases, CriteriaSettings(hypokalaemia_lln_to_3="assume_asymptomatic"))
    assert [asym[f"C{i:04d}"]["grade"] for i in range(3)] == [1, 1, 1]
    meds = pa.table(
        {
            "patient_id": ["C0000", "C0001"],
            "drug": ["potassium chloride", "ondansetron"],
            "start_day": [4, 1],
            "end_day": [6, 20],
        }
    )
    rec = grade_cases(
        cases, CriteriaSettings(hypokalaemia_lln_to_3="intervention_recorded"), medications=meds
    )
    assert rec["C0000"]["grade"] == 2  # replacement recorded within a day
    assert rec["C0001"]["grade"] == 1  # medications recorded, none is potassium
    # nothing recorded: the intervention is unknown, so grade 1 is certain and 2 possible
    assert (rec["C0002"]["grade"], rec["C0002"]["grade_max"]) == (1, 2)
    assert "potassium replacement unknown" in rec["C0002"]["explanation"]


def test_hyperuricaemia_setting() -> None:
    """CTCAE v5.0 Hyperuricemia G1 '>ULN without physiologic consequences'."""
    out = grade_cases([URIC(428.1, 1)], CriteriaSettings(hyperuricaemia_above_uln="assume_none"))
    assert out["C0000"]["grade"] == 1


def test_missing_baseline_admiral_setting() -> None:
    """admiral: a missing BNRIND uses the ULN criteria; !is.na(BASE)/!is.na(PCHG) guards skip
    the x baseline and % clauses (CLINICAL.md 1.1)."""
    cases = [
        ALT(100.0, 1, baseline=None),
        CREAT(90.0, 0, baseline=None),
        FIB(1.6, 1, baseline=None),
    ]
    out = grade_cases(cases, CriteriaSettings(missing_baseline="admiral"))
    assert [out[f"C{i:04d}"]["grade"] for i in range(3)] == [1, 0, 1]


def test_uncorrected_calcium_setting() -> None:
    out = grade_cases(
        [HYPOCA(1.9, 2, albumin=None)],
        CriteriaSettings(calcium_correction="uncorrected_if_no_albumin"),
    )
    assert out["C0000"]["grade"] == 2


def test_baseline_is_the_last_value_before_d1() -> None:
    """Baseline = last value on or before baseline_last_day (0): a day-1 value is not baseline."""
    table = pa.table(
        {
            "patient_id": ["B1"] * 3,
            "test": ["alt"] * 3,
            "value": [30.0, 70.0, 100.0],
            "unit": ["U/L"] * 3,
            "ref_low": [9.0] * 3,
            "ref_high": [50.0] * 3,
            "day": [-3, 1, 5],
        }
    )
    settings = CriteriaSettings()
    con = ibis.duckdb.connect()
    alt = ["alanine_aminotransferase_increased"]
    g = grade_lab_values(prepare_labs(ibis.memtable(table), settings), settings, terms=alt)
    rows = {r["day"]: r for r in con.to_pyarrow(g).to_pylist()}
    assert rows[5]["grade"] == 1  # baseline -3 (30, normal): 100 > ULN
    settings1 = CriteriaSettings(baseline_last_day=1)
    g = grade_lab_values(prepare_labs(ibis.memtable(table), settings1), settings1, terms=alt)
    rows = {r["day"]: r for r in con.to_pyarrow(g).to_pylist()}
    # Baseline now day 1 (70, above ULN): 100 < 1.5 x 70 -> grade 0.
    assert rows[5]["grade"] == 0


def test_grades_without_words_equal_grades_with_words() -> None:
    """``explain=False`` (registry summaries) must give exactly the grades and rule ids of the
    explained grading, including not-gradable values (missing range, unknown baseline)."""
    table = pa.table(
        {
            "patient_id": ["W1"] * 6 + ["W2"] * 4,
            "test": [
                *("anc", "anc", "anc", "alt", "alt", "platelets"),
                *("creatinine", "creatinine", "potassium", "alt"),
            ],
            "value": [2.0, 0.4, 0.9, 30.0, 260.0, 18.0, 80.0, 190.0, 6.4, 55.0],
            "unit": [
                *("10^9/L", "10^9/L", "10^9/L", "U/L", "U/L", "10^9/L"),
                *("umol/L", "umol/L", "mmol/L", "U/L"),
            ],
            "ref_low": [1.8, 1.8, None, 9.0, 9.0, 150.0, 60.0, 60.0, 3.5, None],
            "ref_high": [7.5, 7.5, None, 50.0, 50.0, 400.0, 110.0, 110.0, 5.1, None],
            "day": [-2, 5, 9, -2, 8, 12, -1, 6, 6, 7],
        }
    )
    settings = CriteriaSettings()
    con = ibis.duckdb.connect()
    prepared = prepare_labs(ibis.memtable(table), settings)
    cols = ["patient_id", "test", "day", "term_id", "grade", "rule_id", "rule_version"]
    words = con.to_pyarrow(grade_lab_values(prepared, settings).select(*cols)).to_pylist()
    bare_t = grade_lab_values(prepared, settings, explain=False)
    assert "explanation" not in bare_t.columns
    bare = con.to_pyarrow(bare_t.select(*cols)).to_pylist()

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["patient_id"], r["day"], r["term_id"])

    assert sorted(words, key=key) == sorted(bare, key=key)
    grades = {(r["patient_id"], r["day"], r["term_id"]): r["grade"] for r in bare}
    # CTCAE v5.0 neutrophil count decreased: < 0.5 is grade 4; the day-9 value has no
    # reference range, yet ANC grading uses absolute thresholds only, so it is graded (3).
    assert grades[("W1", 5, "neutrophil_count_decreased")] == 4
    assert grades[("W1", 9, "neutrophil_count_decreased")] == 3


@pytest.mark.parametrize(
    "settings",
    [
        CriteriaSettings(),
        CriteriaSettings(missing_baseline="admiral", signif_digits=6),
        CriteriaSettings(
            calcium_correction="uncorrected_if_no_albumin",
            hyperuricaemia_above_uln="assume_none",
            hypokalaemia_lln_to_3="assume_asymptomatic",
        ),
    ],
    ids=["default", "admiral-6-digits", "uncorrected-calcium"],
)
def test_compiled_and_rows_forms_grade_alike(settings: CriteriaSettings) -> None:
    """The registry path (criteria compiled into CASE expressions, ``explain=False``) and the
    rows form (criteria rows joined to the values) read the same criteria rows: on the example
    cohort's labs with every value scaled at random (so every grade and boundary region is
    met), a random sixth censored with each qualifier and a twentieth without one or both
    reference limits, they must give the same grade, highest possible grade and rule for every
    value and term."""
    import numpy as np

    from bvall.cohort import load_cohort

    labs = load_cohort("example")["labs"]
    rng = np.random.default_rng(20261207)
    n = labs.num_rows
    value = np.round(
        labs["value"].to_numpy(zero_copy_only=False) * np.exp(rng.normal(0, 0.8, n)), 4
    )
    qualifier = rng.choice(
        np.array(["", "<", "<=", ">", ">="]), n, p=[0.84, 0.04, 0.04, 0.04, 0.04]
    )
    low, high = labs["ref_low"].to_pylist(), labs["ref_high"].to_pylist()
    table = pa.table(
        {
            "patient_id": labs["patient_id"],
            "test": labs["test"],
            "value": value,
            "qualifier": pa.array([q or None for q in qualifier], pa.string()),
            "unit": labs["unit"],
            "ref_low": [None if rng.random() < 0.05 else x for x in low],
            "ref_high": [None if rng.random() < 0.05 else x for x in high],
            "day": labs["study_day"],
        }
    )
    con = ibis.duckdb.connect()
    prepared = prepare_labs(ibis.memtable(table), settings)
    cols = ["patient_id", "test", "day", "value", "qualifier", "term_id"]
    cols += ["graded_si", "grade", "grade_max", "rule_id", "rule_version", "term", "direction"]
    rows = con.to_pyarrow(grade_lab_values(prepared, settings).select(*cols))
    compiled = con.to_pyarrow(grade_lab_values(prepared, settings, explain=False).select(*cols))
    keys = [(c, "ascending") for c in cols]
    assert rows.num_rows == compiled.num_rows > 1000
    assert rows.sort_by(keys).equals(compiled.sort_by(keys))
    grades = set(pa.compute.unique(rows["grade"]).to_pylist())
    assert {None, 0, 1, 2, 3, 4} <= grades  # not gradable and every grade were met

    # With the words (the form Spark runs): every column of the rows form, words included.
    rows_t = grade_lab_values(prepared, settings)
    compiled_t = grade_lab_values(prepared, settings, form="compiled")
    assert compiled_t.columns == rows_t.columns
    full = [(c, "ascending") for c in rows_t.columns]
    rows_w = con.to_pyarrow(rows_t).sort_by(full)
    compiled_w = con.to_pyarrow(compiled_t).sort_by(full)
    assert rows_w.num_rows == compiled_w.num_rows == rows.num_rows
    for column in rows_w.column_names:
        assert rows_w[column].equals(compiled_w[column]), column
    # The words of a grade met, of grade 0 and of a value not gradable all took part.
    texts = rows_w["explanation"].to_pylist()
    assert any(t.startswith("grade 3: ") and " and " not in t for t in texts)
    assert any(t.startswith("grade 0: ") for t in texts)
    assert any(t.startswith("not gradable: ") for t in texts)


def test_an_unknown_grading_form_is_refused() -> None:
    """``form`` names one of the two ways of evaluating the criteria; another is an error
    quoting it."""
    table = pa.table(
        {
            "patient_id": ["P"],
            "test": ["anc"],
            "value": [1.0],
            "unit": ["10^9/L"],
            "ref_low": [1.8],
            "ref_high": [7.5],
            "day": [1],
        }
    )
    prepared = prepare_labs(ibis.memtable(table), CriteriaSettings())
    with pytest.raises(ValueError, match="No lab grading form 'case'"):
        grade_lab_values(prepared, form="case")


def _doubled_criteria() -> Any:
    """The CTCAE lab criteria with every row in force twice (a copy with clause ``dup``).

    The copy of a row follows the original in the file order, so the original still gives the
    grade and the rule id: only the number of criteria rows changes.
    """
    import dataclasses

    from bvall.criteria.lab_criteria import load_lab_criteria

    full = load_lab_criteria()
    terms = {}
    for term_id, term in full.terms.items():
        copies = tuple(
            dataclasses.replace(c, clause=f"{c.clause}dup" if c.clause else "dup")
            for c in term.criteria
        )
        terms[term_id] = dataclasses.replace(term, criteria=term.criteria + copies)
    return dataclasses.replace(full, terms=terms)


def test_grading_sql_does_not_grow_with_the_criteria_rows() -> None:
    """The criteria are rows of constant tables joined to the values: twice the rows (166
    instead of 83) must give a query of the same size, and the same grades, rule ids and words.
    (Criteria compiled into CASE branches grew with every row: 172 kB of SQL became 287 kB. The
    registry path, ``explain=False``, is compiled on purpose; see ``grading_cases``.)"""
    explain = True
    from bvall.criteria.lab_criteria import load_lab_criteria

    settings = CriteriaSettings()
    table = pa.table(
        {
            "patient_id": ["D1"] * 7,
            "test": ["alt", "alt", "creatinine", "creatinine", "potassium", "anc", "calcium"],
            "value": [30.0, 260.0, 60.0, 190.0, 2.4, 0.4, 1.9],
            "unit": ["U/L", "U/L", "umol/L", "umol/L", "mmol/L", "10^9/L", "mmol/L"],
            "ref_low": [9.0, 9.0, 60.0, 60.0, 3.5, 1.8, 2.2],
            "ref_high": [50.0, 50.0, 110.0, 110.0, 5.1, 7.5, 2.6],
            "day": [-2, 8, -1, 6, 6, 5, 5],
        }
    )
    prepared = prepare_labs(ibis.memtable(table), settings)
    full = load_lab_criteria()
    doubled = _doubled_criteria()
    rows = sum(len(t.criteria) for t in full.terms.values())
    assert sum(len(t.criteria) for t in doubled.terms.values()) == 2 * rows
    con = ibis.duckdb.connect()
    exprs = [
        grade_lab_values(prepared, settings, criteria=c, explain=explain) for c in (full, doubled)
    ]
    sizes = [len(str(con.compile(e))) for e in exprs]
    assert abs(sizes[1] - sizes[0]) <= 0.01 * sizes[0], sizes
    cols = [
        c for c in exprs[0].columns if c in ("day", "term_id", "grade", "rule_id", "explanation")
    ]
    got = [sorted(con.to_pyarrow(e.select(*cols)).to_pylist(), key=str) for e in exprs]
    assert got[0] == got[1]
    assert any(r["grade"] for r in got[0])  # the case is not vacuous: some values are graded
