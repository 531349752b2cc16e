"""`bvall redcap ...`: the study's REDCap data dictionary, records out, records in."""

from __future__ import annotations

import typer

app = typer.Typer(help="REDCap: data dictionary, export, import, mapping.", no_args_is_help=True)
