"""Publication figures regenerated from patient-level data (matplotlib, Agg backend).

Public API::

    build_figures(cohort, *, settings=None) -> (list[StudyFigure], list[str])
    save_figure(fig, stem, formats=("svg", "png", "pdf"), dpi=300) -> list[Path]

Figures (ids): ``figure-os``, ``figure-rfs`` (Kaplan–Meier, overall and by arm, with an aligned
number-at-risk table), ``figure-cir`` (cumulative incidence of relapse, death as competing
risk), ``figure-swimmer``, ``figure-timeline`` (planned schedule of each arm from the regimen
specs), ``figure-consort``. A figure the cohort cannot support (e.g. no per-patient follow-up
times in the published cohort) is omitted and the second list says why; nothing is drawn from
invented data. Each ``render_*`` function is pure: it builds a new ``matplotlib.figure.Figure``
(never pyplot) inside :func:`~bvall.figures.style.journal_style` and leaves no global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import matplotlib

from bvall.analysis.model import StudyFigure
from bvall.cohort.model import Cohort
from bvall.criteria import CriteriaSettings, derive
from bvall.errors import InputError
from bvall.figures.consort import build_consort_figure, compute_consort_counts, render_consort
from bvall.figures.km import KMCurve, KMPanel, build_survival_figures, render_km
from bvall.figures.style import RC, journal_style
from bvall.figures.swimmer import build_swimmer_figure, derive_swimmer_lanes, render_swimmer
from bvall.figures.timeline import build_timeline_figure, derive_timeline_lanes, render_timeline

FIGURE_IDS: tuple[str, ...] = (
    "figure-os",
    "figure-rfs",
    "figure-cir",
    "figure-swimmer",
    "figure-timeline",
    "figure-consort",
)
FORMATS: tuple[str, ...] = ("svg", "png", "pdf")


def build_figures(
    cohort: Cohort, *, settings: CriteriaSettings | None = None, km_conf_type: str = "log-log"
) -> tuple[list[StudyFigure], list[str]]:
    """Every study figure the cohort supports, in :data:`FIGURE_IDS` order, and one sentence
    per omitted figure saying why (``"figure-os: ..."``). ``km_conf_type``: the Kaplan–Meier
    interval transform, the same default as the study tables."""
    endpoints = derive(cohort, "endpoints", settings=settings)
    figures: list[StudyFigure] = []
    reasons: list[str] = []
    survival, why = build_survival_figures(cohort, endpoints, km_conf_type)
    figures += survival
    reasons += why
    for built, reason in (
        build_swimmer_figure(cohort, endpoints),
        build_timeline_figure(cohort),
    ):
        if built is not None:
            figures.append(built)
        if reason is not None:
            reasons.append(reason)
    figures.append(build_consort_figure(cohort, endpoints))
    order = {fid: i for i, fid in enumerate(FIGURE_IDS)}
    figures.sort(key=lambda f: order[f.id])
    reasons.sort(key=lambda r: order.get(r.split(":", 1)[0], len(order)))
    return figures, reasons


def save_figure(
    fig: StudyFigure, stem: Path, formats: Sequence[str] = FORMATS, dpi: int = 300
) -> list[Path]:
    """Write ``stem.<format>`` for each format (svg, png, pdf) at ``dpi``; the paths written.

    SVG keeps text as text and PDF embeds DejaVu Sans as TrueType (Type 42), so a journal can
    edit labels; PNG is rendered at ``dpi`` with the dpi recorded in the file.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise InputError(
            f"Figure format(s) {', '.join(map(repr, bad)) or 'none'} not supported; expected "
            f"one or more of {', '.join(FORMATS)}."
        )
    if not (isinstance(dpi, int) and 50 <= dpi <= 2400):
        raise InputError(f"dpi = {dpi!r} is not a whole number between 50 and 2400 (e.g. 300).")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    # metadata without a creation date keeps the files reproducible byte for byte
    metadata = {
        "svg": {"Date": None},
        "pdf": {"CreationDate": None},
        "png": {},
    }
    with matplotlib.rc_context(cast(Any, {**RC, "svg.hashsalt": fig.id})):
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            fig.figure.savefig(path, format=fmt, dpi=dpi, metadata=metadata[fmt])
            written.append(path)
    return written


__all__ = [
    "FIGURE_IDS",
    "FORMATS",
    "KMCurve",
    "KMPanel",
    "build_figures",
    "compute_consort_counts",
    "derive_swimmer_lanes",
    "derive_timeline_lanes",
    "journal_style",
    "render_consort",
    "render_km",
    "render_swimmer",
    "render_timeline",
    "save_figure",
]
