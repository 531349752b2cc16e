"""The design of the synthetic ``example`` cohort: what each of the 13 patients must show.

Sex, age, arm, lesions, diagnostic marrow blasts, WBC at diagnosis and pretreatment platelets and
haemoglobin are copied from the ``published`` cohort at generation time. Everything else is a
synthetic choice made so that the criteria engine, run on the generated raw data, reproduces the
seed paper's patient-level values (Table 2 day counts, CRS/ICANS grades, non-haematological AE
grades, MRD and response; Table 3 transfusion units) and the cohort figures it can (Table 4
grade 3-4 counts, follow-up, relapses, 1-year RFS and OS). Day numbers are study days (D1 = 1).

Follow-up was chosen so that Kaplan-Meier reaches the published rates exactly:
* OS: one death (P01, day 297 = 296 days after D1) while 6 patients are at risk -> S = 5/6 = 83.3 %.
* RFS (from the first CR): relapses at 95 days after CR (P01; 11 at risk) and 282 days after CR
  (P11; 3 at risk) -> S = 10/11 x 2/3 = 60.6 % at one year.
* os_days: 87, 115, 160, 200, 232, 255, 283, 296, 300, 305, 360, 395, 437 -> median 283,
  range 87-437.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

SEED = 20240301
#: Data cut-off ("As of May 2025").
CUTOFF = dt.date(2025, 5, 20)

Knots = tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class Fever:
    """One recorded vital-signs reading that differs from normal."""

    day: int
    time: str
    temperature_c: float
    sbp_mmhg: float | None = None
    oxygen_device: str | None = None
    oxygen_flow_l_min: float | None = None
    vasopressors: str | None = None
    fluid_bolus: bool | None = None


@dataclass(frozen=True)
class Design:
    pid: str
    d1: dt.date
    dex_days: int
    weight_kg: float
    height_cm: float
    ecog: int
    karyotype: str
    # counts: log-linear knots, the exact run of days below the Table 2 threshold, and the
    # lowest value allowed on the other induction days
    anc: Knots
    anc_below: tuple[int, int] | None
    anc_floor: float
    plt: Knots
    plt_below: tuple[int, int] | None
    plt_floor: float
    hb: Knots
    hb_floor: float
    transfusions: tuple[tuple[int, str, float], ...]
    # chemistry: (day, peak value) bumps over a stable baseline
    alt: tuple[float, int, float]  # baseline, peak day, peak
    ast: tuple[float, int, float]
    fibrinogen: tuple[float, int, float]  # day-0 baseline, nadir day, nadir
    uric_acid: tuple[float, int, float]  # baseline (day -3), day of the highest value, value
    # marrow and course timing
    d14_marrow: int | None
    precons_marrow: int | None
    consolidation_start: int
    consolidation: str
    cr_day: int
    # events: fevers, CRS management, neurological findings
    fevers: tuple[Fever, ...] = ()
    crs_dexamethasone: tuple[tuple[int, int, float], ...] = ()  # first day, last day, mg/day
    neuro: tuple[tuple[int, str, int, str], ...] = ()  # day, time, ICE, symptoms
    anti_infectives: tuple[tuple[str, str, float, str, int, int], ...] = ()
    # exact values on chosen days (test, day) -> value, free of noise
    pins: tuple[tuple[str, int, float], ...] = ()
    # follow-up (study days)
    last_day: int = 0
    death_day: int | None = None
    relapse_day: int | None = None
    hsct_day: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


#: Adverse events the example adds to the published ones, as read in READINGS: the third
#: febrile neutropenia of the paper's 3/13 (the published dataset records only what Table 2 shows).
READ_ADVERSE_EVENTS: tuple[dict[str, object], ...] = (
    {
        "patient_id": "P08",
        "term": "Febrile neutropenia",
        "term_verbatim": "febrile neutropenia (text: with pulmonary fungal infection)",
        "grade": None,
        "grading_system": "CTCAE v5.0",
        "period": "induction",
        "notes": None,
    },
)

# Readings chosen where the published data leave a cell ambiguous (recorded in the metadata).
READINGS = (
    {
        "table": "marrow_assessments",
        "patients": ["P01", "P03"],
        "published": "Day 14-21 cell garbled ('MRD-NR' on row 1, 'MRD-MRD-' on row 3): one of "
        "P01/P03 was MRD-negative at day 14-21, the other was not assessed.",
        "chosen": "P01 MRD-negative at D14; P03 not assessed at day 14-21.",
    },
    {
        "table": "adverse_events",
        "patients": ["P08"],
        "published": "Results and Table 4 count febrile neutropenia in 3 cases, all grade 3-4, "
        "'including one pulmonary fungal infection'; Table 2 shows it for P10 and P11 only and a "
        "grade 3 pneumonia for P08.",
        "chosen": "P08's pneumonia counted as the third febrile neutropenia, grade 3",
    },
    {
        "table": "adverse_events",
        "patients": [],
        "published": "Abstract: grade 3-4 neutropenia 92.3 %, thrombocytopenia 46.2 %, febrile "
        "neutropenia 30.8 %; Table 4 and Results: 84.6 %, 53.8 %, 23.1 %.",
        "chosen": "Table 4 and Results: neutropenia grade 3-4 in 11/13 (not P03, P07), "
        "thrombocytopenia any grade 9/13 and grade 3-4 7/13, anaemia grade 3-4 11/13 (not P01, "
        "P07), febrile neutropenia 3/13 (P08, P10, P11).",
    },
    {
        "table": "follow_up_events",
        "patients": ["P01", "P11"],
        "published": "Two marrow relapses at 95 and 282 days after CR (which patients is not "
        "reported); one without regular consolidation, one 86 days after allo-HSCT.",
        "chosen": "P01 (blinatumomab consolidation stopped for poor adherence) relapsed 95 days "
        "after CR and died of leukaemia on D297; P11 relapsed 282 days after CR, 86 days after "
        "allo-HSCT.",
    },
    {
        "table": "follow_up_events",
        "patients": [],
        "published": "Median follow-up 283 days (range 87-437); 1-year RFS 60.6 %, OS 83.3 %.",
        "chosen": "Follow-up measured from D1 (os_days); RFS from the first CR, P02's CR after "
        "two cycles of dose-modified Hyper-CVAD included; per-patient times chosen so that the "
        "Kaplan-Meier products are exactly 20/33 and 5/6.",
    },
    {
        "table": "patients",
        "patients": ["P03", "P13"],
        "published": "Table 1: karyotype normal 7, hypodiploidy 1, hyperdiploidy 1, other 4 "
        "(patients not named).",
        "chosen": "P13 hypodiploid (no chromosome count, so not NCCN 'hypodiploidy < 44'), "
        "P03 hyperdiploid (47-50, not high hyperdiploidy), P04/P09/P11/P12 other (their "
        "rearrangements), the rest normal.",
    },
)


def study_date(d: Design, day: int) -> dt.date:
    """Calendar date of a study day (D1 = ``d.d1``)."""
    return d.d1 + dt.timedelta(days=day - 1)


def diagnosis_day(d: Design) -> int:
    """Marrow and blood at diagnosis: three days before the first pre-phase dose."""
    return (1 - d.dex_days) - 3


def induction_end(d: Design) -> int:
    """Last day of induction: the day before salvage or consolidation starts."""
    salvage = d.extra.get("salvage_days")
    first = salvage[0] if isinstance(salvage, tuple) else d.consolidation_start
    return min(int(first), d.consolidation_start) - 1
