"""Study analysis on a cohort: the claims audit (:mod:`bvall.analysis.claims`) and the study
tables (:mod:`bvall.analysis.tables`: baseline, response, adverse events, CRS/ICANS/TLS,
transfusions, arm comparison, survival) in the shapes of :mod:`bvall.analysis.model`.

>>> from bvall.analysis import build_analysis
>>> from bvall.cohort import load_cohort
>>> analysis = build_analysis(load_cohort("example"))       # doctest: +SKIP

The tables are imported on first use, so the claims audit does not load the criteria engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bvall.analysis.model import Analysis, Cell, Row, StudyFigure, StudyTable

if TYPE_CHECKING:
    from bvall.analysis.tables import (
        TABLE_IDS,
        build_analysis,
        derive_survival_data,
    )

_LAZY = ("TABLE_IDS", "build_analysis", "derive_survival_data")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from bvall.analysis import tables

        return getattr(tables, name)
    raise AttributeError(f"module 'bvall.analysis' has no attribute {name!r}")


__all__ = [
    "TABLE_IDS",
    "Analysis",
    "Cell",
    "Row",
    "StudyFigure",
    "StudyTable",
    "build_analysis",
    "derive_survival_data",
]
