"""The cohort data model: schema-checked tables, validation, file import/export, datasets."""

from typing import TYPE_CHECKING

from bvall._exports import export_lazily

if TYPE_CHECKING:
    from bvall.cohort.datasets import dataset_names, load_cohort, register_dataset
    from bvall.cohort.io import FORMATS, read_cohort, write_cohort
    from bvall.cohort.model import Cohort, CohortMetadata
    from bvall.cohort.problems import PROBLEM_CODES, Problem
    from bvall.cohort.schema import TABLES, Column, TableSchema
    from bvall.cohort.units import (
        LabTest,
        lab_test,
        load_lab_tests,
        normalize_unit,
        unit_factor_table,
    )
    from bvall.cohort.validate import validate_tables
    from bvall.cohort.vocab import Vocabulary, load_vocabularies, vocabulary

# Each submodule is imported when one of its names is first used (bvall._exports).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "bvall.cohort.datasets": (
        "dataset_names",
        "load_cohort",
        "register_dataset",
    ),
    "bvall.cohort.io": (
        "FORMATS",
        "read_cohort",
        "write_cohort",
    ),
    "bvall.cohort.model": (
        "Cohort",
        "CohortMetadata",
    ),
    "bvall.cohort.problems": (
        "PROBLEM_CODES",
        "Problem",
    ),
    "bvall.cohort.schema": (
        "TABLES",
        "Column",
        "TableSchema",
    ),
    "bvall.cohort.units": (
        "LabTest",
        "lab_test",
        "load_lab_tests",
        "normalize_unit",
        "unit_factor_table",
    ),
    "bvall.cohort.validate": ("validate_tables",),
    "bvall.cohort.vocab": (
        "Vocabulary",
        "load_vocabularies",
        "vocabulary",
    ),
}
__getattr__, __dir__ = export_lazily(__name__, _EXPORTS)

__all__ = [
    "FORMATS",
    "PROBLEM_CODES",
    "TABLES",
    "Cohort",
    "CohortMetadata",
    "Column",
    "LabTest",
    "Problem",
    "TableSchema",
    "Vocabulary",
    "dataset_names",
    "lab_test",
    "load_cohort",
    "load_lab_tests",
    "load_vocabularies",
    "normalize_unit",
    "read_cohort",
    "register_dataset",
    "unit_factor_table",
    "validate_tables",
    "vocabulary",
    "write_cohort",
]
