"""The study tables: the seed paper's tables regenerated from any cohort.

:func:`build_analysis` derives what it needs once (:func:`collect_study_data`) and builds every
table of :data:`TABLE_IDS` as :class:`~bvall.analysis.model.StudyTable` objects whose cells carry
their provenance (n/N, method, missing count, patients, derived vs reported).

>>> from bvall.cohort import load_cohort
>>> analysis = build_analysis(load_cohort("published"))            # doctest: +SKIP
>>> analysis.table("table-response").rows[0].cells[0].text          # doctest: +SKIP
'10/10 (100.0%); 95% CI 69.2–100.0; missing 3'
"""

from __future__ import annotations

import bvall
from bvall.analysis.model import Analysis, StudyTable
from bvall.analysis.tables.baseline import build_baseline_table
from bvall.analysis.tables.data import (
    CRITERIA_FILES,
    StudyData,
    collect_study_data,
    derive_survival_data,
)
from bvall.analysis.tables.efficacy import build_comparison_table, build_response_table
from bvall.analysis.tables.safety import (
    build_adverse_event_table,
    build_crs_icans_table,
    build_transfusion_table,
)
from bvall.analysis.tables.survival import build_survival_table
from bvall.cohort.model import Cohort
from bvall.criteria import CriteriaSettings
from bvall.criteria.rules import load_rule_file
from bvall.errors import InputError, UnknownNameError, suggest
from bvall.stats import CONF_TYPES, check_binomial_method

#: Every table id, in the order of the analysis.
TABLE_IDS: tuple[str, ...] = (
    "table1-baseline",
    "table-response",
    "table-adverse-events",
    "table-crs-icans",
    "table-transfusion",
    "table-arm-comparison",
    "table-survival",
)


def check_table_id(table_id: str) -> str:
    """``table_id`` if it is a table of the analysis; :class:`UnknownNameError` otherwise."""
    if table_id not in TABLE_IDS:
        raise UnknownNameError(
            f"Table {table_id!r} is not known{suggest(table_id, TABLE_IDS)} "
            f"Tables: {', '.join(TABLE_IDS)}."
        )
    return table_id


def build_tables(
    data: StudyData,
    *,
    ci_method: str = "clopper-pearson",
    level: float = 0.95,
    km_conf_type: str = "log-log",
    warnings: list[str] | None = None,
) -> tuple[StudyTable, ...]:
    """Every table of :data:`TABLE_IDS` from collected study data."""
    warnings = warnings if warnings is not None else []
    return (
        build_baseline_table(data, warnings),
        build_response_table(data, ci_method, level),
        build_adverse_event_table(data),
        build_crs_icans_table(data),
        build_transfusion_table(data),
        build_comparison_table(data, level),
        build_survival_table(data, level, km_conf_type),
    )


def build_analysis(
    cohort: Cohort,
    *,
    ci_method: str = "clopper-pearson",
    level: float = 0.95,
    settings: CriteriaSettings | None = None,
    km_conf_type: str = "log-log",
) -> Analysis:
    """All study tables of ``cohort``, stamped with the cohort, its fingerprint, the bvall
    version, the criteria file versions and the settings.

    ``ci_method``: binomial interval of the response table (:data:`bvall.stats.BINOMIAL_METHODS`);
    ``level``: confidence level of every interval; ``settings``: criteria engine settings;
    ``km_conf_type``: Kaplan–Meier interval transform (log-log, log or plain).
    """
    check_binomial_method(ci_method)
    if not (isinstance(level, int | float) and 0 < level < 1):
        raise InputError(f"level = {level!r} must be between 0 and 1 (e.g. 0.95).")
    if km_conf_type not in CONF_TYPES:
        raise UnknownNameError(
            f"Kaplan–Meier interval type {km_conf_type!r} is not known"
            f"{suggest(km_conf_type, CONF_TYPES)} Types: {', '.join(CONF_TYPES)}."
        )
    settings = settings or CriteriaSettings()
    data = collect_study_data(cohort, settings)
    return build_analysis_from(
        data, ci_method=ci_method, level=float(level), km_conf_type=km_conf_type
    )


def build_analysis_from(
    data: StudyData,
    *,
    ci_method: str = "clopper-pearson",
    level: float = 0.95,
    km_conf_type: str = "log-log",
) -> Analysis:
    """:func:`build_analysis` on data already collected (or restricted to some patients)."""
    warnings: list[str] = []
    tables = build_tables(
        data, ci_method=ci_method, level=level, km_conf_type=km_conf_type, warnings=warnings
    )
    return Analysis(
        cohort_name=data.cohort.metadata.name,
        data_hash=data.cohort.fingerprint(),
        bvall_version=bvall.__version__,
        criteria_versions={name: load_rule_file(name).version for name in CRITERIA_FILES},
        settings={
            "ci_method": ci_method,
            "level": level,
            "km_conf_type": km_conf_type,
            "criteria": data.settings.to_dict(),
        },
        tables=tables,
        warnings=tuple(warnings),
    )


__all__ = [
    "TABLE_IDS",
    "StudyData",
    "build_analysis",
    "build_analysis_from",
    "build_tables",
    "check_table_id",
    "collect_study_data",
    "derive_survival_data",
]
