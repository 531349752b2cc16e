"""The live analysis of the data (the report's tables and figures) and the report download.

Both use the same pipeline as ``bvall report``: :func:`bvall.analysis.build_analysis` and
:func:`bvall.figures.build_figures` on the cohort read from the database, then
:func:`bvall.report.render_report_files` for the files, so a download is byte for byte what the
command writes for the same data, settings and time stamp. The analysis is kept per worker for
the latest data version (:func:`bvall.web.derivations.data_version`), patients and settings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from bvall.web.derivations import cohort_of, database_snapshot
from bvall.web.panels import Panel, available_panel

#: Confidence levels offered on the analysis page.
CI_LEVELS = (0.90, 0.95, 0.99)

#: Formats of the report download: the ``bvall report`` format, the file it writes, MIME type.
REPORT_FORMATS: dict[str, tuple[str, str, str]] = {
    "html": ("html", "report.html", "text/html; charset=utf-8"),
    "pdf": ("pdf", "report.pdf", "application/pdf"),
    "docx": (
        "docx",
        "tables.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "csv": ("zip", "tables", "application/zip"),
}


@dataclass(frozen=True)
class LiveAnalysis:
    """The study tables and figures of a set of patients, as the report builds them."""

    analysis: Any  # bvall.analysis.Analysis
    figures: tuple[Any, ...]  # bvall.analysis.StudyFigure
    omitted: tuple[str, ...]
    svgs: dict[str, str]  # figure id -> SVG text
    patient_ids: tuple[str, ...]
    ci_method: str
    level: float


#: matplotlib is not thread-safe: one analysis (its figures) is built or drawn at a time.
_LOCK = threading.Lock()
_ANALYSES: OrderedDict[tuple[Any, ...], LiveAnalysis] = OrderedDict()
_CACHE_SIZE = 4
#: Figures by the inputs each reads (:class:`bvall.figures.FigureCache`): after a data change
#: only the figures whose inputs changed are drawn again (a lab value changes none of them).
_FIGURES: list[Any] = []
#: Each figure's SVG text, by the figure object (a figure taken from the cache keeps its SVG).
_SVGS: OrderedDict[int, tuple[Any, str]] = OrderedDict()
_SVGS_KEPT = 64


def _figure_cache() -> Any:
    from bvall.figures import FigureCache

    if not _FIGURES:
        _FIGURES.append(FigureCache())
    return _FIGURES[0]


def clear_cache() -> None:
    with _LOCK:
        _ANALYSES.clear()
        _FIGURES.clear()
        _SVGS.clear()


def check_analysis_settings(ci_method: str, level: Any) -> tuple[str, float]:
    """The interval method and level, checked as the report checks them."""
    from bvall.errors import InputError
    from bvall.stats import check_binomial_method

    check_binomial_method(ci_method)
    try:
        lvl = float(level)
    except (TypeError, ValueError):
        raise InputError(
            f"Confidence level {level!r} is not a number; expected e.g. 0.95."
        ) from None
    if not 0 < lvl < 1:
        raise InputError(f"Confidence level {level!r} must lie between 0 and 1 (e.g. 0.95).")
    return ci_method, lvl


def _svg(fig: Any) -> str:
    """The SVG text of a study figure, drawn once per figure object (hold :data:`_LOCK`)."""
    kept = _SVGS.get(id(fig))
    if kept is not None and kept[0] is fig:
        _SVGS.move_to_end(id(fig))
        return kept[1]
    text = _draw_svg(fig)
    _SVGS[id(fig)] = (fig, text)
    while len(_SVGS) > _SVGS_KEPT:
        _SVGS.popitem(last=False)
    return text


def _draw_svg(fig: Any) -> str:
    import io
    from typing import cast

    import matplotlib

    from bvall.figures.style import RC

    buf = io.StringIO()
    with matplotlib.rc_context(cast(Any, {**RC, "svg.hashsalt": fig.id})):
        fig.figure.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def live_analysis(
    patient_ids: list[str], ci_method: str = "clopper-pearson", level: float = 0.95
) -> LiveAnalysis:
    """``build_analysis`` and ``build_figures`` on the cohort of ``patient_ids`` (the patients
    the user may see), cached by the data version, the patients and the settings."""
    from bvall.analysis import build_analysis
    from bvall.figures import build_figures

    ci_method, level = check_analysis_settings(ci_method, level)
    snap = database_snapshot()
    ids = tuple(sorted(set(patient_ids)))
    key = (snap.fingerprint, ids, ci_method, level)
    with _LOCK:
        hit = _ANALYSES.get(key)
        if hit is not None:
            _ANALYSES.move_to_end(key)
            return hit
        cohort = snap.cohort if set(ids) == set(snap.patient_ids) else cohort_of(list(ids))
        analysis = build_analysis(cohort, ci_method=ci_method, level=level)
        if cohort.metadata.synthetic:  # as the report writer does (bvall.report.write_report)
            banner = (
                f"SYNTHETIC DEMO DATA: cohort {cohort.metadata.name!r} is generated, not real "
                "patients; no clinical conclusion may be drawn from this report."
            )
            analysis = replace(analysis, warnings=(banner, *analysis.warnings))
        figures, omitted = build_figures(cohort, cache=_figure_cache())
        hit = LiveAnalysis(
            analysis,
            tuple(figures),
            tuple(omitted),
            {f.id: _svg(f) for f in figures},
            ids,
            ci_method,
            level,
        )
        _ANALYSES[key] = hit
        while len(_ANALYSES) > _CACHE_SIZE:
            _ANALYSES.popitem(last=False)
        return hit


def analysis_panel(
    patient_ids: list[str], ci_method: str = "clopper-pearson", level: float = 0.95
) -> Panel:
    """The live analysis of the visible patients: ``details`` holds one :class:`LiveAnalysis`
    (tables with each cell's provenance, figures as SVG, omitted figures with reasons)."""
    if not patient_ids:
        return available_panel("analysis", [], "No patient is visible to you; nothing to analyse.")
    la = live_analysis(patient_ids, ci_method, level)
    a = la.analysis
    msg = (
        f"{len(la.patient_ids)} patient{'' if len(la.patient_ids) == 1 else 's'}; data SHA-256 {a.data_hash[:12]}…; "
        f"{ci_method} {level:.0%} intervals; bvall {a.bvall_version}."
    )
    return available_panel("analysis", [], msg, details=[{"live": la}])


def report_panel(patient_ids: list[str]) -> Panel:
    """The report download (HTML, PDF, DOCX, CSV tables as ZIP) of the visible patients."""
    if not patient_ids:
        return available_panel("report", [], "No patient is visible to you; there is no report.")
    rows = [
        {"format": f, "label": f.upper() if f != "csv" else "CSV tables (ZIP)"}
        for f in REPORT_FORMATS
    ]
    return available_panel(
        "report",
        rows,
        f"The report of the current data of the {len(patient_ids)} "
        f"patient{'' if len(patient_ids) == 1 else 's'} you may see, "
        "stamped with the time it is generated.",
    )


def report_file_name(cohort_name: str, fmt: str, when: Any) -> str:
    """``bvall-report-<cohort>-<YYYYMMDD-HHMM>.<ext>`` (cohort name made safe for files)."""
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", cohort_name).strip("-") or "cohort"
    return f"bvall-report-{safe}-{when:%Y%m%d-%H%M}.{REPORT_FORMATS[fmt][0]}"


def render_report(
    patient_ids: list[str],
    fmt: str,
    *,
    generated_at: Any,
    ci_method: str = "clopper-pearson",
    level: float = 0.95,
) -> tuple[bytes, str, str]:
    """The report of ``patient_ids`` in ``fmt``, written by ``bvall report``'s own pipeline
    (:func:`bvall.report.render_report_files`) into a temporary folder and read back:
    (content, MIME type, file name). The CSV tables come as one ZIP."""
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    from bvall.errors import UnknownNameError
    from bvall.report import render_report_files

    if fmt not in REPORT_FORMATS:
        raise UnknownNameError(
            f"Report format {fmt!r} is not offered; formats: {', '.join(REPORT_FORMATS)}."
        )
    la = live_analysis(patient_ids, ci_method, level)
    _, written, mime = REPORT_FORMATS[fmt]
    with tempfile.TemporaryDirectory(prefix="bvall-report-") as tmp:
        out = Path(tmp) / "report"
        with _LOCK:  # the figures are drawn again for the HTML and PDF
            render_report_files(
                la.analysis,
                la.figures,
                la.omitted,
                out,
                generated_at=generated_at,
                formats=[fmt],
            )
        path = out / written
        if path.is_dir():
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for f in sorted(path.iterdir()):
                    z.writestr(f.name, f.read_bytes())
            data = buf.getvalue()
        else:
            data = path.read_bytes()
    return data, mime, report_file_name(la.analysis.cohort_name, fmt, generated_at)
