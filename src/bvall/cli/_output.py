"""Shared output helpers for the CLI: JSON, Rich tables, problem reports."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped output (files, CI logs) gets a wide page instead of Rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def _default(o: Any) -> Any:
    if isinstance(o, dt.date | dt.datetime):
        return o.isoformat()
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    return str(o)


def _clean(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None if math.isnan(o) else ("Infinity" if o > 0 else "-Infinity")
    if isinstance(o, Mapping):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (no Rich markup, no wrapping)."""
    sys.stdout.write(json.dumps(_clean(data), indent=2, ensure_ascii=False, default=_default))
    sys.stdout.write("\n")


def fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return ", ".join(fmt(x) for x in v) if v else "–"
    if isinstance(v, dict):
        return "; ".join(f"{k} {fmt(x)}" for k, x in v.items()) if v else "–"
    return str(v)


def print_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    caption: str | None = None,
) -> None:
    rows = list(rows)
    if columns is None:
        columns = list(rows[0]) if rows else []
    table = Table(
        title=title,
        caption=caption,
        header_style="bold",
        show_lines=False,
        title_justify="left",
        caption_justify="left",
    )
    for c in columns:
        table.add_column((headers or {}).get(c, c), overflow="fold")
    for r in rows:
        table.add_row(*(fmt(r.get(c)) for c in columns))
    console.print(table)


def print_problems(problems: Sequence[Any], limit: int = 500) -> None:
    table = Table(
        title=f"{len(problems)} problem(s); nothing was written",
        header_style="bold red",
        title_justify="left",
    )
    for c in ("file / table", "row", "column", "value", "expected", "class"):
        table.add_column(c, overflow="fold")
    for p in problems[:limit]:
        table.add_row(
            p.file or p.table,
            fmt(p.row),
            fmt(p.column),
            "(missing)" if p.value is None else repr(p.value),
            p.expected,
            p.code,
        )
    err_console.print(table)
    if len(problems) > limit:
        err_console.print(f"... and {len(problems) - limit} more (use --format json for all)")
