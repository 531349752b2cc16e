"""`bvall vocab`: the controlled vocabularies, lab tests and units the cohort accepts."""

from __future__ import annotations

from typing import Annotated

import typer

from bvall.cli._output import OutputFormat, emit_json, print_table
from bvall.cohort import load_lab_tests, load_vocabularies, vocabulary
from bvall.cohort.units import _unit_aliases


def vocab(
    name: Annotated[
        str | None, typer.Argument(help="A vocabulary, 'lab_tests' or 'units'.")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
) -> None:
    """List the controlled vocabularies, or the codes of one (also 'lab_tests', 'units')."""
    if name is None:
        rows = [
            {"name": v.name, "values": len(v.terms), "description": v.description}
            for v in load_vocabularies().values()
        ]
        rows += [
            {
                "name": "lab_tests",
                "values": len(load_lab_tests()),
                "description": "Lab tests with LOINC codes and accepted units.",
            },
            {
                "name": "units",
                "values": len(set(_unit_aliases().values())),
                "description": "Unit spellings and their aliases.",
            },
        ]
        emit_json(rows) if output is OutputFormat.json else print_table(rows, title="Vocabularies")
        return
    if name == "lab_tests":
        rows = [
            {
                "code": t.code,
                "name": t.name,
                "loinc": t.loinc,
                "canonical unit": t.canonical_unit,
                "accepted units": list(t.accepted_units),
                "plausible": f"{t.plausible[0]:g}-{t.plausible[1]:g}",
            }
            for t in load_lab_tests().values()
        ]
    elif name == "units":
        grouped: dict[str, list[str]] = {}
        for spelling, canonical in _unit_aliases().items():
            grouped.setdefault(canonical, []).append(spelling)
        rows = [{"unit": k, "also written": [s for s in v if s != k]} for k, v in grouped.items()]
    else:
        v = vocabulary(name)
        rows = [
            {"code": t.code, "label": t.label, **{k: str(x) for k, x in t.attributes.items()}}
            for t in v.terms
        ]
    emit_json(rows) if output is OutputFormat.json else print_table(rows, title=name)
