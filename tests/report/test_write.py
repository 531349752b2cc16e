"""Writing a report folder: the files, the manifest, figure metadata, atomic replacement, errors."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from bvall.analysis.model import Analysis
from bvall.errors import InputError, UnknownNameError
from bvall.report import MANIFEST, check_formats, render_report_files
from tests.report.conftest import DATA_HASH, GENERATED_AT, make_analysis, make_figure

FAST = ("html", "docx", "csv")


def _write(out: Path, formats: tuple[str, ...] = FAST, **kw: object) -> list[Path]:
    return render_report_files(
        make_analysis(),
        [make_figure()],
        ["Swimmer plot: no dose records."],
        out,
        generated_at=GENERATED_AT,
        formats=formats,
        **kw,  # type: ignore[arg-type]
    )


def test_files_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "r"
    seen: list[tuple[str, int, int]] = []
    paths = _write(out, progress=lambda s, d, t: seen.append((s, d, t)))
    names = sorted(p.relative_to(out).as_posix() for p in paths)
    assert names == sorted(
        [
            "report.html",
            "tables.docx",
            "tables/table-1-baseline.csv",
            "tables/table-2-ae.csv",
            MANIFEST,
        ]
    )
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["stamp"]["data_sha256"] == DATA_HASH
    assert manifest["stamp"]["generated_at"] == "2025-03-14T09:26:53+00:00"
    assert manifest["omitted_figures"] == ["Swimmer plot: no dose records."]
    for entry in manifest["files"]:
        assert hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    # stages in order, then done; no temporary folder left beside the report
    assert [s for s, _, _ in seen] == ["html", "docx", "csv", "finish", "done"]
    assert seen[-1][1] == seen[-1][2] == 4
    assert sorted(os.listdir(tmp_path)) == ["r"]


def test_figure_files_carry_the_stamp(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _write(out, formats=("figures",))
    with Image.open(out / "figures" / "figure-os.png") as png:
        info = dict(png.info)
    assert DATA_HASH in info["Description"]
    dpi = info["dpi"]
    assert dpi[0] == pytest.approx(300, abs=0.01)
    svg = (out / "figures" / "figure-os.svg").read_text()
    assert DATA_HASH in svg
    assert "2025-03-14T09:26:53+00:00" in svg
    meta = PdfReader(io.BytesIO((out / "figures" / "figure-os.pdf").read_bytes())).metadata
    assert meta is not None
    assert DATA_HASH in str(meta.get("/Subject"))


def test_failing_render_leaves_the_old_report_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    _write(out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def boom(analysis: Analysis, *, generated_at: object) -> bytes:
        raise RuntimeError("disk full while writing the DOCX")

    monkeypatch.setattr("bvall.report.docx_tables.render_tables_docx", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        _write(out)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(os.listdir(tmp_path)) == ["r"]  # the temporary folder was removed


def test_second_run_replaces_the_report(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _write(out, formats=("html", "csv"))
    _write(out, formats=("csv",))
    assert not (out / "report.html").exists()
    assert (out / "tables" / "table-2-ae.csv").exists()
    assert sorted(os.listdir(tmp_path)) == ["r"]


def test_folder_with_other_files_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "thesis.docx").write_text("mine")
    with pytest.raises(InputError, match="holds other files"):
        _write(tmp_path)
    assert (tmp_path / "thesis.docx").read_text() == "mine"


def test_out_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "r").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        _write(tmp_path / "r")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_unwritable_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(InputError, match="not writable"):
            _write(ro / "r")
    finally:
        ro.chmod(0o700)


def test_parent_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match=r"Cannot create the folder '.*/f'"):
        _write(tmp_path / "f" / "r")


def test_formats() -> None:
    assert check_formats(["pdf", "html", "pdf"]) == ("html", "pdf")
    assert check_formats("csv,docx") == ("docx", "csv")
    with pytest.raises(UnknownNameError, match=r"'xlsx' is not known\. Formats: html, pdf"):
        check_formats(["xlsx"])
    with pytest.raises(UnknownNameError, match="did you mean 'docx'"):
        check_formats(["doc"])
    with pytest.raises(InputError, match="No report format"):
        check_formats([])
