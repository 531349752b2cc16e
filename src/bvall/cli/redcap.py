"""`bvall redcap ...`: the study's REDCap data dictionary, records out, records in, mappings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bvall.cli._output import console

app = typer.Typer(help="REDCap: data dictionary, export, import, mapping.", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("--out", help="File to write.")]
DictOpt = Annotated[Path, typer.Option("--dictionary", help="A REDCap data dictionary (CSV).")]
OverwriteOpt = Annotated[bool, typer.Option(help="Replace a file that already exists.")]


def _write(path: Path, text: str, overwrite: bool) -> None:
    from bvall.errors import InputError

    if path.exists() and not overwrite:
        raise InputError(f"{str(path)!r} exists; pass --overwrite to replace it.")
    path.write_text(text, encoding="utf-8")


@app.command("dictionary")
def dictionary(out: OutOpt, overwrite: OverwriteOpt = False) -> None:
    """Write bvall's REDCap data dictionary (and FILE.repeating.csv: the repeating instruments)."""
    from bvall.interop.redcap import derive_dictionary, render_dictionary, repeating_instruments

    fields = derive_dictionary()
    _write(out, render_dictionary(fields), overwrite)
    repeating = out.with_suffix(".repeating.csv")
    _write(repeating, repeating_instruments(fields), overwrite)
    forms = len({f.form for f in fields})
    console.print(f"wrote {out} ({len(fields)} fields, {forms} instruments) and {repeating}")


@app.command("export")
def export(
    cohort: Annotated[str, typer.Argument(help="A bundled dataset name or a cohort path.")],
    out: OutOpt,
    overwrite: OverwriteOpt = False,
) -> None:
    """Write a cohort as REDCap's flat record import file for bvall's dictionary."""
    from bvall.cohort import load_cohort
    from bvall.interop.redcap import derive_dictionary, render_records

    c = load_cohort(cohort)
    text = render_records(c, derive_dictionary())
    _write(out, text, overwrite)
    console.print(f"wrote {out}: {len(c)} record(s), {text.count(chr(10)) - 1} row(s)")


@app.command("import")
def import_(
    dictionary: DictOpt,
    to: Annotated[Path, typer.Option("--to", help="Folder to write the cohort into (CSV).")],
    records: Annotated[
        Path | None, typer.Option("--records", help="REDCap's flat export (CSV, raw codes).")
    ] = None,
    odm: Annotated[
        Path | None, typer.Option("--odm", help="REDCap's CDISC ODM XML export instead.")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="Mapping file (bvall redcap mapping writes one)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Cohort name (default: dictionary name).")
    ] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Read REDCap records into a cohort folder: all or nothing, every problem listed."""
    from bvall.cohort import CohortMetadata, write_cohort
    from bvall.errors import InputError
    from bvall.interop.redcap import load_redcap

    if (records is None) == (odm is None):
        raise InputError("Give the records as --records FILE.csv or --odm FILE.xml (one of them).")
    source = records or odm
    assert source is not None
    meta = CohortMetadata(
        name=name or dictionary.stem,
        title=f"REDCap import of {source.name}",
        source=f"REDCap: dictionary {dictionary.name}, records {source.name}",
    )
    c = load_redcap(dictionary, records=records, odm=odm, mapping=mapping, metadata=meta)
    written = write_cohort(c, to, "csv", overwrite=overwrite)
    counts = ", ".join(f"{t} {n}" for t, n in c.counts().items() if n)
    console.print(f"wrote {len(written)} file(s) to {to}: {counts}")


@app.command("mapping")
def mapping(dictionary: DictOpt, out: OutOpt, overwrite: OverwriteOpt = False) -> None:
    """Write a mapping file for a project's dictionary: fields placed, and fields left for a person."""
    from bvall.interop.redcap import derive_mapping, load_dictionary, render_mapping

    m = derive_mapping(load_dictionary(dictionary))
    _write(out, render_mapping(m, dictionary.name), overwrite)
    console.print(
        f"wrote {out}: {len(m.placed)} field(s) placed, {len(m.ignored)} ignored, "
        f"{len(m.unplaced)} left for a person (section unplaced)"
    )
