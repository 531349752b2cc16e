"""A small analysis built by hand: two tables (one wide), one figure, reported and mixed cells.

The renderer is tested on this fixture independently of what the study tables contain.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bvall.analysis.model import Analysis, Cell, Row, StudyFigure, StudyTable

GENERATED_AT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
DATA_HASH = "ab" * 32


def _table_1() -> StudyTable:
    return StudyTable(
        id="table-1-baseline",
        title="Baseline characteristics",
        columns=("Characteristic", "All patients (N = 3)"),
        rows=(
            Row(
                "Age, years, median (range)",
                (
                    Cell(
                        "45 (30–60)",
                        45,
                        "median (range) of 3 ages; 0 missing",
                        ("P01", "P02", "P03"),
                        "derived",
                    ),
                ),
            ),
            Row("Sex", heading=True),
            Row(
                "Female, n (%)",
                (
                    Cell(
                        "2/3 (66.7%)",
                        2,
                        "n/N = 2/3 <female & 'quoted'>",
                        ("P01", "P03"),
                        "reported",
                    ),
                ),
                indent=1,
            ),
            Row(
                "Male, n (%)", (Cell("1/3 (33.3%)", 1, "n/N = 1/3", ("P02",), "derived"),), indent=1
            ),
        ),
        notes=("Percentages of patients with a recorded value.",),
    )


def _table_2() -> StudyTable:
    cols = ("Event", "Grade 1", "Grade 2", "Grade 3", "Grade 4", "Grade 5", "Any grade", "Grade ≥3")
    cells = tuple(
        Cell(
            f"{i}/3 ({i / 3:.0%})",
            i,
            f"n/N = {i}/3, worst grade per patient (CTCAE v5.0)",
            ("P0" + str(i),) if i else (),
            "mixed" if i == 2 else "derived",
        )
        for i in range(7)
    )
    return StudyTable(
        id="table-2-ae",
        title="Adverse events during induction",
        columns=cols,
        rows=(Row("Neutropenia", cells), Row("Cytokine release syndrome", cells)),
        notes=("Worst grade per patient.",),
    )


def make_analysis() -> Analysis:
    return Analysis(
        cohort_name="fixture",
        data_hash=DATA_HASH,
        bvall_version="0.1.0",
        criteria_versions={"ctcae_v5_labs": "5.0.1", "astct_crs": "2019.1"},
        settings={"ci_method": "wilson", "level": 0.95, "criteria": {"episode_gap_hours": 24}},
        tables=(_table_1(), _table_2()),
        warnings=("SYNTHETIC DEMO DATA: not real patients.",),
    )


def make_figure() -> StudyFigure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.step([0, 30, 60, 90], [1.0, 0.9, 0.8, 0.8], where="post")
    ax.set_xlabel("Days since day 1 of induction")
    ax.set_ylabel("Overall survival (probability)")
    return StudyFigure(
        "figure-os", "Figure 1. Overall survival", "Kaplan–Meier estimate; 3 patients.", fig
    )


@pytest.fixture
def analysis() -> Analysis:
    return make_analysis()


@pytest.fixture
def figure() -> StudyFigure:
    return make_figure()


@pytest.fixture(scope="session")
def fixture_html() -> str:
    from bvall.report import render_report_html

    return render_report_html(
        make_analysis(),
        [make_figure()],
        ["Swimmer plot: no dose records."],
        generated_at=GENERATED_AT,
    )


@pytest.fixture(scope="session")
def fixture_pdf(fixture_html: str) -> bytes:
    from bvall.report import render_report_pdf

    return render_report_pdf(fixture_html)
