"""Figures of both bundled cohorts, built once per test session (deriving the endpoints of a
cohort takes seconds; ``derive`` memoises per cohort object, which ``load_cohort`` caches)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bvall.analysis.model import StudyFigure
from bvall.cohort import load_cohort
from bvall.cohort.model import Cohort
from bvall.criteria import derive
from bvall.figures import build_figures


@pytest.fixture(scope="session")
def example() -> Cohort:
    return load_cohort("example")


@pytest.fixture(scope="session")
def example_endpoints(example: Cohort) -> pa.Table:
    return derive(example, "endpoints")


@pytest.fixture(scope="session")
def example_figures(example: Cohort) -> dict[str, StudyFigure]:
    figures, reasons = build_figures(example)
    assert reasons == []
    return {f.id: f for f in figures}


@pytest.fixture(scope="session")
def published_build() -> tuple[list[StudyFigure], list[str]]:
    return build_figures(load_cohort("published"))
