"""Readers for the R reference tables in ``tests/reference/stats/`` (see its README)."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

REFERENCE = Path(__file__).parent.parent / "reference" / "stats"


def rows(name: str) -> list[dict[str, str]]:
    """The rows of ``tests/reference/stats/<name>``."""
    with (REFERENCE / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def num(text: str) -> float:
    """An R number as written by the scripts (``NA`` -> NaN, ``Inf`` -> inf)."""
    return math.nan if text == "NA" else float(text)


def datasets(name: str, value_column: str) -> dict[str, tuple[list[float], list[int]]]:
    """Input data sets (time, indicator) by name, from ``km_data.csv`` or ``cif_data.csv``."""
    out: dict[str, tuple[list[float], list[int]]] = defaultdict(lambda: ([], []))
    for r in rows(name):
        out[r["dataset"]][0].append(float(r["time"]))
        out[r["dataset"]][1].append(int(float(r[value_column])))
    return dict(out)


def close(got: float, want: float, rel: float) -> bool:
    """Equal within ``rel`` relative tolerance (absolute near 0); NaN and inf must match exactly."""
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= rel * max(1.0, abs(want))
