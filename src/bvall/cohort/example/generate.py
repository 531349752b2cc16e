"""Generate the raw tables of the example cohort from its design (seeded, deterministic).

:func:`generate_tables` returns plain row dicts per cohort table; the caller validates them into a
:class:`~bvall.cohort.Cohort`. Values copied from the published cohort keep their published value;
everything else is synthetic and follows :mod:`bvall.cohort.example.design`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from bvall.cohort.example.design import (
    READ_ADVERSE_EVENTS,
    SEED,
    Design,
    Fever,
    diagnosis_day,
    induction_end,
    study_date,
)
from bvall.cohort.example.doses import planned_doses
from bvall.cohort.example.events import (
    add_adverse_events,
    add_follow_up,
    add_marrow,
    add_transfusions_and_medications,
)
from bvall.cohort.example.patients import DESIGNS
from bvall.cohort.example.trajectories import (
    banded_counts,
    bump,
    dip,
    linear_interpolate,
)
from bvall.cohort.model import Cohort

Rows = dict[str, list[dict[str, Any]]]

# Adult reference intervals (Chinese national standards WS/T 404-2012 and WS/T 405-2012),
# by test and sex; synthetic choice for the example.
REFERENCE = {
    "wbc": {"M": (3.5, 9.5), "F": (3.5, 9.5)},
    "anc": {"M": (1.8, 6.3), "F": (1.8, 6.3)},
    "alc": {"M": (1.1, 3.2), "F": (1.1, 3.2)},
    "hemoglobin": {"M": (130.0, 175.0), "F": (115.0, 150.0)},
    "platelets": {"M": (125.0, 350.0), "F": (125.0, 350.0)},
    "alt": {"M": (9.0, 50.0), "F": (7.0, 40.0)},
    "ast": {"M": (15.0, 40.0), "F": (13.0, 35.0)},
    "bilirubin": {"M": (3.4, 20.5), "F": (3.4, 20.5)},
    "creatinine": {"M": (57.0, 111.0), "F": (41.0, 81.0)},
    "potassium": {"M": (3.5, 5.3), "F": (3.5, 5.3)},
    "calcium": {"M": (2.11, 2.52), "F": (2.11, 2.52)},
    "albumin": {"M": (40.0, 55.0), "F": (40.0, 55.0)},
    "phosphate": {"M": (0.85, 1.51), "F": (0.85, 1.51)},
    "uric_acid": {"M": (208.0, 428.0), "F": (155.0, 357.0)},
    "ldh": {"M": (120.0, 250.0), "F": (120.0, 250.0)},
    "fibrinogen": {"M": (2.0, 4.0), "F": (2.0, 4.0)},
}
UNITS = {
    "wbc": "10^9/L",
    "anc": "10^9/L",
    "alc": "10^9/L",
    "hemoglobin": "g/L",
    "platelets": "10^9/L",
    "alt": "U/L",
    "ast": "U/L",
    "bilirubin": "µmol/L",
    "creatinine": "µmol/L",
    "potassium": "mmol/L",
    "calcium": "mmol/L",
    "albumin": "g/L",
    "phosphate": "mmol/L",
    "uric_acid": "µmol/L",
    "ldh": "U/L",
    "fibrinogen": "g/L",
}
CHEMISTRY = (
    "alt",
    "ast",
    "bilirubin",
    "creatinine",
    "potassium",
    "calcium",
    "albumin",
    "phosphate",
    "uric_acid",
    "ldh",
)


def _published(published: Cohort) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for p in published["patients"].to_pylist():
        out[p["patient_id"]]["patient"] = p
    for lab in published["labs"].to_pylist():
        out[lab["patient_id"]][f"lab_{lab['test']}"] = lab["value"]
    for m in published["marrow_assessments"].to_pylist():
        if m["timepoint"] == "diagnosis":
            out[m["patient_id"]]["blasts"] = m["blasts_percent"]
    for g in published["genetic_findings"].to_pylist():
        out[g["patient_id"]].setdefault("genetics", []).append(g)
    for a in published["adverse_events"].to_pylist():
        out[a["patient_id"]].setdefault("aes", []).append(a)
    for a in READ_ADVERSE_EVENTS:
        out[str(a["patient_id"])].setdefault("aes", []).append(a)
    return out


def generate_tables(published: Cohort, seed: int = SEED) -> Rows:
    """Every table of the example cohort as row dicts."""
    pub = _published(published)
    rows: Rows = defaultdict(list)
    for i, d in enumerate(DESIGNS):
        rng = np.random.default_rng(seed + i)
        info = pub[d.pid]
        _patient(rows, d, info)
        arm = str(info["patient"]["arm"])
        _courses_and_doses(rows, d, arm)
        _labs(rows, d, info, rng)
        _vitals(rows, d, arm, rng)
        _neuro(rows, d, arm)
        add_marrow(rows, d, info)
        add_adverse_events(rows, d, info)
        add_transfusions_and_medications(rows, d)
        add_follow_up(rows, d)
    return dict(rows)


def _patient(rows: Rows, d: Design, info: dict[str, Any]) -> None:
    p = dict(info["patient"])
    diag = study_date(d, diagnosis_day(d))
    p.update(
        diagnosis_date=diag,
        enrolment_date=diag,
        weight_kg=d.weight_kg,
        height_cm=d.height_cm,
        ecog=d.ecog,
        karyotype=d.karyotype,
        cns_status="CNS-1",
        extramedullary_disease=False,
    )
    rows["patients"].append(p)
    for g in info.get("genetics", []):
        rows["genetic_findings"].append(
            {"patient_id": d.pid, "lesion": g["lesion"], "detail": g["detail"], "method": "ngs"}
        )


def _courses_and_doses(rows: Rows, d: Design, arm: str) -> None:
    first_dex = 1 - d.dex_days
    end = induction_end(d)
    courses: list[tuple[str, str, str | None, int, int, int, str | None]] = [
        ("PRE", "prephase", "dexamethasone-prephase", 1, first_dex, 0, "dexamethasone 10 mg/day"),
        ("IND", "induction", f"bv-{arm}", 2, 1, end, None),
    ]
    n = 3
    salvage = d.extra.get("salvage_days")
    if isinstance(salvage, tuple):
        for j, start in enumerate(salvage, 1):
            courses.append(
                (
                    f"SAL{j}",
                    "salvage",
                    "hyper-cvad-modified",
                    n,
                    start,
                    start + 20,
                    "dose-modified Hyper-CVAD",
                )
            )
            n += 1
    courses.append(
        (
            "CONS1",
            "consolidation",
            None,
            n,
            d.consolidation_start,
            d.consolidation_start + 27,
            d.consolidation,
        )
    )
    n += 1
    if d.hsct_day is not None:
        courses.append(("HSCT", "hsct", "allogeneic HSCT", n, d.hsct_day, d.hsct_day, None))
    for cid, ctype, regimen, number, start, stop, notes in courses:
        rows["treatment_courses"].append(
            {
                "patient_id": d.pid,
                "course_id": cid,
                "course_type": ctype,
                "regimen": regimen,
                "course_number": number,
                "start_date": study_date(d, start),
                "end_date": study_date(d, stop),
                "notes": notes,
            }
        )
    for dose in planned_doses(
        arm, weight_kg=d.weight_kg, height_cm=d.height_cm, dex_days=d.dex_days
    ):
        rows["dose_administrations"].append(
            _dose(
                d,
                "PRE" if dose.day <= 0 else "IND",
                dose.agent,
                dose.dose,
                dose.unit,
                dose.route,
                dose.day,
            )
        )
    for first, last, mg in d.crs_dexamethasone:
        for day in range(first, last + 1):
            row = _dose(d, "IND", "dexamethasone", mg, "mg", "IV", day)
            row["reason"] = "cytokine release syndrome"
            rows["dose_administrations"].append(row)


def _dose(
    d: Design, course: str, agent: str, dose: float, unit: str, route: str, day: int
) -> dict[str, Any]:
    return {
        "patient_id": d.pid,
        "course_id": course,
        "agent": agent,
        "dose": dose,
        "dose_unit": unit,
        "route": route,
        "study_day_start": day,
        "study_day_end": day,
        "date_start": study_date(d, day),
        "date_end": study_date(d, day),
        "status": "given",
    }


def _lab(
    d: Design, test: str, day: int, value: float, sex: str, timepoint: str | None = None
) -> dict[str, Any]:
    low, high = REFERENCE[test][sex]
    return {
        "patient_id": d.pid,
        "test": test,
        "value": value,
        "unit": UNITS[test],
        "ref_low": low,
        "ref_high": high,
        "date": study_date(d, day),
        "study_day": day,
        "time": "06:00",
        "timepoint": timepoint,
    }


def _labs(rows: Rows, d: Design, info: dict[str, Any], rng: np.random.Generator) -> None:
    sex = info["patient"]["sex"]
    first = diagnosis_day(d)
    end = induction_end(d)
    days = list(range(first, end + 1))
    quiet = {x for x in (d.d14_marrow, d.precons_marrow) if x is not None}
    window = (1, end)
    anc = banded_counts(
        d.anc,
        days,
        rng,
        below=d.anc_below,
        threshold=0.5,
        floor=d.anc_floor,
        window=window,
        quiet_days=quiet,
    )
    plt = banded_counts(
        d.plt,
        days,
        rng,
        below=d.plt_below,
        threshold=20.0,
        floor=d.plt_floor,
        window=window,
        quiet_days=quiet,
        decimals=0,
    )
    hb_base = linear_interpolate(d.hb, days)
    pins = {(t, day): v for t, day, v in d.pins}
    series: dict[str, dict[int, float]] = {"anc": anc, "platelets": plt}
    series["hemoglobin"] = {
        x: round(max(d.hb_floor if x >= 1 else 0.0, hb_base[x] + rng.normal(0, 1.5))) for x in days
    }
    series["alc"] = {x: round(0.4 + 0.9 * rng.random(), 2) for x in days}
    series["wbc"] = {
        x: round(anc[x] + series["alc"][x] + 0.1 + 0.3 * rng.random() + (1.5 if x < 1 else 0), 2)
        for x in days
    }
    chem = {
        "bilirubin": 8 + 6 * rng.random(),
        "creatinine": (72.0 if sex == "M" else 58.0) * (0.9 + 0.2 * rng.random()),
        "potassium": 4.0 + 0.4 * rng.random(),
        "calcium": 2.29 + 0.06 * rng.random(),
        "albumin": 38.0 + 3.0 * rng.random(),
        "phosphate": 1.0 + 0.2 * rng.random(),
        "ldh": 180.0 + 60.0 * rng.random(),
    }
    chem_days = [x for x in days if x <= 14 or (x - 14) % 2 == 0 or x in quiet]
    noise = {
        "bilirubin": 0.05,
        "creatinine": 0.03,
        "potassium": 0.025,
        "calcium": 0.012,
        "albumin": 0.02,
        "phosphate": 0.035,
        "ldh": 0.05,
    }
    for test, level in chem.items():
        series[test] = {
            x: round(level * float(np.exp(rng.normal(0, noise[test]))), 2) for x in chem_days
        }
    for test, spec in (("alt", d.alt), ("ast", d.ast)):
        base, peak_day, peak = spec
        series[test] = {
            x: round(
                bump(base, peak_day, peak, x)
                * (1.0 if x == peak_day else float(np.exp(rng.normal(0, 0.03))))
            )
            for x in [*chem_days, peak_day]
            if x in chem_days or x == peak_day
        }
    ua_base, ua_day, ua_peak = d.uric_acid
    series["uric_acid"] = {}
    for x in chem_days:
        trend = ua_base * (1.0 - 0.012 * max(0, x + 3))  # allopurinol lowers uric acid
        value = bump(trend, ua_day, ua_peak, x, width=1.0) if ua_peak > ua_base else trend
        series["uric_acid"][x] = round(
            value if x == -3 else value * float(np.exp(rng.normal(0, 0.02)))
        )
    fb, nadir_day, nadir = d.fibrinogen
    fib_days = sorted({x for x in days if x % 2 == 0} | {nadir_day, 0})
    series["fibrinogen"] = {
        x: round(
            dip(fb, nadir_day, nadir, x)
            * (1.0 if x in (0, nadir_day) else float(np.exp(rng.normal(0, 0.015)))),
            2,
        )
        for x in fib_days
    }
    for (test, day), value in pins.items():
        series[test][day] = value
    published: dict[tuple[str, str], float | None] = {
        ("wbc", "diagnosis"): info.get("lab_wbc"),
        ("platelets", "pretreatment"): info.get("lab_platelets"),
        ("hemoglobin", "pretreatment"): info.get("lab_hemoglobin"),
    }
    for (test, _timepoint), reported in published.items():
        if reported is not None:
            series[test][first] = reported
    for test in UNITS:
        for x, value in sorted(series[test].items()):
            tp = next((t for (s, t) in published if s == test and x == first), None)
            rows["labs"].append(_lab(d, test, x, value, sex, tp))
    if d.pid == "P02":
        cr = int(d.cr_day)
        for x in range(cr - 2, cr + 2):
            for test, value in (
                ("anc", 2.1),
                ("platelets", 176.0),
                ("hemoglobin", 101.0),
                ("wbc", 4.1),
            ):
                rows["labs"].append(_lab(d, test, x, value, sex))


NORMAL_TIMES = ("08:00",)
MONITOR_TIMES = ("00:00", "04:00", "08:00", "12:00", "16:00", "20:00")


def _monitor_days(arm: str) -> set[int]:
    """Four-hourly vital signs on the first two days of each blinatumomab step."""
    return {1, 2, 8, 9} if arm == "concurrent" else {8, 9, 15, 16}


def _vitals(rows: Rows, d: Design, arm: str, rng: np.random.Generator) -> None:
    special: dict[tuple[int, str], Fever] = {(f.day, f.time): f for f in d.fevers}
    monitor = _monitor_days(arm)
    for day in range(diagnosis_day(d), induction_end(d) + 1):
        times = set(MONITOR_TIMES if day in monitor else NORMAL_TIMES)
        times |= {t for (x, t) in special if x == day}
        for time in sorted(times):
            f = special.get((day, time))
            row = {
                "patient_id": d.pid,
                "date": study_date(d, day),
                "study_day": day,
                "time": time,
                "temperature_c": round(36.4 + 0.8 * rng.random(), 1),
                "sbp_mmhg": float(round(108 + 24 * rng.random())),
                "dbp_mmhg": float(round(62 + 18 * rng.random())),
                "heart_rate": float(round(70 + 22 * rng.random())),
                "respiratory_rate": float(round(14 + 5 * rng.random())),
                "spo2_percent": float(round(96 + 3 * rng.random())),
                "oxygen_device": "room_air",
                "oxygen_flow_l_min": None,
                "vasopressors": None,
                "fluid_bolus": False,
                "antipyretic_given": False,
            }
            if f is not None:
                row["temperature_c"] = f.temperature_c
                if f.sbp_mmhg is not None:
                    row["sbp_mmhg"] = f.sbp_mmhg
                    row["dbp_mmhg"] = float(round(f.sbp_mmhg * 0.6))
                if f.temperature_c >= 38.0:
                    row["heart_rate"] = float(round(100 + 15 * rng.random()))
                if f.oxygen_device is not None:
                    row["oxygen_device"] = f.oxygen_device
                    row["oxygen_flow_l_min"] = f.oxygen_flow_l_min
                    row["spo2_percent"] = 93.0
                row["vasopressors"] = f.vasopressors
                row["fluid_bolus"] = bool(f.fluid_bolus)
            rows["vitals"].append(row)


def _neuro(rows: Rows, d: Design, arm: str) -> None:
    """Daily ICE screening while blinatumomab runs, plus the design's findings."""
    start = 1 if arm == "concurrent" else 8
    blin = list(range(start, start + 14))
    special = {day for day, _t, _i, _s in d.neuro}
    for day in blin:
        if day in special:
            continue
        rows["neuro_assessments"].append(_neuro_row(d, day, "09:00", 10, None))
    for day, time, ice, symptoms in d.neuro:
        rows["neuro_assessments"].append(_neuro_row(d, day, time, ice, symptoms or None))


def _neuro_row(d: Design, day: int, time: str, ice: int, symptoms: str | None) -> dict[str, Any]:
    return {
        "patient_id": d.pid,
        "date": study_date(d, day),
        "study_day": day,
        "time": time,
        "ice_score": ice,
        "consciousness": "alert",
        "seizure": "none",
        "motor_findings": "none",
        "raised_icp": "none",
        "other_cause": False,
        "symptoms": symptoms,
    }
