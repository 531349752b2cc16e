"""`bvall tables`: the study tables of a cohort (Table 1, response, safety, survival)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from bvall.analysis.tables import TABLE_IDS, build_analysis, check_table_id
from bvall.analysis.tables.render import render_analysis_dict, render_table_csv
from bvall.cli._output import console, emit_json
from bvall.cohort import load_cohort
from bvall.errors import InputError
from bvall.stats import BINOMIAL_METHODS, check_binomial_method

_SOURCE_MARK = {"derived": "", "reported": " ᴿ", "mixed": " ᴹ", "": ""}


class TablesFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def tables(
    cohort: Annotated[
        str, typer.Argument(help="A bundled dataset name (`bvall cohort list`) or a path.")
    ],
    table_id: Annotated[
        str | None, typer.Option("--table", help=f"Only this table: {', '.join(TABLE_IDS)}.")
    ] = None,
    ci_method: Annotated[
        str,
        typer.Option("--ci-method", help=f"Binomial interval: {', '.join(BINOMIAL_METHODS)}."),
    ] = "clopper-pearson",
    level: Annotated[float, typer.Option("--level", help="Confidence level.")] = 0.95,
    output: Annotated[
        TablesFormat,
        typer.Option("--format", help="table, json (the analysis) or csv (one table)."),
    ] = TablesFormat.table,
) -> None:
    """Build the study tables of a cohort, every cell with its provenance."""
    if table_id is not None:
        check_table_id(table_id)
    check_binomial_method(ci_method)
    if output is TablesFormat.csv and table_id is None:
        raise InputError(
            f"--format csv writes one table; choose it with --table ({', '.join(TABLE_IDS)})."
        )
    data = load_cohort(cohort)
    analysis = build_analysis(data, ci_method=ci_method, level=level)
    if output is TablesFormat.json:
        emit_json(render_analysis_dict(analysis, table_id))
        return
    if output is TablesFormat.csv:
        assert table_id is not None
        sys.stdout.write(render_table_csv(analysis.table(table_id)))
        return
    if data.metadata.synthetic:
        console.print("[bold black on yellow] SYNTHETIC DEMO DATA [/] not real patients")
    console.print(
        f"[bold]{analysis.cohort_name}[/] ({len(data)} patients)  data {analysis.data_hash[:12]}"
        f"  bvall {analysis.bvall_version}",
        highlight=False,
    )
    for t in analysis.tables:
        if table_id is not None and t.id != table_id:
            continue
        rich = Table(
            title=f"{t.title}  [dim]({t.id})[/]",
            title_justify="left",
            header_style="bold",
            caption="\n".join(
                [*t.notes, "ᴿ reported by the source; ᴹ partly reported; unmarked: derived."]
            ),
            caption_justify="left",
        )
        for c in t.columns:
            rich.add_column(c, overflow="fold")
        for row in t.rows:
            label = "  " * row.indent + row.label
            if row.heading:
                rich.add_row(f"[bold]{label}[/]", *([""] * (len(t.columns) - 1)))
            else:
                rich.add_row(label, *(c.text + _SOURCE_MARK[c.source] for c in row.cells))
        console.print(rich)
    for w in analysis.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
