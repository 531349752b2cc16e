"""Cells that explain themselves: counts with their denominators, summaries with their missing.

Conventions of every study table:

* A rate cell's ``value`` is the proportion x/N (0–1); its text is ``"x/N (p%)"`` (or
  ``"n (p%)"`` in Table 1 style), with the confidence interval when one was asked for, and
  ``"; missing m"`` when m patients of the column have no known value. N counts the patients
  with a known value only.
* N = 0 (an empty arm, or nobody with a known value) prints ``"0/0 (not estimable)"`` with value
  ``None``: nothing is divided by zero.
* A summary cell's ``value`` is the median; its text is ``"median (min–max)"``.
* ``patients`` lists the numerator's patients (for a summary: the patients summarised);
  ``source`` says whether those values were derived by the criteria engine, reported, or both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bvall.analysis.model import Cell, Row, Source
from bvall.stats import METHOD_LABELS, compute_binomial_ci, compute_summary

#: Text of a cell whose statistic has no data behind it.
NOT_ESTIMABLE = "not estimable"


def format_number(value: float, decimals: int | None = None) -> str:
    """A number as printed in a table: fixed decimals, or at most two decimals (three
    significant digits below 0.01), trailing zeros dropped."""
    if decimals is not None:
        return f"{value:.{decimals}f}"
    if value == 0 or abs(value) >= 0.01:
        # two decimals at most, as the cohort records counts and percentages (222.17, 79.2)
        return f"{round(value, 2):.10g}"
    return f"{value:.3g}"


def format_percent(x: int, n: int) -> str:
    return f"{100 * x / n:.1f}%"


def combine_sources(sources: Iterable[str]) -> Source:
    """One source for a cell from the sources of its patients' values (``missing`` ignored)."""
    seen = {s for s in sources if s in ("derived", "reported", "mixed")}
    if seen == {"derived"}:
        return "derived"
    if seen == {"reported"}:
        return "reported"
    if seen:
        return "mixed"
    return ""


def _missing_text(missing: int) -> str:
    return f"; missing {missing}" if missing else ""


def count_cell(
    yes: Sequence[str],
    known: Sequence[str],
    missing: int,
    *,
    what: str,
    sources: Mapping[str, str] | None = None,
    style: str = "x/N",
    ci_method: str | None = None,
    level: float = 0.95,
) -> Cell:
    """``len(yes)`` of ``len(known)`` patients, with ``missing`` patients of unknown value.

    ``style`` "x/N" prints ``"11/12 (91.7%)"``, "n" prints ``"11 (91.7%)"``. With ``ci_method``
    the interval of :func:`bvall.stats.compute_binomial_ci` follows (``"; 95% CI 61.5–99.8"``).
    """
    x, n = len(yes), len(known)
    src = combine_sources((sources or {}).get(p, "") for p in known)
    if n == 0:
        return Cell(
            text=f"0/0 ({NOT_ESTIMABLE}){_missing_text(missing)}",
            value=None,
            provenance=f"{what}: no patient with a known value (N = 0; missing {missing}), "
            "so no proportion is estimable.",
            patients=(),
            source=src,
        )
    head = f"{x}/{n}" if style == "x/N" else f"{x}"
    text = f"{head} ({format_percent(x, n)})"
    provenance = f"{what}: {x}/{n} patients with a known value; missing {missing}"
    if ci_method is not None:
        ci = compute_binomial_ci(x, n, ci_method, level)
        text += f"; {100 * level:g}% CI {100 * ci.lower:.1f}–{100 * ci.upper:.1f}"
        provenance += (
            f"; {100 * level:g}% CI {100 * ci.lower:.2f}–{100 * ci.upper:.2f}% "
            f"by {METHOD_LABELS[ci_method]}"
        )
    return Cell(
        text=text + _missing_text(missing),
        value=x / n,
        provenance=provenance + ".",
        patients=tuple(yes),
        source=src,
    )


def summary_cell(
    values: Mapping[str, float],
    missing: int,
    *,
    what: str,
    unit: str | None = None,
    sources: Mapping[str, str] | None = None,
    decimals: int | None = None,
) -> Cell:
    """Median (range) of ``values`` (patient id -> value); ``missing`` patients have none."""
    src = combine_sources((sources or {}).get(p, "") for p in values)
    unit_text = f" {unit}" if unit else ""
    if not values:
        return Cell(
            text=f"– ({NOT_ESTIMABLE}){_missing_text(missing)}",
            value=None,
            provenance=f"{what}: no known value (missing {missing}).",
            source=src,
        )
    s = compute_summary(list(values.values()), unit=unit)
    text = (
        f"{format_number(s.median, decimals)} "
        f"({format_number(s.minimum, decimals)}–{format_number(s.maximum, decimals)})"
    )
    return Cell(
        text=text + _missing_text(missing),
        value=s.median,
        provenance=f"{what}: median (range) of {s.n} values{unit_text and ' in' + unit_text}; "
        f"missing {missing}.",
        patients=tuple(values),
        source=src,
    )


def text_cell(text: str, provenance: str = "", value: float | int | str | None = None) -> Cell:
    """A cell that is a statement, not a statistic (``"not computable: ..."``)."""
    return Cell(text=text, value=value, provenance=provenance or text)


Columns = Sequence[tuple[str, Sequence[str]]]


def rate_row(
    label: str,
    columns: Columns,
    outcome: Mapping[str, bool | None],
    *,
    what: str | None = None,
    sources: Mapping[str, str] | None = None,
    style: str = "x/N",
    ci_method: str | None = None,
    level: float = 0.95,
    indent: int = 0,
) -> Row:
    """A row of rates, one cell per column: patients with ``outcome`` True among those known."""
    cells = []
    for _header, ids in columns:
        known = [p for p in ids if outcome.get(p) is not None]
        yes = [p for p in known if outcome[p]]
        cells.append(
            count_cell(
                yes,
                known,
                len(ids) - len(known),
                what=what or label,
                sources=sources,
                style=style,
                ci_method=ci_method,
                level=level,
            )
        )
    return Row(label=label, cells=tuple(cells), indent=indent)


def summary_row(
    label: str,
    columns: Columns,
    values: Mapping[str, float | None],
    *,
    what: str | None = None,
    unit: str | None = None,
    sources: Mapping[str, str] | None = None,
    decimals: int | None = None,
    indent: int = 0,
) -> Row:
    """A row of median (range), one cell per column; a patient with ``None`` is missing."""
    cells = []
    for _header, ids in columns:
        known = {p: float(v) for p in ids if (v := values.get(p)) is not None}
        cells.append(
            summary_cell(
                known,
                len(ids) - len(known),
                what=what or label,
                unit=unit,
                sources=sources,
                decimals=decimals,
            )
        )
    return Row(label=label, cells=tuple(cells), indent=indent)


def heading(label: str) -> Row:
    return Row(label=label, heading=True)
