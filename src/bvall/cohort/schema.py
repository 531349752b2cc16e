"""The cohort's tables: columns, types, units, vocabularies, keys and ordering rules.

Observed or reported facts only: nothing derived (grades, episodes, response, risk group,
endpoints) is stored; the criteria engine derives those on demand. Values a source reports as a
summary instead of raw data live in ``reported_summaries`` (and reported grades in
``adverse_events``), apart from measurements.

Study days count from the first day of the course (day 1 = D1, the first induction dose); the day
before D1 is day 0 and pre-phase days are negative (there is no day zero in some protocols; bvall
keeps day 0 as "the day before D1" so that day arithmetic is plain subtraction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

ColumnType = Literal["string", "integer", "number", "date", "boolean", "time"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
    "time": pa.string(),  # "HH:MM" 24-hour clock, validated by pattern
}

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


@dataclass(frozen=True)
class Column:
    """One column: type, whether required, and what makes a value valid.

    ``unit`` documents a fixed unit (e.g. ``"years"``); ``unit_column`` names the column holding
    this value's unit when the unit varies by row. ``vocabulary`` names a controlled vocabulary;
    with ``list_of=True`` the cell holds several codes separated by ``;``.
    """

    name: str
    type: ColumnType
    description: str
    required: bool = False
    vocabulary: str | None = None
    list_of: bool = False
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    unit: str | None = None
    unit_column: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]


@dataclass(frozen=True)
class TableSchema:
    """A cohort table.

    ``key``: columns that identify a record (duplicates are rejected; missing values count as a
    value). ``order``: pairs (earlier, later) that must not be reversed when both are present.
    ``one_of``: groups of columns of which at least one must be present in each row.
    ``references``: (columns, table, columns) foreign keys.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    order: tuple[tuple[str, str], ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    references: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = field(
        default_factory=tuple
    )

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns]
        )


def _pid() -> Column:
    return Column(
        "patient_id", "string", "Study patient identifier.", required=True, pattern=ID_PATTERN
    )


_PATIENT_REF = ((("patient_id",), "patients", ("patient_id",)),)


def _when(prefix: str = "") -> tuple[Column, ...]:
    """Date, study day and time of an observation."""
    return (
        Column(f"{prefix}date", "date", "Calendar date (ISO YYYY-MM-DD)."),
        Column(
            f"{prefix}study_day",
            "integer",
            "Study day relative to induction D1 (D1 = 1).",
            min=-60,
            max=3650,
        ),
        Column(f"{prefix}time", "time", "Clock time HH:MM (24 h).", pattern=TIME_PATTERN),
    )


PATIENTS = TableSchema(
    name="patients",
    description="One row per patient: demographics and diagnosis as recorded at enrolment.",
    columns=(
        _pid(),
        Column("site_id", "string", "Treating site.", pattern=ID_PATTERN),
        Column("sex", "string", "Administrative sex.", required=True, vocabulary="sex"),
        Column(
            "age_years", "integer", "Age at diagnosis.", required=True, min=0, max=120, unit="years"
        ),
        Column("diagnosis", "string", "Diagnosis.", vocabulary="diagnosis"),
        Column("diagnosis_date", "date", "Date of diagnosis."),
        Column("cd19_positive", "boolean", "CD19 positivity by flow cytometry."),
        Column("arm", "string", "Study arm as assigned.", vocabulary="arm"),
        Column("enrolment_date", "date", "Date of enrolment."),
        Column("weight_kg", "number", "Body weight at baseline.", min=2, max=400, unit="kg"),
        Column("height_cm", "number", "Height at baseline.", min=40, max=250, unit="cm"),
        Column("ecog", "integer", "ECOG performance status at baseline.", min=0, max=4),
        Column("karyotype", "string", "Karyotype category.", vocabulary="karyotype"),
        Column("cns_status", "string", "CNS status at diagnosis.", vocabulary="cns_status"),
        Column("extramedullary_disease", "boolean", "Extramedullary disease at diagnosis."),
        Column(
            "genetic_profiling",
            "string",
            "Whether cytogenetic/molecular profiling was done.",
            vocabulary="genetic_profiling",
        ),
    ),
    key=("patient_id",),
    order=(("diagnosis_date", "enrolment_date"),),
)

GENETIC_FINDINGS = TableSchema(
    name="genetic_findings",
    description="Cytogenetic and molecular lesions found at diagnosis (one row per lesion).",
    columns=(
        _pid(),
        Column("lesion", "string", "Lesion class.", required=True, vocabulary="genetic_lesion"),
        Column("detail", "string", "Details as reported (partner gene, variant, karyotype)."),
        Column("method", "string", "Detection method.", vocabulary="genetic_method"),
        Column("vaf_percent", "number", "Variant allele fraction.", min=0, max=100, unit="%"),
    ),
    key=("patient_id", "lesion", "detail"),
    references=_PATIENT_REF,
)

TREATMENT_COURSES = TableSchema(
    name="treatment_courses",
    description="Treatment courses (pre-phase, induction, consolidation, HSCT, ...).",
    columns=(
        _pid(),
        Column(
            "course_id",
            "string",
            "Course identifier, unique per patient.",
            required=True,
            pattern=ID_PATTERN,
        ),
        Column("course_type", "string", "Phase.", required=True, vocabulary="course_type"),
        Column(
            "regimen",
            "string",
            "Regimen name (a bundled regimen id such as bv-concurrent, "
            "or a free name for other treatment).",
        ),
        Column("course_number", "integer", "Order of the course for the patient.", min=1, max=50),
        Column("start_date", "date", "First day of the course (D1)."),
        Column("end_date", "date", "Last day of the course."),
        Column("notes", "string", "Free text."),
    ),
    key=("patient_id", "course_id"),
    order=(("start_date", "end_date"),),
    references=_PATIENT_REF,
)

DOSE_ADMINISTRATIONS = TableSchema(
    name="dose_administrations",
    description=(
        "Doses given (or held). One row per agent per day, or per run of identical daily doses "
        "(study_day_start..study_day_end) when a source reports a schedule."
    ),
    columns=(
        _pid(),
        Column(
            "course_id", "string", "Course the dose belongs to.", required=True, pattern=ID_PATTERN
        ),
        Column("agent", "string", "Agent.", required=True, vocabulary="agent"),
        Column(
            "dose",
            "number",
            "Dose per day (per administration for bolus drugs).",
            required=True,
            min=0,
            max=100000,
            unit_column="dose_unit",
        ),
        Column(
            "dose_unit",
            "string",
            "Unit of the dose (must be one the agent accepts).",
            required=True,
        ),
        Column("route", "string", "Route.", vocabulary="route"),
        Column(
            "study_day_start",
            "integer",
            "First study day of this dose (D1 = 1).",
            min=-60,
            max=3650,
        ),
        Column("study_day_end", "integer", "Last study day of this dose.", min=-60, max=3650),
        Column("date_start", "date", "First date of this dose."),
        Column("date_end", "date", "Last date of this dose."),
        Column(
            "status",
            "string",
            "Given, held or interrupted.",
            required=True,
            vocabulary="dose_status",
        ),
        Column("reason", "string", "Why a dose was held, reduced or interrupted."),
    ),
    key=("patient_id", "course_id", "agent", "study_day_start", "date_start"),
    order=(("study_day_start", "study_day_end"), ("date_start", "date_end")),
    one_of=(("study_day_start", "date_start"),),
    references=(
        *_PATIENT_REF,
        (("patient_id", "course_id"), "treatment_courses", ("patient_id", "course_id")),
    ),
)

CONCOMITANT_MEDICATIONS = TableSchema(
    name="concomitant_medications",
    description="Other medicines (azoles and other interacting drugs matter for venetoclax).",
    columns=(
        _pid(),
        Column(
            "drug",
            "string",
            "Generic name, lower case (e.g. posaconazole).",
            required=True,
            pattern=r"^[a-z][a-z0-9 ,()/-]{1,80}$",
        ),
        Column("indication", "string", "Why it was given."),
        Column("dose", "number", "Dose.", min=0, max=100000, unit_column="dose_unit"),
        Column("dose_unit", "string", "Unit of the dose."),
        Column("route", "string", "Route.", vocabulary="route"),
        Column("start_date", "date", "Start date."),
        Column("end_date", "date", "Stop date."),
        Column("start_day", "integer", "Start study day.", min=-365, max=3650),
        Column("end_day", "integer", "Stop study day.", min=-365, max=3650),
    ),
    key=("patient_id", "drug", "start_date", "start_day"),
    order=(("start_date", "end_date"), ("start_day", "end_day")),
    references=_PATIENT_REF,
)

LABS = TableSchema(
    name="labs",
    description=(
        "Laboratory measurements, stored exactly as reported (value and unit); the criteria "
        "engine converts to canonical units through the one conversion table."
    ),
    columns=(
        _pid(),
        Column("test", "string", "Lab test code (see `bvall vocab lab_tests`).", required=True),
        Column("value", "number", "Value as reported.", required=True, unit_column="unit"),
        Column("unit", "string", "Unit as reported.", required=True),
        Column(
            "qualifier", "string", "'<' or '>' for a censored value.", vocabulary="lab_qualifier"
        ),
        Column(
            "ref_low", "number", "Lower limit of normal, in the row's unit.", unit_column="unit"
        ),
        Column(
            "ref_high", "number", "Upper limit of normal, in the row's unit.", unit_column="unit"
        ),
        *_when(),
        Column(
            "timepoint",
            "string",
            "Named time point when no date/day is known.",
            vocabulary="lab_timepoint",
        ),
    ),
    key=("patient_id", "test", "date", "study_day", "time", "timepoint"),
    order=(("ref_low", "ref_high"),),
    one_of=(("date", "study_day", "timepoint"),),
    references=_PATIENT_REF,
)

VITALS = TableSchema(
    name="vitals",
    description=(
        "Vital signs with the organ support given at that time (oxygen delivery, vasopressors): "
        "what ASTCT CRS grading reads."
    ),
    columns=(
        _pid(),
        *_when(),
        Column("temperature_c", "number", "Body temperature.", min=30, max=45, unit="°C"),
        Column("sbp_mmhg", "number", "Systolic blood pressure.", min=30, max=300, unit="mmHg"),
        Column("dbp_mmhg", "number", "Diastolic blood pressure.", min=10, max=200, unit="mmHg"),
        Column("heart_rate", "number", "Heart rate.", min=10, max=300, unit="/min"),
        Column("respiratory_rate", "number", "Respiratory rate.", min=2, max=80, unit="/min"),
        Column("spo2_percent", "number", "Oxygen saturation.", min=30, max=100, unit="%"),
        Column("oxygen_device", "string", "Oxygen delivery.", vocabulary="oxygen_device"),
        Column("oxygen_flow_l_min", "number", "Oxygen flow.", min=0, max=80, unit="L/min"),
        Column("fio2_percent", "number", "Inspired oxygen fraction.", min=21, max=100, unit="%"),
        Column(
            "vasopressors",
            "string",
            "Vasopressors running, ';'-separated.",
            vocabulary="vasopressor",
            list_of=True,
        ),
        Column("fluid_bolus", "boolean", "Fluid bolus given for hypotension."),
        Column("antipyretic_given", "boolean", "Antipyretic given in the preceding 24 h."),
    ),
    key=("patient_id", "date", "study_day", "time"),
    one_of=(("date", "study_day"),),
    references=_PATIENT_REF,
)

NEURO_ASSESSMENTS = TableSchema(
    name="neuro_assessments",
    description="Neurological assessments: ICE score and the other ICANS domains.",
    columns=(
        _pid(),
        *_when(),
        Column("ice_score", "integer", "ICE score (10 = no impairment).", min=0, max=10),
        Column("consciousness", "string", "Level of consciousness.", vocabulary="consciousness"),
        Column("seizure", "string", "Seizure.", vocabulary="seizure"),
        Column("motor_findings", "string", "Motor findings.", vocabulary="motor_findings"),
        Column("raised_icp", "string", "Raised ICP / cerebral oedema.", vocabulary="raised_icp"),
        Column("other_cause", "boolean", "Findings attributable to another cause."),
        Column("symptoms", "string", "Symptoms in words (e.g. tremor, disorientation)."),
    ),
    key=("patient_id", "date", "study_day", "time"),
    one_of=(("date", "study_day"),),
    references=_PATIENT_REF,
)

MARROW_ASSESSMENTS = TableSchema(
    name="marrow_assessments",
    description=(
        "Bone-marrow examinations: morphology, flow MRD, and the response the investigator "
        "reported (the derived response is computed, not stored)."
    ),
    columns=(
        _pid(),
        Column(
            "timepoint",
            "string",
            "Why the marrow was done.",
            required=True,
            vocabulary="marrow_timepoint",
        ),
        *_when(),
        Column(
            "blasts_percent", "number", "Marrow blasts by morphology.", min=0, max=100, unit="%"
        ),
        Column(
            "flow_blasts_percent",
            "number",
            "Marrow blasts by flow cytometry.",
            min=0,
            max=100,
            unit="%",
        ),
        Column("cellularity", "string", "Cellularity.", vocabulary="cellularity"),
        Column("trilineage_hematopoiesis", "boolean", "Trilineage haematopoiesis present."),
        Column("mrd_method", "string", "MRD assay.", vocabulary="mrd_method"),
        Column("mrd_status", "string", "MRD result.", vocabulary="mrd_status"),
        Column(
            "mrd_level",
            "number",
            "MRD as a fraction of mononuclear cells (0.0001 = 0.01 %).",
            min=0,
            max=1,
        ),
        Column(
            "mrd_sensitivity", "number", "Assay sensitivity as a fraction (0.0001).", min=0, max=1
        ),
        Column("circulating_blasts", "boolean", "Circulating blasts present."),
        Column("extramedullary_disease", "boolean", "Extramedullary disease present."),
        Column(
            "response_reported",
            "string",
            "Response as reported by the investigator.",
            vocabulary="response",
        ),
    ),
    key=("patient_id", "timepoint", "date", "study_day"),
    references=_PATIENT_REF,
)

ADVERSE_EVENTS = TableSchema(
    name="adverse_events",
    description=(
        "Adverse events as reported by the investigator, with the reported grade and the grading "
        "system. Grades the criteria engine derives from labs and vitals are kept apart."
    ),
    columns=(
        _pid(),
        Column("term", "string", "AE term.", required=True, vocabulary="ae_term"),
        Column("term_verbatim", "string", "Term exactly as written in the source."),
        Column("grade", "integer", "Reported grade.", min=1, max=5),
        Column(
            "grading_system",
            "string",
            "System the grade refers to.",
            vocabulary="ae_grading_system",
        ),
        Column("onset_date", "date", "Onset date."),
        Column("onset_day", "integer", "Onset study day.", min=-60, max=3650),
        Column("resolution_date", "date", "Resolution date."),
        Column("resolution_day", "integer", "Resolution study day.", min=-60, max=3650),
        Column("period", "string", "Study period.", vocabulary="period"),
        Column("serious", "boolean", "Serious adverse event."),
        Column("notes", "string", "Free text."),
    ),
    key=("patient_id", "term", "onset_date", "onset_day"),
    order=(("onset_date", "resolution_date"), ("onset_day", "resolution_day")),
    references=_PATIENT_REF,
)

TRANSFUSIONS = TableSchema(
    name="transfusions",
    description="Blood products given: per transfusion, or a period total when that is what a source reports.",
    columns=(
        _pid(),
        Column(
            "product", "string", "Blood product.", required=True, vocabulary="transfusion_product"
        ),
        Column(
            "amount", "number", "Amount.", required=True, min=0, max=1000, unit_column="amount_unit"
        ),
        Column(
            "amount_unit",
            "string",
            "Unit of the amount.",
            required=True,
            vocabulary="transfusion_unit",
        ),
        *_when(),
        Column(
            "period",
            "string",
            "Period a total covers (when no date is given).",
            vocabulary="period",
        ),
    ),
    key=("patient_id", "product", "date", "study_day", "time", "period"),
    one_of=(("date", "study_day", "period"),),
    references=_PATIENT_REF,
)

FOLLOW_UP_EVENTS = TableSchema(
    name="follow_up_events",
    description="Events after induction: CR, consolidation, HSCT, relapse, death, last contact.",
    columns=(
        _pid(),
        Column("event", "string", "Event.", required=True, vocabulary="follow_up_event"),
        Column("date", "date", "Date of the event."),
        Column("study_day", "integer", "Study day of the event (D1 = 1).", min=-60, max=36500),
        Column(
            "relapse_site", "string", "Site of relapse (relapse only).", vocabulary="relapse_site"
        ),
        Column("cause", "string", "Cause of death (death only)."),
        Column("detail", "string", "Free text (e.g. consolidation regimen)."),
    ),
    key=("patient_id", "event", "date", "study_day"),
    one_of=(("date", "study_day"),),
    references=_PATIENT_REF,
)

REPORTED_SUMMARIES = TableSchema(
    name="reported_summaries",
    description=(
        "Summary values a source reports instead of raw data (e.g. 'days with ANC < 0.5'). They "
        "are kept as reported; the criteria engine derives the same quantity from raw data when "
        "raw data exist and shows any disagreement."
    ),
    columns=(
        _pid(),
        Column(
            "quantity",
            "string",
            "What was reported.",
            required=True,
            vocabulary="reported_quantity",
        ),
        Column("value", "number", "Reported value.", required=True, min=0, max=100000),
        Column("period", "string", "Period the value covers.", vocabulary="period"),
        Column("source", "string", "Where it was reported (document, table)."),
    ),
    key=("patient_id", "quantity", "period"),
    references=_PATIENT_REF,
)

PROVENANCE = TableSchema(
    name="provenance",
    description=(
        "Where each transcribed value came from: document, location, the text as printed, how "
        "certain the reading is and, when ambiguous, the readings it allows."
    ),
    columns=(
        Column("table_name", "string", "Cohort table of the value.", required=True),
        Column(
            "patient_id",
            "string",
            "Patient of the value (empty for a study-level note).",
            pattern=ID_PATTERN,
        ),
        Column(
            "record",
            "string",
            "Which record in that table (e.g. 'timepoint=d14_21').",
            required=True,
        ),
        Column("column_name", "string", "Column of the value.", required=True),
        Column("source", "string", "Document.", required=True),
        Column("location", "string", "Table, row and column, or section.", required=True),
        Column("printed", "string", "The text as printed/extracted."),
        Column("status", "string", "Certainty.", required=True, vocabulary="provenance_status"),
        Column("readings", "string", "Possible readings when ambiguous, ' | '-separated."),
        Column("note", "string", "Reasoning, and the text that settles a value."),
    ),
    key=("table_name", "patient_id", "record", "column_name"),
)

#: Every table of a cohort, in the order they are shown and written.
TABLES: dict[str, TableSchema] = {
    t.name: t
    for t in (
        PATIENTS,
        GENETIC_FINDINGS,
        TREATMENT_COURSES,
        DOSE_ADMINISTRATIONS,
        CONCOMITANT_MEDICATIONS,
        LABS,
        VITALS,
        NEURO_ASSESSMENTS,
        MARROW_ASSESSMENTS,
        ADVERSE_EVENTS,
        TRANSFUSIONS,
        FOLLOW_UP_EVENTS,
        REPORTED_SUMMARIES,
        PROVENANCE,
    )
}


def empty_table(name: str) -> pa.Table:
    """An empty table with the schema of ``name``."""
    return TABLES[name].arrow_schema.empty_table()
