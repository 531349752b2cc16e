"""Descriptive statistics for tables: median (range), IQR, n (%) with denominators and missing.

Quartiles use R's default definition (``quantile(type = 7)``, linear interpolation between order
statistics; numpy's ``"linear"`` method), so an IQR printed by bvall matches R's ``summary()``.
Missing values (``None``, NaN) are never dropped silently: they are counted in ``missing`` and
excluded from the denominator, and both numbers travel with the result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bvall.errors import InputError, UnknownNameError


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(isinstance(v, float | np.floating) and math.isnan(v))
    except TypeError:
        return False


def _fmt(v: float, decimals: int | None) -> str:
    if math.isnan(v):
        return "NA"
    if decimals is None:
        return f"{v:g}"
    return f"{v:.{decimals}f}"


@dataclass(frozen=True)
class NumericSummary:
    """Summary of a numeric variable; every statistic is NaN when ``n`` is 0.

    ``n`` counts non-missing values, ``missing`` the rest; ``unit`` is carried for display.
    """

    n: int
    missing: int
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float
    mean: float
    sd: float
    unit: str | None = None

    def format(self, decimals: int | None = None, spread: str = "range") -> str:
        """``"52 (18–74)"`` (``spread="range"``) or ``"52 (41–67)"`` (``spread="iqr"``)."""
        if spread not in ("range", "iqr"):
            raise InputError(f"spread {spread!r} is not known; expected 'range' or 'iqr'.")
        low, high = (self.minimum, self.maximum) if spread == "range" else (self.q1, self.q3)
        return f"{_fmt(self.median, decimals)} ({_fmt(low, decimals)}–{_fmt(high, decimals)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "missing": self.missing,
            "median": self.median,
            "q1": self.q1,
            "q3": self.q3,
            "min": self.minimum,
            "max": self.maximum,
            "mean": self.mean,
            "sd": self.sd,
            "unit": self.unit,
        }


def compute_summary(values: Iterable[Any], unit: str | None = None) -> NumericSummary:
    """Median, quartiles (R type 7), range, mean and SD of ``values``; missing ones counted."""
    raw = list(values)
    present = []
    for v in raw:
        if _is_missing(v):
            continue
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise InputError(f"Value {v!r} is not a number; expected numbers or missing values.")
        present.append(float(v))
    missing = len(raw) - len(present)
    if not present:
        nan = math.nan
        return NumericSummary(0, missing, nan, nan, nan, nan, nan, nan, nan, unit)
    a = np.asarray(present)
    q1, median, q3 = (float(q) for q in np.quantile(a, [0.25, 0.5, 0.75], method="linear"))
    return NumericSummary(
        n=a.size,
        missing=missing,
        median=median,
        q1=q1,
        q3=q3,
        minimum=float(a.min()),
        maximum=float(a.max()),
        mean=float(a.mean()),
        sd=float(a.std(ddof=1)) if a.size > 1 else math.nan,
        unit=unit,
    )


@dataclass(frozen=True)
class CategoryCount:
    """``n`` of ``denominator`` in one category; the denominator is always stated."""

    category: str
    n: int
    denominator: int

    @property
    def percent(self) -> float:
        """100·n/denominator (NaN when the denominator is 0)."""
        return 100 * self.n / self.denominator if self.denominator else math.nan

    def format(self, decimals: int = 1, style: str = "n (%)") -> str:
        """``"8 (61.5%)"`` (``style="n (%)"``) or ``"61.5% (8/13)"`` (``style="% (n/N)"``)."""
        pct = _fmt(self.percent, decimals)
        if style == "n (%)":
            return f"{self.n} ({pct}%)"
        if style == "% (n/N)":
            return f"{pct}% ({self.n}/{self.denominator})"
        raise InputError(f"style {style!r} is not known; expected 'n (%)' or '% (n/N)'.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "n": self.n,
            "denominator": self.denominator,
            "percent": self.percent,
        }


@dataclass(frozen=True)
class Frequencies:
    """Counts per category over the non-missing values; ``missing`` counted apart."""

    counts: tuple[CategoryCount, ...]
    denominator: int
    missing: int

    def __getitem__(self, category: str) -> CategoryCount:
        for c in self.counts:
            if c.category == category:
                return c
        raise UnknownNameError(
            f"Category {category!r} is not in this table; categories: "
            f"{', '.join(c.category for c in self.counts)}."
        )

    def to_rows(self) -> list[dict[str, Any]]:
        return [c.to_dict() | {"missing": self.missing} for c in self.counts]


def compute_frequencies(
    values: Iterable[Any], categories: Sequence[str] | None = None
) -> Frequencies:
    """n (%) per category; the denominator is the number of non-missing values.

    ``categories`` fixes the order and lists categories with zero count; a value outside it is
    an error (a typo must not vanish into "other"). Without it, categories appear in order of
    first occurrence.
    """
    raw = list(values)
    present = [str(v) for v in raw if not _is_missing(v)]
    order: list[str] = list(categories) if categories is not None else []
    if categories is None:
        for v in present:
            if v not in order:
                order.append(v)
    else:
        unknown = [v for v in present if v not in order]
        if unknown:
            raise InputError(
                f"Value {unknown[0]!r} is not one of the categories {', '.join(order)}."
            )
    denominator = len(present)
    counts = tuple(CategoryCount(c, present.count(c), denominator) for c in order)
    return Frequencies(counts, denominator, len(raw) - denominator)
