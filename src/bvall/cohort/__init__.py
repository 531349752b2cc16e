"""The cohort data model: schema-checked tables, validation, file import/export, datasets."""

from bvall.cohort.datasets import dataset_names, load_cohort, register_dataset
from bvall.cohort.io import FORMATS, read_cohort, write_cohort
from bvall.cohort.model import Cohort, CohortMetadata
from bvall.cohort.problems import PROBLEM_CODES, Problem
from bvall.cohort.schema import TABLES, Column, TableSchema
from bvall.cohort.units import LabTest, lab_test, load_lab_tests, normalize_unit, unit_factor_table
from bvall.cohort.validate import validate_tables
from bvall.cohort.vocab import Vocabulary, load_vocabularies, vocabulary

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
