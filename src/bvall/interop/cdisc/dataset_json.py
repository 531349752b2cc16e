"""CDISC Dataset-JSON v1.1: one JSON file per dataset, columns described and rows as arrays.

Per the Dataset-JSON 1.1 specification: top-level creation time, version ``1.1.0``, originator,
source system, study and metadata version OIDs, a reference to define.xml, the item group OID,
name, label and record count; ``columns`` give itemOID, name, label, dataType, length (text),
displayFormat and keySequence; numeric SAS dates are ``dataType: date`` with ``targetDataType:
integer`` and ISO 8601 values. Missing values are ``null``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

import bvall
from bvall.interop.cdisc.spec import DatasetSpec, Variable

DATASET_JSON_VERSION = "1.1.0"
_DATA_TYPES = {"text": "string", "datetime": "string", "integer": "integer", "float": "double"}


def _column(spec: DatasetSpec, var: Variable, frame: pd.DataFrame) -> dict[str, Any]:
    col: dict[str, Any] = {
        "itemOID": f"IT.{spec.name}.{var.name}",
        "name": var.name,
        "label": var.label,
        "dataType": "date" if var.type == "date" else _DATA_TYPES[var.type],
    }
    if var.type == "date":
        col["targetDataType"] = "integer"
        col["displayFormat"] = "DATE9."
    if not var.numeric:
        col["length"] = max([1, *(len(s) for s in frame[var.name])])
    if var.name in spec.keys:
        col["keySequence"] = spec.keys.index(var.name) + 1
    return col


def _cell(var: Variable, v: Any) -> Any:
    if var.numeric:
        if v is None or math.isnan(v):
            return None
        if var.type == "date":
            return (dt.date(1960, 1, 1) + dt.timedelta(days=int(v))).isoformat()
        return int(v) if var.type == "integer" else float(v)
    return None if v == "" else v


def render_dataset_json(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    *,
    study_id: str,
    created: dt.datetime,
    synthetic: bool,
) -> dict[str, Any]:
    """The Dataset-JSON document of a conformed frame (``created``: the export time)."""
    columns = [_column(spec, v, frame) for v in spec.variables]
    rows = [
        [_cell(v, value) for v, value in zip(spec.variables, record, strict=True)]
        for record in frame.itertuples(index=False, name=None)
    ]
    return {
        "datasetJSONCreationDateTime": created.replace(microsecond=0).isoformat(),
        "datasetJSONVersion": DATASET_JSON_VERSION,
        "fileOID": f"bvall.{study_id}.{spec.name}",
        "originator": "bvall",
        "sourceSystem": {"name": "bvall", "version": bvall.__version__},
        "studyOID": study_id,
        "metaDataVersionOID": f"MDV.{study_id}",
        "metaDataRef": "define.xml",
        "itemGroupOID": f"IG.{spec.name}",
        "isReferenceData": False,
        "records": len(rows),
        "name": spec.name,
        "label": spec.label_for(synthetic),
        "columns": columns,
        "rows": rows,
    }


def write_dataset_json(document: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
