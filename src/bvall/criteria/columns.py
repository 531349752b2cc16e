"""Names of derived columns that the analysis reads as well as the engine (no Ibis here, so a
process deriving through plans already built never imports it)."""

from __future__ import annotations

#: Worst-grade columns: column prefix -> term id.
AE_COLUMNS = {
    "neutropenia": "neutrophil_count_decreased",
    "anemia": "anemia",
    "thrombocytopenia": "platelet_count_decreased",
    "transaminases": "transaminases_increased",
    "fibrinogen_decreased": "fibrinogen_decreased",
    "febrile_neutropenia": "febrile_neutropenia",
    "lung_infection": "lung_infection",
}


#: The columns of ``derive(cohort, "endpoints")``, in order.
ENDPOINT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "arm",
    "days_anc_below_0_5",
    "days_anc_below_0_5_source",
    "days_anc_below_0_5_reported",
    "days_anc_below_0_5_measured",
    "days_plt_below_20",
    "days_plt_below_20_source",
    "days_plt_below_20_reported",
    "days_plt_below_20_measured",
    "crs_max_grade",
    "crs_max_grade_source",
    "crs_max_grade_reported",
    "icans_max_grade",
    "icans_max_grade_source",
    "icans_max_grade_reported",
    "best_response",
    "best_response_source",
    "best_response_reported",
    "best_response_day",
    "mrd_negative",
    "mrd_negative_source",
    "mrd_negative_d14_21",
    "mrd_negative_d14_21_source",
    "cr_day",
    "relapse",
    "relapse_day",
    "relapse_days_after_cr",
    "death",
    "death_day",
    "last_contact_day",
    "os_days",
    "os_event",
    "rfs_days",
    "rfs_event",
    "platelet_units",
    "platelet_units_source",
    "platelet_units_reported",
    "rbc_units",
    "rbc_units_source",
    "rbc_units_reported",
    *(
        f"{prefix}_max_grade{suffix}"
        for prefix in AE_COLUMNS
        for suffix in ("", "_source", "_reported")
    ),
    "disagreements",
    "rule_id",
    "rule_version",
    "inputs",
    "explanation",
)
