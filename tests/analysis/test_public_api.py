"""The public API of bvall.analysis.claims is curated: adding or removing a name is a decision."""

from __future__ import annotations

import bvall.analysis.claims


def test_exported_members() -> None:
    assert set(bvall.analysis.claims.__all__) == {
        "SEED_CATALOGUE",
        "STATISTICS",
        "STATUSES",
        "Catalogue",
        "Claim",
        "ClaimResult",
        "Partition",
        "classify_claims",
        "count_statuses",
        "load_catalogue",
    }
    for name in bvall.analysis.claims.__all__:
        assert getattr(bvall.analysis.claims, name) is not None
    assert bvall.analysis.claims.STATUSES == (
        "inconsistent",
        "needs-review",
        "consistent",
        "not-recomputable",
    )


def test_analysis_exports() -> None:
    import bvall.analysis

    assert set(bvall.analysis.__all__) == {
        "TABLE_IDS",
        "Analysis",
        "Cell",
        "Row",
        "StudyFigure",
        "StudyTable",
        "build_analysis",
        "derive_survival_data",
    }
    for name in bvall.analysis.__all__:
        assert getattr(bvall.analysis, name) is not None
