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

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import matplotlib
import pyarrow as pa

from bvall.analysis.model import StudyFigure
from bvall.cohort.model import Cohort, table_digest
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


@dataclass(frozen=True)
class FigureGroup:
    """Figures drawn together from declared inputs: the cohort tables and the derived endpoint
    columns they read (besides the cohort's metadata and the interval transform). The builder
    is given only those: reading another table raises, and the endpoints hold only those
    columns, so the declaration is what the figure depends on, and a cache keyed by those
    inputs (:class:`FigureCache`) can never give a figure drawn from other data."""

    name: str
    tables: tuple[str, ...]
    endpoint_columns: tuple[str, ...]
    build: Callable[[Cohort, pa.Table, str], tuple[list[StudyFigure], list[str]]]
    #: drawn with the Kaplan–Meier interval transform (the builder's third argument)
    intervals: bool = False


def _one(
    built: tuple[StudyFigure | None, str | None],
) -> tuple[list[StudyFigure], list[str]]:
    figure, reason = built
    return ([] if figure is None else [figure]), ([] if reason is None else [reason])


#: Every figure of :func:`build_figures`, by what it reads.
FIGURE_GROUPS: tuple[FigureGroup, ...] = (
    FigureGroup(
        "survival",
        (),
        (
            "patient_id",
            "arm",
            "os_days",
            "os_event",
            "rfs_days",
            "rfs_event",
            "relapse",
            "rule_version",
        ),
        lambda c, e, conf: build_survival_figures(c, e, conf),
        intervals=True,
    ),
    FigureGroup(
        "swimmer",
        ("treatment_courses", "follow_up_events", "marrow_assessments"),
        (
            "patient_id",
            "arm",
            "os_days",
            "os_event",
            "cr_day",
            "relapse",
            "relapse_day",
            "rule_version",
        ),
        lambda c, e, conf: _one(build_swimmer_figure(c, e)),
    ),
    FigureGroup(
        "timeline",
        ("treatment_courses",),
        (),
        lambda c, e, conf: _one(build_timeline_figure(c)),
    ),
    FigureGroup(
        "consort",
        ("patients", "treatment_courses", "follow_up_events"),
        ("patient_id", "best_response", "cr_day", "death", "relapse", "mrd_negative_d14_21"),
        lambda c, e, conf: ([build_consort_figure(c, e)], []),
    ),
)


class _DeclaredTables(Cohort):
    """A cohort whose tables other than the declared ones cannot be read (an internal error:
    a figure reading an undeclared table would be cached on the wrong inputs). Every reading
    method of :class:`~bvall.cohort.Cohort` (``table``, ``frame``, ``patient_ids``) goes
    through ``__getitem__``."""

    def __init__(self, cohort: Cohort, declared: tuple[str, ...]) -> None:
        super().__init__({n: cohort[n] for n in cohort.table_names}, cohort.metadata)
        self._declared = declared

    def __getitem__(self, name: str) -> pa.Table:
        if name not in self._declared:
            raise RuntimeError(
                f"internal: a figure read table {name!r}, not among its declared inputs "
                f"{self._declared} (bvall.figures.FIGURE_GROUPS)"
            )
        return super().__getitem__(name)


class FigureCache:
    """The figures of the last few inputs of each group, so that drawing the figures of changed
    data draws only the groups whose inputs changed (a lab value changes no figure). Keyed by
    the group, the interval transform, the cohort's metadata and the SHA-256 of each declared
    table and of the declared endpoint columns. Thread-safe; matplotlib figures are shared, and
    must be treated as read-only by their users (drawn, saved, never changed)."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[Any, ...], tuple[list[StudyFigure], list[str]]] = (
            OrderedDict()
        )
        #: the last groups drawn (not taken from the cache), for tests and benchmarks
        self.drawn: deque[str] = deque(maxlen=64)

    def get(self, key: tuple[Any, ...]) -> tuple[list[StudyFigure], list[str]] | None:
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None:
                self._kept.move_to_end(key)
            return hit

    def put(self, key: tuple[Any, ...], value: tuple[list[StudyFigure], list[str]]) -> None:
        with self._lock:
            self._kept[key] = value
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)


def build_figures(
    cohort: Cohort,
    *,
    settings: CriteriaSettings | None = None,
    km_conf_type: str = "log-log",
    cache: FigureCache | None = None,
) -> tuple[list[StudyFigure], list[str]]:
    """Every study figure the cohort supports, in :data:`FIGURE_IDS` order, and one sentence
    per omitted figure saying why (``"figure-os: ..."``). ``km_conf_type``: the Kaplan–Meier
    interval transform, the same default as the study tables. With a ``cache``, a group of
    figures whose inputs (:data:`FIGURE_GROUPS`) are those of an earlier call is taken from
    it, not drawn again."""
    endpoints = derive(cohort, "endpoints", settings=settings)
    figures: list[StudyFigure] = []
    reasons: list[str] = []
    for group in FIGURE_GROUPS:
        inputs = _DeclaredTables(cohort, group.tables)
        ends = endpoints.select(list(group.endpoint_columns))
        key = None
        if cache is not None:
            key = (
                group.name,
                km_conf_type if group.intervals else None,
                repr(cohort.metadata),
                tuple(table_digest(cohort[t]) for t in group.tables),
                table_digest(ends),
            )
            hit = cache.get(key)
            if hit is not None:
                figures += hit[0]
                reasons += hit[1]
                continue
        built = group.build(inputs, ends, km_conf_type)
        if cache is not None and key is not None:
            cache.drawn.append(group.name)
            cache.put(key, built)
        figures += built[0]
        reasons += built[1]
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
    "FIGURE_GROUPS",
    "FIGURE_IDS",
    "FORMATS",
    "FigureCache",
    "FigureGroup",
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
