"""REDCap in and out: the study's data dictionary, a cohort as REDCap records, and REDCap's flat
export (or its CDISC ODM export) back into a cohort, all or nothing.

* :mod:`~bvall.interop.redcap.dictionary` – the dictionary bvall writes and any dictionary read;
* :mod:`~bvall.interop.redcap.mapping` – where each REDCap field goes (derived, or a person's file);
* :mod:`~bvall.interop.redcap.records` – records out and in;
* :mod:`~bvall.interop.redcap.odm` – REDCap's ODM XML read with ``odmlib``.
"""

from __future__ import annotations

from pathlib import Path

from bvall.cohort import Cohort, CohortMetadata, Problem
from bvall.errors import ValidationFailed
from bvall.interop.redcap.dictionary import (
    HEADERS,
    Field,
    derive_dictionary,
    load_dictionary,
    render_dictionary,
    repeating_instruments,
)
from bvall.interop.redcap.mapping import (
    FieldMapping,
    Placement,
    derive_mapping,
    load_mapping,
    render_mapping,
)
from bvall.interop.redcap.records import FlatRow, derive_cohort, read_records_csv, render_records

__all__ = [
    "HEADERS",
    "Field",
    "FieldMapping",
    "FlatRow",
    "Placement",
    "derive_cohort",
    "derive_dictionary",
    "derive_mapping",
    "load_dictionary",
    "load_mapping",
    "load_redcap",
    "read_records_csv",
    "render_dictionary",
    "render_mapping",
    "render_records",
    "repeating_instruments",
]


def load_redcap(
    dictionary: Path,
    *,
    records: Path | None = None,
    odm: Path | None = None,
    mapping: Path | None = None,
    metadata: CohortMetadata | None = None,
) -> Cohort:
    """A cohort from a REDCap dictionary and its records (flat CSV or ODM XML).

    Without ``mapping`` every field must be placed by name (bvall's own dictionary); otherwise
    :class:`ValidationFailed` lists the fields to place (``bvall redcap mapping`` writes a file).
    """
    fields = load_dictionary(dictionary)
    if mapping is not None:
        field_map = load_mapping(mapping, fields)
    else:
        field_map = derive_mapping(fields)
        if field_map.unplaced:
            problems = [
                Problem(
                    "dictionary",
                    None,
                    name,
                    why,
                    "a field of bvall's dictionary; for another project's dictionary give "
                    "--mapping (bvall redcap mapping --dictionary FILE writes one to complete)",
                    "column",
                    dictionary.name,
                )
                for name, why in field_map.unplaced.items()
            ]
            raise ValidationFailed(problems, dictionary.name)
    if (records is None) == (odm is None):
        raise ValueError("internal: give exactly one of records and odm")
    if records is not None:
        rows = read_records_csv(records, field_map.record_id)
        label = records.name
    else:
        from bvall.interop.redcap.odm import read_odm

        assert odm is not None
        rows = read_odm(odm)
        label = odm.name
    meta = metadata or CohortMetadata(name=dictionary.stem, title=f"REDCap import ({label})")
    return derive_cohort(rows, fields, field_map, label=label, metadata=meta)
