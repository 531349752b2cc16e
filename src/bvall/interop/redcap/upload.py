"""A REDCap pair of files among uploaded files: the dictionary, the records (flat CSV or ODM
XML) and, optionally, a mapping (``.toml``), recognised by content rather than by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bvall.cohort import TABLES, CohortMetadata, Problem
from bvall.errors import ValidationFailed
from bvall.interop.redcap import load_redcap
from bvall.interop.redcap.dictionary import HEADERS


def _is_dictionary(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with path.open(encoding="utf-8-sig", errors="replace") as f:
        return f.readline().startswith(HEADERS[0])


def is_redcap_upload(paths: list[Path]) -> bool:
    """Whether the files are a REDCap dictionary with its records (and perhaps a mapping)."""
    return any(_is_dictionary(p) for p in paths)


def read_redcap_upload(
    paths: list[Path],
) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[Problem]]:
    """The cohort tables of a REDCap upload, shaped as :func:`bvall.cohort.io.read_tables`
    returns them (rows, the file each table came from, problems)."""
    dictionaries = [p for p in paths if _is_dictionary(p)]
    mappings = [p for p in paths if p.suffix.lower() == ".toml"]
    records = [p for p in paths if p not in dictionaries and p not in mappings]
    if len(dictionaries) != 1 or len(records) != 1 or len(mappings) > 1:
        names = ", ".join(p.name for p in paths)
        bad = Problem(
            "file",
            None,
            None,
            names,
            "one REDCap data dictionary (CSV), one records file (flat CSV export or ODM XML) "
            "and at most one mapping (.toml)",
            "file",
            names,
        )
        return {}, {}, [bad]
    rec = records[0]
    is_odm = rec.suffix.lower() == ".xml"
    try:
        cohort = load_redcap(
            dictionaries[0],
            records=None if is_odm else rec,
            odm=rec if is_odm else None,
            mapping=mappings[0] if mappings else None,
            metadata=CohortMetadata(name=dictionaries[0].stem),
        )
    except ValidationFailed as exc:
        return {}, {}, list(exc.problems)
    raw: dict[str, Any] = {
        t: pd.DataFrame(cohort[t].to_pylist(), columns=list(TABLES[t].column_names), dtype=object)
        for t in TABLES
        if cohort[t].num_rows
    }
    return raw, {t: f"{rec.name} ({t})" for t in raw}, []
