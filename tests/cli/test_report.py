"""`bvall report`: the example report end to end (rendered once per session) and bad input."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

from bvall.report import MANIFEST
from tests.conftest import CliResult, _run_cli


@pytest.fixture(scope="session")
def example_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliResult]:
    out = tmp_path_factory.mktemp("report") / "example"
    return out, _run_cli("report", "example", "--out", str(out))


def test_example_report_files(example_report: tuple[Path, CliResult]) -> None:
    out, result = example_report
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / MANIFEST).read_text())
    written = {f["path"] for f in manifest["files"]}
    assert {"report.html", "report.pdf", "tables.docx"} <= written
    for f in written:
        assert f in result.stdout
    for reason in manifest["omitted_figures"]:
        assert reason in result.stdout
    stamp = manifest["stamp"]
    assert stamp["settings"]["ci_method"] == "clopper-pearson"
    assert len(stamp["data_sha256"]) == 64


def test_example_report_pdf_docx_csv_agree(example_report: tuple[Path, CliResult]) -> None:
    out, _ = example_report
    manifest = json.loads((out / MANIFEST).read_text())
    reader = PdfReader(out / "report.pdf")
    first = reader.pages[0].extract_text()
    assert manifest["stamp"]["data_sha256"] in first
    assert "SYNTHETIC DEMO DATA" in first  # the example cohort is generated
    text = "".join(p.extract_text() for p in reader.pages)
    assert "Sources of the numbers" in text
    for title in ("Patient demographics and baseline characteristics", "Adverse events"):
        assert title in text
    # front page, 7 tables, 6 figures, the appendix: more than 14 pages, never hundreds
    assert 15 <= len(reader.pages) <= 60
    doc = Document(str(out / "tables.docx"))
    csv_files = sorted((out / "tables").glob("*.csv"))
    assert len(doc.tables) == len(csv_files) >= 5
    html = (out / "report.html").read_text()
    for table in doc.tables:
        header = [c.text for c in table.rows[0].cells]
        # every DOCX table has a CSV twin with the same header and the same value cells
        twins = [
            list(csv.reader(io.StringIO(p.read_text(encoding="utf-8"), newline="")))
            for p in csv_files
        ]
        twin = next(t for t in twins if t[0] == header and len(t) == len(table.rows))
        for wrow, crow in zip(table.rows[1:], twin[1:], strict=True):
            texts = [c.text for c in wrow.cells]
            if any(crow[1:]):
                assert texts == crow
    assert html.count("<td title=") > 50


def test_unknown_format(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("report", "published", "--out", str(tmp_path / "r"), "--format", "html,rtf")
    assert result.exit_code == 1
    assert "'rtf'" in result.stderr
    assert "html, pdf, docx, csv, figures" in result.stderr
    assert not (tmp_path / "r").exists()


def test_unknown_cohort(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("report", "publshed", "--out", str(tmp_path / "r"))
    assert result.exit_code == 1
    assert "'publshed'" in result.stderr
    assert "did you mean 'published'" in result.stderr
    assert not (tmp_path / "r").exists()


def test_unknown_ci_method(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("report", "published", "--out", str(tmp_path / "r"), "--ci-method", "exact")
    assert result.exit_code == 1
    assert "'exact'" in result.stderr
    assert "clopper-pearson" in result.stderr


def test_out_is_a_file(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    (tmp_path / "r").write_text("x")
    result = run_cli("report", "published", "--out", str(tmp_path / "r"), "--format", "csv")
    assert result.exit_code == 1
    assert "is a file" in result.stderr
