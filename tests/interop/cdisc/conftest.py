"""One export of each bundled cohort per test session (the criteria engine takes seconds)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bvall.cohort import load_cohort
from bvall.interop.cdisc import CdiscExport, export_cdisc

CREATED = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def example_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[CdiscExport, Path]:
    out = tmp_path_factory.mktemp("cdisc_example")
    return export_cdisc(load_cohort("example"), out, created=CREATED), out


@pytest.fixture(scope="session")
def published_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[CdiscExport, Path]:
    out = tmp_path_factory.mktemp("cdisc_published")
    return export_cdisc(load_cohort("published"), out, study_id="BV-JSPH", created=CREATED), out
