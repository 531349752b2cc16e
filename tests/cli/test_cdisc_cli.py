"""`bvall cdisc export`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.conftest import CliResult


def test_cdisc_export_writes_the_datasets_and_define(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r: CliResult = run_cli(
        "cdisc", "export", "published", "--out", str(tmp_path), "--format", "xpt,json",
        "--study-id", "BV-JSPH",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "ADTTE" in r.stdout
    assert "study BV-JSPH" in r.stdout
    dm = pd.read_sas(tmp_path / "dm.xpt", format="xport", encoding="utf-8")
    assert len(dm) == 13
    assert set(dm["STUDYID"]) == {"BV-JSPH"}
    doc = json.loads((tmp_path / "adsl.json").read_text(encoding="utf-8"))
    assert doc["records"] == 13
    assert doc["studyOID"] == "BV-JSPH"
    assert (tmp_path / "define.xml").exists()


def test_cdisc_export_names_an_unknown_format(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("cdisc", "export", "published", "--out", str(tmp_path), "--format", "sas7bdat")
    assert r.exit_code == 1
    assert "'sas7bdat' is not known" in r.stderr
    assert "xpt, json" in r.stderr
    assert not any(tmp_path.iterdir())
