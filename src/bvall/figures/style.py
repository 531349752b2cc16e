"""One journal style for every study figure.

DejaVu Sans (ships with matplotlib, so nothing is downloaded and the text looks the same on
every machine), 8 pt text with 7 pt tick labels, no top/right spines, no grid, thin lines, the
Okabe–Ito colour-blind-safe palette (Okabe M, Ito K. *Color Universal Design*, 2008; the
palette Nature Methods recommends, Wong B, Nat Methods 2011;8:441), and the column widths most
journals print: 85 mm single column, 174 mm double column.

Style is applied with :func:`journal_style`, a ``matplotlib.rc_context`` around the drawing code:
matplotlib reads fonts and line widths when an artist is created, so a figure drawn inside the
context keeps its style after the context restores the caller's settings. Nothing global is left
changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: figures are files. Safe to call before pyplot is imported.

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: millimetres per inch
MM_PER_INCH = 25.4
SINGLE_COLUMN_MM = 85.0
DOUBLE_COLUMN_MM = 174.0
#: days per month used for every time axis in months (365.25 / 12)
DAYS_PER_MONTH = 30.4375

FONT_FAMILY = "DejaVu Sans"
FONT_SIZE = 8.0
SMALL_FONT_SIZE = 7.0

#: Okabe–Ito palette (hex as published by Wong 2011).
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
GREY = "#7F7F7F"
LIGHT_GREY = "#D9D9D9"

#: One colour per arm, used in every figure so an arm is recognised across panels.
ARM_COLOURS: dict[str, str] = {
    "concurrent": OKABE_ITO["blue"],
    "sequential": OKABE_ITO["vermillion"],
}
OVERALL_COLOUR = OKABE_ITO["black"]

ARM_LABELS: dict[str, str] = {
    "concurrent": "Concurrent BV",
    "sequential": "Sequential BV",
}

RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT_FAMILY],
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE,
    "axes.titleweight": "bold",
    "axes.labelsize": FONT_SIZE,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.edgecolor": OKABE_ITO["black"],
    "xtick.labelsize": SMALL_FONT_SIZE,
    "ytick.labelsize": SMALL_FONT_SIZE,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "legend.fontsize": SMALL_FONT_SIZE,
    "legend.frameon": False,
    "lines.linewidth": 1.2,
    "patch.linewidth": 0.6,
    "mathtext.default": "regular",
    # text stays text in SVG/PDF (editable by the journal's artists), fonts embedded as Type 42
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "savefig.dpi": 300,
    "figure.dpi": 100,
}


@contextmanager
def journal_style() -> Iterator[None]:
    """Draw inside this context to get the journal style; the caller's settings come back."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(width_mm: float, height_mm: float) -> Figure:
    """A figure of the given printed size, attached to the Agg canvas (no pyplot, no state)."""
    fig = Figure(figsize=(width_mm / MM_PER_INCH, height_mm / MM_PER_INCH))
    FigureCanvasAgg(fig)
    return fig


def arm_colour(arm: str) -> str:
    """The arm's colour; an arm without one gets a grey (never a random colour)."""
    return ARM_COLOURS.get(arm, GREY)


def arm_label(arm: str) -> str:
    return ARM_LABELS.get(arm, arm.replace("_", " ").capitalize())


def format_months(value: float) -> str:
    return f"{value:g}"
