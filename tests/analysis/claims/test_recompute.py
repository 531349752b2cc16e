"""Each statistic of the audit on small cohorts whose answers can be read off the rows."""

from __future__ import annotations

from typing import Any

from bvall.analysis.claims import Catalogue, Claim, Partition, classify_claims
from bvall.cohort import Cohort
from tests.analysis.claims.cohorts import ambiguous, cohort, patients

PEOPLE = patients(
    ("A", "M", 30, "concurrent"),
    ("B", "M", 40, "concurrent"),
    ("C", "F", 50, "sequential"),
    ("D", "F", 60, "sequential"),
    ("E", "M", 70, "sequential"),
)
CRS = {"table": "adverse_events", "where": {"term": "Cytokine release syndrome"}}


def audit(
    claims: list[Claim], data: Cohort, partitions: tuple[Partition, ...] = ()
) -> dict[str, Any]:
    results = classify_claims(Catalogue("t", "t", "test", tuple(claims), partitions), data)
    return {r.id: r for r in results}


def claim(cid: str, published: dict[str, Any], **recompute: Any) -> Claim:
    return Claim(cid, "Results", "quote", published, recompute=recompute)


def crs_cohort(**extra: Any) -> Cohort:
    aes = [
        {"patient_id": "A", "term": "Cytokine release syndrome", "grade": "1"},
        {"patient_id": "B", "term": "Cytokine release syndrome", "grade": "3"},
        {"patient_id": "C", "term": "Cytokine release syndrome", "grade": "2"},
    ]
    return cohort(patients=PEOPLE, adverse_events=aes, **extra)


def test_count_consistent_inconsistent_and_alternative_definition() -> None:
    low_grade = {
        "table": "adverse_events",
        "where": {"term": "Cytokine release syndrome", "grade": {"le": 2}},
    }
    claims = [
        claim("ok", {"n": 3, "N": 5, "percent": "60.0"}, stat="count", match=CRS),
        claim(
            "wrong",
            {"n": 3, "N": 5, "percent": "60.0"},
            stat="count",
            match=low_grade,
            alternatives=[{"label": "any grade", "match": CRS}],
        ),
    ]
    r = audit(claims, crs_cohort())
    assert r["ok"].status == "consistent"
    assert r["ok"].recomputed == {"n": 3, "N": 5, "percent": 60.0}
    assert r["wrong"].status == "inconsistent"
    assert r["wrong"].recomputed["n"] == 2
    assert "another definition: any grade gives 3/5" in r["wrong"].explanation


def test_percent_only_finds_other_numerator_and_denominator() -> None:
    claims = [
        claim("numerator", {"percent": "80.0"}, stat="count", match=CRS),
        claim("denominator", {"percent": "75.0"}, stat="count", match=CRS),
        claim("slip", {"percent": "60.1"}, stat="count", match=CRS),
    ]
    r = audit(claims, crs_cohort())
    assert "another numerator: 80.0% is 4/5 = 80.00%" in r["numerator"].explanation
    assert "another denominator: 75.0% is 3/4 = 75.00%" in r["denominator"].explanation
    assert "60.1 differs from the recomputed 60.0 in one digit" in r["slip"].explanation


def test_arithmetic_is_checked_even_when_not_recomputable() -> None:
    bad = Claim(
        "bad", "Table 1", "q", {"n": 5, "N": 8, "percent": "62.6"}, not_recomputable="no data"
    )
    good = Claim(
        "good", "Table 1", "q", {"n": 5, "N": 8, "percent": "62.5"}, not_recomputable="no data"
    )
    r = audit([bad, good], crs_cohort())
    assert r["bad"].status == "inconsistent"
    assert "arithmetic: 5/8 = 62.50%, printed 62.6%" in r["bad"].explanation
    assert r["good"].status == "not-recomputable"
    assert "arithmetically right" in r["good"].explanation


def test_ambiguity_gives_a_range_and_needs_review() -> None:
    marrow = [
        {"patient_id": "A", "timepoint": "d14_21", "mrd_status": "negative"},
        {"patient_id": "B", "timepoint": "d14_21", "mrd_status": "positive"},
    ]
    prov = [
        ambiguous(
            "marrow_assessments", "C", "timepoint=d14_21", "mrd_status", "MRD- | not assessed"
        )
    ]
    data = cohort(patients=PEOPLE, marrow_assessments=marrow, provenance=prov)
    spec = {
        "stat": "count",
        "match": {
            "table": "marrow_assessments",
            "where": {"timepoint": "d14_21", "mrd_status": "negative"},
        },
        "among": {"table": "marrow_assessments", "where": {"timepoint": "d14_21"}},
    }
    r = audit(
        [
            claim("two-of-three", {"n": 2, "N": 3}, **spec),
            claim("one-of-two", {"n": 1, "N": 2}, **spec),
            claim("impossible", {"n": 3, "N": 3}, **spec),
        ],
        data,
    )
    assert r["two-of-three"].status == "needs-review"
    assert r["two-of-three"].recomputed["possible"] == ["1/2", "1/3", "2/3"]
    assert (
        "C: a marrow_assessments record (timepoint=d14_21) may or may not exist"
        in r["two-of-three"].explanation
    )
    assert r["one-of-two"].status == "needs-review"
    assert r["impossible"].status == "inconsistent"


def test_open_world_count() -> None:
    summaries = [
        {"patient_id": "A", "quantity": "days_anc_below_0_5", "value": "3", "period": "induction"},
        {"patient_id": "B", "quantity": "days_anc_below_0_5", "value": "0", "period": "induction"},
    ]
    evidence = {
        "table": "reported_summaries",
        "where": {"quantity": "days_anc_below_0_5", "value": {"gt": 0}},
    }
    data = cohort(patients=PEOPLE, reported_summaries=summaries)
    r = audit(
        [
            claim("open", {"n": 2}, stat="count", match=evidence, closed_world=False),
            claim("closed", {"n": 2}, stat="count", match=evidence),
        ],
        data,
    )
    assert r["open"].status == "needs-review"
    assert r["open"].recomputed["n"] == [1, 5]
    assert r["closed"].status == "inconsistent"


def test_not_recorded_is_not_recomputable() -> None:
    r = audit(
        [
            claim(
                "no-rows",
                {"n": 2},
                stat="count",
                match={"table": "follow_up_events", "where": {"event": "relapse"}},
            ),
            claim(
                "no-column",
                {"n": 1},
                stat="count",
                match={"table": "patients", "where": {"karyotype": "normal"}},
            ),
            claim(
                "requires",
                {"n": 0},
                stat="count",
                match=CRS,
                requires=[{"table": "adverse_events", "where": {"term": "Tumor lysis syndrome"}}],
            ),
        ],
        crs_cohort(),
    )
    assert {c.status for c in r.values()} == {"not-recomputable"}
    assert "the cohort has no follow_up_events rows" in r["no-rows"].explanation
    assert "patients.karyotype is not recorded" in r["no-column"].explanation
    assert "records no adverse_events with term = Tumor lysis syndrome" in r["requires"].explanation


def test_summary_with_causes() -> None:
    # ages 30 40 50 60 70: median 50; without E (70) the median is 45 and the range 30-60.
    r = audit(
        [
            claim(
                "ok",
                {"median": 50, "min": 30, "max": 70},
                stat="summary",
                table="patients",
                column="age_years",
            ),
            claim(
                "dropped",
                {"median": 45, "min": 30, "max": 60},
                stat="summary",
                table="patients",
                column="age_years",
            ),
        ],
        crs_cohort(),
    )
    skewed = cohort(
        patients=patients(
            ("X", "M", 20, "concurrent"), ("Y", "F", 30, "concurrent"), ("Z", "F", 70, "sequential")
        )
    )
    mean = audit(
        [claim("mean", {"median": 40}, stat="summary", table="patients", column="age_years")],
        skewed,
    )
    assert "the printed median equals the mean (40)" in mean["mean"].explanation
    assert r["ok"].status == "consistent"
    assert r["dropped"].status == "inconsistent"
    assert (
        "with 5 values the median is one of them, and no patient has 45" in r["dropped"].explanation
    )
    assert "every printed value matches the data without E (n = 4)" in r["dropped"].explanation


def test_summary_units_and_expressions() -> None:
    labs = [
        {
            "patient_id": p,
            "test": "hemoglobin",
            "value": str(v),
            "unit": "g/L",
            "timepoint": "pretreatment",
        }
        for p, v in zip("ABCDE", (60, 70, 80, 90, 100), strict=True)
    ]
    doses = [
        {
            "patient_id": "A",
            "course_id": "IND",
            "agent": "blinatumomab",
            "dose": "9",
            "dose_unit": "µg/day",
            "study_day_start": "1",
            "study_day_end": "7",
            "status": "given",
        },
        {
            "patient_id": "A",
            "course_id": "IND",
            "agent": "blinatumomab",
            "dose": "28",
            "dose_unit": "µg/day",
            "study_day_start": "8",
            "study_day_end": "14",
            "status": "given",
        },
    ]
    where = {"test": "hemoglobin", "timepoint": "pretreatment"}
    hb = {"stat": "summary", "table": "labs", "column": "value", "where": where}
    r = audit(
        [
            claim("g-dl", {"median": "8.0", "min": "6.0", "max": "10.0"}, unit="g/dL", **hb),
            claim("label-wrong", {"median": 80, "min": 60, "max": 100}, unit="g/dL", **hb),
            claim(
                "days",
                {"min": 14, "max": 14},
                stat="summary",
                table="dose_administrations",
                column="study_day_end - study_day_start + 1",
                where={"agent": "blinatumomab"},
                per_patient="sum",
            ),
        ],
        cohort(
            patients=PEOPLE,
            labs=labs,
            dose_administrations=doses,
            treatment_courses=[
                {
                    "patient_id": "A",
                    "course_id": "IND",
                    "course_type": "induction",
                    "regimen": "bv-concurrent",
                }
            ],
        ),
    )
    assert r["g-dl"].status == "consistent"
    assert r["label-wrong"].status == "inconsistent"
    assert "unit: the printed values are the data in g/L, not g/dL" in r["label-wrong"].explanation
    assert "80 g/dL is outside the plausible range of haemoglobin" in r["label-wrong"].explanation
    assert r["days"].status == "consistent"


def test_categories() -> None:
    r = audit(
        [
            Claim(
                "sex",
                "Table 1",
                "q",
                {"M": 3, "F": 2},
                recompute={"stat": "categories", "column": "sex"},
            ),
            Claim(
                "short",
                "Table 1",
                "q",
                {"M": 2, "F": 2},
                recompute={"stat": "categories", "column": "sex"},
            ),
        ],
        crs_cohort(),
    )
    assert r["sex"].status == "consistent"
    assert r["short"].status == "inconsistent"
    assert "add up to 4, not to the 5 patients" in r["short"].explanation
    assert "leaving out any of A, B, E" in r["short"].explanation


def test_ci_bounds_of_different_methods() -> None:
    # 11/12 (CLINICAL.md 8.1): Wilson 64.61-98.51, Wilson-cc 59.75-99.56, Agresti-Coull 62.47-100,
    # Clopper-Pearson 61.52-99.79; R Hmisc::binconf(11, 12): 64.61-99.57.
    r = audit(
        [
            claim(
                "hmisc",
                {"lower": "64.6", "upper": "99.6"},
                stat="ci",
                method="agresti-coull",
                x=11,
                n=12,
            ),
            claim(
                "mixed",
                {"lower": "64.6", "upper": "99.8"},
                stat="ci",
                method="agresti-coull",
                x=11,
                n=12,
            ),
            claim(
                "wilson",
                {"lower": "64.6", "upper": "98.5"},
                stat="ci",
                method="agresti-coull",
                x=11,
                n=12,
            ),
            claim(
                "named",
                {"lower": "62.5", "upper": "100.0"},
                stat="ci",
                method="agresti-coull",
                x=11,
                n=12,
            ),
        ],
        crs_cohort(),
    )
    assert r["named"].status == "consistent"
    assert "lower bound 64.6 is Wilson score (64.61)" in r["mixed"].explanation
    assert "upper bound 99.8 is Clopper–Pearson (exact) (99.79)" in r["mixed"].explanation
    assert "no single method gives both" in r["mixed"].explanation
    assert r["hmisc"].status == "inconsistent"
    assert (
        "the printed interval is Wilson score, Hmisc::binconf (adjusted at x = 1 and x = n − 1) "
        "(64.61–99.57%), not the Agresti–Coull interval the paper names" in r["hmisc"].explanation
    )
    assert "the printed interval is Wilson score (64.61–98.51%)" in r["wilson"].explanation


def test_fisher_from_data_and_other_tests() -> None:
    rows = [
        {"table": "patients", "where": {"arm": "concurrent"}},
        {"table": "patients", "where": {"arm": "sequential"}},
    ]
    # concurrent 2/2 with CRS, sequential 1/3: R fisher.test(matrix(c(2,1,0,2),2)) p = 0.4
    r = audit(
        [
            claim("ok", {"p": "0.40"}, stat="fisher", rows=rows, match=CRS),
            claim("one-sided", {"p": "0.30"}, stat="fisher", rows=rows, match=CRS),
            claim("literal", {"p": "0.4857"}, stat="fisher", table=[[3, 1], [1, 3]]),
        ],
        crs_cohort(),
    )
    assert r["ok"].status == "consistent"
    assert r["ok"].recomputed["table"] == [[2, 0], [1, 2]]
    assert "the greater Fisher p-value is 0.3000" in r["one-sided"].explanation
    assert r["literal"].status == "consistent"


def test_measure_groups_and_partitions() -> None:
    evidence = {
        "table": "adverse_events",
        "where": {"term": "Cytokine release syndrome", "grade": {"ge": 3}},
    }
    spec = {"stat": "count", "match": evidence, "closed_world": False}
    claims = [
        Claim("abstract", "Abstract", "q", {"percent": "60.0"}, recompute=spec, measure="m"),
        Claim("text", "Results", "q", {"n": 2, "percent": "40.0"}, recompute=spec, measure="m"),
        Claim(
            "table",
            "Table 4",
            "q",
            {"n": 2, "N": 5, "percent": "40.0"},
            recompute=spec,
            measure="m",
        ),
        Claim("part-a", "Table 1", "q", {"n": 3}, not_recomputable="no data"),
        Claim("part-b", "Table 1", "q", {"n": 1}, not_recomputable="no data"),
    ]
    r = audit(
        claims, crs_cohort(), (Partition("rows", ("part-a", "part-b"), "patients", "Table 1 rows"),)
    )
    assert r["abstract"].status == "inconsistent"
    assert "table vs text disagreement" in r["abstract"].explanation
    assert r["text"].status == "needs-review"
    assert "conflicting value: Abstract prints 60.0%" in r["text"].explanation
    assert r["part-a"].status == "inconsistent"
    assert "Table 1 rows: the printed counts add up to 4, not 5" in r["part-a"].explanation


def test_km_and_percent_plausibility() -> None:
    r = audit(
        [
            claim("km", {"percent": "60.6"}, stat="km_plausibility", n_max="patients"),
            claim("km-no", {"percent": "99.0"}, stat="km_plausibility", n_max=13),
            claim("pct", {"percent": "62.6"}, stat="percent_plausibility", n=8),
            Claim(
                "external",
                "Discussion",
                "q",
                {"percent": "98"},
                not_recomputable="other study",
                plausibility={"n": 56},
            ),
        ],
        crs_cohort(),
    )
    # with 5 patients 60.6% is unreachable: (1 - 2/5) = 60.0, (1 - 1/5)(1 - 1/4) = 60.0
    assert r["km"].status == "inconsistent"
    assert r["km-no"].status == "inconsistent"
    assert r["pct"].status == "inconsistent"
    assert "nearest: 5/8 = 62.50%" in r["pct"].explanation
    assert r["external"].status == "not-recomputable"
    assert "98% is reachable with 56 patients (55/56)" in r["external"].explanation
