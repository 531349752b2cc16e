"""Write a cohort's report to a folder: HTML, PDF, DOCX, CSV and figure files, atomically.

Everything is rendered into a temporary folder beside the target; only when every file is
written is the previous report (if any) swapped out and the new one moved into place, so a
failing render leaves the old report intact. ``manifest.json`` records the stamp, the omitted
figures and the SHA-256 of every file written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bvall.analysis.model import Analysis, StudyFigure
from bvall.errors import InputError, UnknownNameError, suggest
from bvall.report.content import build_stamp, check_generated_at
from bvall.report.pdf import PdfWorker

if TYPE_CHECKING:
    from bvall.cohort.model import Cohort
    from bvall.criteria.settings import CriteriaSettings

#: Everything a report can contain; ``figures`` writes each figure as SVG, PNG and PDF.
FORMATS: tuple[str, ...] = ("html", "pdf", "docx", "csv", "figures")
#: The formats of each figure file and the resolution of the PNG.
FIGURE_FORMATS: tuple[str, ...] = ("svg", "png", "pdf")
FIGURE_DPI = 300
MANIFEST = "manifest.json"

#: ``progress(stage, done, total)``: called before each stage starts and once at the end
#: (stage ``"done"``, done == total).
Progress = Callable[[str, int, int], None]


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """``formats`` without duplicates, in the order of :data:`FORMATS`; an unknown one raises
    :class:`UnknownNameError` naming the accepted formats."""
    if isinstance(formats, str):
        formats = [f for f in formats.split(",") if f.strip()]
    wanted = [f.strip().lower() for f in formats]
    for f in wanted:
        if f not in FORMATS:
            raise UnknownNameError(
                f"Report format {f!r} is not known{suggest(f, FORMATS) or '.'} "
                f"Formats: {', '.join(FORMATS)}."
            )
    if not wanted:
        raise InputError(f"No report format given; choose one or more of: {', '.join(FORMATS)}.")
    return tuple(f for f in FORMATS if f in wanted)


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {str(out_dir)!r} is a file; give a folder for the report.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise InputError(
            f"--out {str(out_dir)!r} is a folder that holds other files and no bvall report "
            f"({MANIFEST} is missing); it would be replaced. Give an empty or new folder, or "
            "the folder of an earlier report."
        )
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"Cannot create the folder {str(parent)!r} for the report ({exc.strerror}); "
            "give a folder you can write to."
        ) from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(
            f"Cannot write the report to {str(out_dir)!r}: the folder {str(parent)!r} is not "
            "writable; give a folder you can write to."
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _figure_metadata(
    fmt: str, stamp_text: str, title: str, analysis: Analysis, when: datetime
) -> dict[str, Any]:
    ident = f"sha256:{analysis.data_hash}"
    creator = f"bvall {analysis.bvall_version}"
    if fmt == "svg":
        return {
            "Title": title,
            "Creator": creator,
            "Date": when.isoformat(timespec="seconds"),
            "Description": stamp_text,
            "Identifier": ident,
            "Keywords": ["bvall", analysis.cohort_name],
        }
    if fmt == "pdf":
        return {
            "Title": title,
            "Author": creator,
            "Subject": stamp_text,
            "Keywords": f"bvall; {analysis.cohort_name}; {ident}",
            "Creator": creator,
            "CreationDate": when,
        }
    return {
        "Title": title,
        "Author": creator,
        "Description": stamp_text,
        "Creation Time": when.isoformat(timespec="seconds"),
        "Software": creator,
    }


def _write_figures(
    figures: Sequence[StudyFigure], folder: Path, analysis: Analysis, when: datetime
) -> list[Path]:
    import matplotlib

    from bvall.figures.style import RC

    stamp = build_stamp(analysis, when)
    text = stamp.text()
    folder.mkdir()
    written: list[Path] = []
    # As bvall.figures.save_figure writes them (journal style: editable text, fonts embedded,
    # the size the figure was drawn at), plus the report's stamp in each file's metadata.
    for fig in figures:
        # Any: matplotlib types rc keys as a Literal of every known name
        rc: Any = {**RC, "svg.hashsalt": fig.id}
        with matplotlib.rc_context(rc):
            for fmt in FIGURE_FORMATS:
                path = folder / f"{fig.id}.{fmt}"
                fig.figure.savefig(
                    path,
                    format=fmt,
                    dpi=FIGURE_DPI,
                    metadata=_figure_metadata(fmt, text, fig.title, analysis, when),
                )
                written.append(path)
    return written


def render_report_files(
    analysis: Analysis,
    figures: Sequence[StudyFigure],
    omitted: Sequence[str],
    out_dir: str | Path,
    *,
    generated_at: datetime,
    formats: Sequence[str] = FORMATS,
    progress: Progress | None = None,
    stage_offset: tuple[int, int] = (0, 0),
    pdf_worker: PdfWorker | None = None,
) -> list[Path]:
    """Render ``analysis`` and ``figures`` into ``out_dir`` (replacing an earlier report only
    once every file is written); the paths written, ``manifest.json`` last.

    ``stage_offset`` (stages already done, stages before these) lets :func:`write_report`
    count its own stages in the same progress display. With a ``pdf_worker`` the PDF is
    rendered in a second process while the DOCX, CSV and figure files are written.
    """
    from bvall.report.csv_tables import render_tables_csv
    from bvall.report.docx_tables import render_tables_docx
    from bvall.report.html import render_report_html
    from bvall.report.pdf import render_report_pdf

    when = check_generated_at(generated_at)
    wanted = check_formats(formats)
    out = Path(out_dir).expanduser().absolute()
    _check_out_dir(out)
    stages = [s for s in ("html", "pdf", "docx", "csv", "figures") if s in wanted]
    if "pdf" in wanted and "html" not in wanted:
        stages.insert(0, "html")
    if pdf_worker is not None and "pdf" in stages:
        stages.append(stages.pop(stages.index("pdf")))  # collected after the other files
    done0, extra = stage_offset
    total = extra + len(stages) + 1

    def step(name: str) -> None:
        if progress is not None:
            progress(name, done0 + stages.index(name) if name in stages else total - 1, total)

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        files: list[str] = []
        html = ""
        if "html" in stages:
            step("html")
            html = render_report_html(analysis, list(figures), list(omitted), generated_at=when)
            if "html" in wanted:
                (tmp / "report.html").write_text(html, encoding="utf-8")
                files.append("report.html")
        if "pdf" in stages and pdf_worker is None:
            step("pdf")
            (tmp / "report.pdf").write_bytes(render_report_pdf(html))
            files.append("report.pdf")
        elif "pdf" in stages:
            assert pdf_worker is not None
            pdf_worker.submit(html)
        if "docx" in stages:
            step("docx")
            (tmp / "tables.docx").write_bytes(render_tables_docx(analysis, generated_at=when))
            files.append("tables.docx")
        if "csv" in stages:
            step("csv")
            (tmp / "tables").mkdir()
            for name, text in render_tables_csv(analysis).items():
                # newline="" keeps the csv module's \r\n line ends as written
                with open(tmp / "tables" / name, "w", encoding="utf-8", newline="") as fh:
                    fh.write(text)
                files.append(f"tables/{name}")
        if "figures" in stages:
            step("figures")
            for p in _write_figures(figures, tmp / "figures", analysis, when):
                files.append(p.relative_to(tmp).as_posix())
        if "pdf" in stages and pdf_worker is not None:
            step("pdf")
            (tmp / "report.pdf").write_bytes(pdf_worker.result())
            files.insert(1 if "html" in wanted else 0, "report.pdf")
        step("finish")
        manifest = {
            "stamp": build_stamp(analysis, when).to_dict(),
            "formats": list(wanted),
            "omitted_figures": list(omitted),
            "files": [
                {"path": f, "sha256": _sha256(tmp / f), "bytes": (tmp / f).stat().st_size}
                for f in files
            ],
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress is not None:
        progress("done", total, total)
    return [out / f for f in (*files, MANIFEST)]


def _swap(tmp: Path, out: Path) -> None:
    """Move the complete new report ``tmp`` to ``out``; an earlier report there goes only after."""
    if not out.exists():
        tmp.rename(out)
        return
    _check_out_dir(out)  # it may have changed while the report was rendering
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_report(
    cohort: Cohort | str | Path,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = FORMATS,
    ci_method: str = "clopper-pearson",
    level: float = 0.95,
    settings: CriteriaSettings | None = None,
    generated_at: datetime,
    progress: Progress | None = None,
) -> list[Path]:
    """Build the analysis and figures of ``cohort`` (a :class:`Cohort`, a bundled dataset name
    or a path) and write its report to ``out_dir``; the paths written.

    ``ci_method`` and ``level`` name the binomial confidence intervals
    (:data:`bvall.stats.BINOMIAL_METHODS`); ``settings`` the criteria settings.
    ``generated_at`` (timezone-aware) is stamped on every file; ``progress`` is told each stage.
    """
    from bvall.stats import check_binomial_method

    when = check_generated_at(generated_at)
    wanted = check_formats(formats)
    check_binomial_method(ci_method)
    if not (isinstance(level, int | float) and 0 < level < 1):
        raise InputError(f"Confidence level {level!r} must lie between 0 and 1 (e.g. 0.95).")
    _check_out_dir(Path(out_dir).expanduser().absolute())

    own = ["load", "criteria", "analysis", "figures"]
    render_stages = len([s for s in FORMATS if s in wanted]) + (
        1 if "pdf" in wanted and "html" not in wanted else 0
    )
    total = len(own) + render_stages + 1

    def step(name: str) -> None:
        if progress is not None:
            progress(name, own.index(name), total)

    # Rendering the PDF is the longest stage: a second process starts now and renders it while
    # this one writes the other files.
    pdf_worker = PdfWorker() if "pdf" in wanted and len(wanted) > 1 else None
    try:
        return _write_report(
            cohort, out_dir, wanted, ci_method, level, settings, when, step, progress, pdf_worker
        )
    finally:
        if pdf_worker is not None:
            pdf_worker.close()


def _write_report(
    cohort: Cohort | str | Path,
    out_dir: str | Path,
    wanted: tuple[str, ...],
    ci_method: str,
    level: float,
    settings: CriteriaSettings | None,
    when: datetime,
    step: Callable[[str], None],
    progress: Progress | None,
    pdf_worker: PdfWorker | None,
) -> list[Path]:
    from bvall.analysis.tables import build_analysis_from, collect_study_data
    from bvall.cohort import load_cohort
    from bvall.cohort.model import Cohort
    from bvall.criteria.settings import CriteriaSettings

    own = ["load", "criteria", "analysis", "figures"]
    step("load")
    c = cohort if isinstance(cohort, Cohort) else load_cohort(cohort)
    # build_analysis in two steps, so that the progress display (and the benchmark) can tell
    # deriving the criteria from building the tables
    step("criteria")
    data = collect_study_data(c, settings or CriteriaSettings())
    step("analysis")
    analysis = build_analysis_from(data, ci_method=ci_method, level=float(level))
    if c.metadata.synthetic:
        banner = (
            f"SYNTHETIC DEMO DATA: cohort {c.metadata.name!r} is generated, not real patients; "
            "no clinical conclusion may be drawn from this report."
        )
        analysis = replace(analysis, warnings=(banner, *analysis.warnings))
    figures: list[StudyFigure] = []
    omitted: list[str] = []
    needs_figures = bool({"html", "pdf", "figures"} & set(wanted))
    step("figures")
    if needs_figures:
        from bvall.figures import build_figures

        built, omitted = build_figures(c, settings=settings)
        figures = list(built)
    try:
        return render_report_files(
            analysis,
            figures,
            omitted,
            out_dir,
            generated_at=when,
            formats=wanted,
            progress=progress,
            stage_offset=(len(own), len(own)),
            pdf_worker=pdf_worker,
        )
    finally:
        import matplotlib.pyplot as plt

        for fig in figures:
            plt.close(fig.figure)


def now_utc() -> datetime:
    """The current time in UTC, for callers (the CLI) that stamp a report with it."""
    return datetime.now(UTC)
