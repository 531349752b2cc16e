"""FHIR R4 lab feeds in: a Bundle of laboratory Observations becomes bvall lab rows.

:mod:`~bvall.interop.fhir.bundle` reads a bundle (nothing written; no database needed);
:mod:`~bvall.interop.fhir.feed` matches it against the study database and writes it through the
store. The LOINC and UCUM maps are data: ``cohort/data/loinc_map.toml``.
"""

from __future__ import annotations

from bvall.interop.fhir.bundle import FeedResult, LabRow, Skipped, derive_lab_rows, parse_bundle
from bvall.interop.fhir.codes import CodeMap, LoincCode, load_code_map
from bvall.interop.fhir.patients import PatientMatching, load_patient_matching

__all__ = [
    "CodeMap",
    "FeedResult",
    "LabRow",
    "LoincCode",
    "PatientMatching",
    "Skipped",
    "derive_lab_rows",
    "load_code_map",
    "load_patient_matching",
    "parse_bundle",
]
