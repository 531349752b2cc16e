"""SAS XPORT version 5 files, written by pyreadstat (ReadStat), a well-kept writer: the
transport format FDA accepts for SDTM and ADaM. Frames must be conformed first
(:func:`bvall.interop.cdisc.spec.conform_dataset`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat

from bvall.interop.cdisc.spec import DatasetSpec


def write_xpt(spec: DatasetSpec, frame: pd.DataFrame, path: Path, *, synthetic: bool) -> Path:
    """Write ``frame`` (conformed to ``spec``) as ``path``: member name = dataset name, dataset
    label marked when synthetic, variable labels from the specification, DATE9. on dates."""
    pyreadstat.write_xport(
        frame,
        str(path),
        file_label=spec.label_for(synthetic),
        column_labels={v.name: v.label for v in spec.variables},
        table_name=spec.name,
        file_format_version=5,
        variable_format={v.name: "DATE9." for v in spec.variables if v.type == "date"},
    )
    return path
