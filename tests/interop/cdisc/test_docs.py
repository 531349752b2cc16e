"""docs/cdisc.md names every dataset, and the package exports what it says."""

from __future__ import annotations

from pathlib import Path

import bvall.interop.cdisc as cdisc
from bvall.interop.cdisc import load_spec

DOC = (Path(__file__).parents[3] / "docs" / "cdisc.md").read_text(encoding="utf-8")


def test_every_dataset_is_documented() -> None:
    table = DOC.split("## What is exported, and from where")[1].split("### ")[0]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| ")]
    documented = {n.strip() for row in rows for n in row.split(",")}
    assert set(load_spec()) <= documented
    for spec in load_spec().values():
        assert spec.standard in ("SDTMIG 3.4", "ADaMIG 1.3")
        assert spec.standard in DOC


def test_the_public_api_is_curated() -> None:
    assert sorted(cdisc.__all__) == sorted(
        [
            "FORMATS",
            "CdiscExport",
            "DatasetSpec",
            "Variable",
            "build_datasets",
            "check_formats",
            "export_cdisc",
            "load_spec",
            "load_terminology",
            "render_cdisc_zip",
        ]
    )
    for name in cdisc.__all__:
        assert getattr(cdisc, name) is not None
