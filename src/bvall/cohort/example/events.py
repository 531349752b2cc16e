"""Marrow assessments, reported adverse events, transfusions, medications and follow-up of the
example cohort (see :mod:`bvall.cohort.example.design`)."""

from __future__ import annotations

from typing import Any

from bvall.cohort.example.design import Design, diagnosis_day, study_date

Rows = dict[str, list[dict[str, Any]]]

#: Day-14-21 cellularity: 7 of the 12 assessed marrows hypercellular (seed paper, Results).
HYPERCELLULAR_D14 = {"P02", "P04", "P06", "P09", "P11", "P12", "P13"}
RELAPSE_BLASTS = {"P01": 38.0, "P11": 18.0}


def _marrow_row(d: Design, timepoint: str, day: int, **values: Any) -> dict[str, Any]:
    row = {
        "patient_id": d.pid,
        "timepoint": timepoint,
        "date": study_date(d, day),
        "study_day": day,
        "circulating_blasts": False,
        "extramedullary_disease": False,
    }
    row.update(values)
    return row


def _remission(
    d: Design, timepoint: str, day: int, blasts: float, cellularity: str, reported: str | None
) -> dict[str, Any]:
    return _marrow_row(
        d,
        timepoint,
        day,
        blasts_percent=blasts,
        flow_blasts_percent=0.0,
        cellularity=cellularity,
        trilineage_hematopoiesis=True,
        mrd_method="flow_10_colour",
        mrd_status="negative",
        mrd_sensitivity=0.0001,
        response_reported=reported,
    )


def add_marrow(rows: Rows, d: Design, info: dict[str, Any]) -> None:
    blasts = float(info["blasts"])
    rows["marrow_assessments"].append(
        _marrow_row(
            d,
            "diagnosis",
            diagnosis_day(d),
            blasts_percent=blasts,
            flow_blasts_percent=round(blasts * 0.93, 1),
            cellularity="hypercellular",
            trilineage_hematopoiesis=False,
            circulating_blasts=True,
        )
    )
    if d.d14_marrow is not None:
        cellularity = "hypercellular" if d.pid in HYPERCELLULAR_D14 else "hypocellular"
        if d.pid == "P02":
            rows["marrow_assessments"].append(
                _marrow_row(
                    d,
                    "d14_21",
                    d.d14_marrow,
                    blasts_percent=35.0,
                    flow_blasts_percent=31.0,
                    cellularity=cellularity,
                    trilineage_hematopoiesis=False,
                    circulating_blasts=True,
                    mrd_method="flow_10_colour",
                    mrd_status="positive",
                    mrd_level=0.31,
                    mrd_sensitivity=0.0001,
                    response_reported="NR",
                )
            )
        else:
            rows["marrow_assessments"].append(
                _remission(d, "d14_21", d.d14_marrow, 1.5, cellularity, None)
            )
    if d.precons_marrow is not None:
        rows["marrow_assessments"].append(
            _remission(d, "pre_consolidation", d.precons_marrow, 1.0, "normocellular", "CR")
        )
    salvage_marrow = d.extra.get("salvage_marrow")
    if isinstance(salvage_marrow, int):
        rows["marrow_assessments"].append(
            _remission(d, "follow_up", salvage_marrow, 1.0, "normocellular", "CR")
        )
    if d.relapse_day is not None:
        rows["marrow_assessments"].append(
            _marrow_row(
                d,
                "relapse",
                d.relapse_day,
                blasts_percent=RELAPSE_BLASTS[d.pid],
                flow_blasts_percent=RELAPSE_BLASTS[d.pid] - 2.0,
                cellularity="hypercellular",
                trilineage_hematopoiesis=False,
                mrd_method="flow_10_colour",
                mrd_status="positive",
                mrd_level=round(RELAPSE_BLASTS[d.pid] / 110.0, 3),
                mrd_sensitivity=0.0001,
                response_reported="relapse",
            )
        )


def _ae_days(d: Design, term: str) -> tuple[int, int]:
    fevers = [f for f in d.fevers if f.temperature_c >= 38.0]
    if term == "Transaminases increased":
        peak = max(d.alt[1], d.ast[1])
        return peak - 3, peak + 6
    if term == "Fibrinogen decreased":
        return d.fibrinogen[1] - 4, d.fibrinogen[1] + 6
    if term == "Cytokine release syndrome":
        crs = [f for f in fevers if f.day <= (2 if d.pid != "P10" else 9)]
        return crs[0].day, crs[-1].day
    if term == "ICANS":
        return d.neuro[0][0], d.neuro[-2][0]
    if term == "Febrile neutropenia":
        fn = [f for f in fevers if f.day >= 10]
        return fn[0].day, fn[-1].day + 1
    if term == "Lung infection":
        return 12, 26
    raise KeyError(term)


def add_adverse_events(rows: Rows, d: Design, info: dict[str, Any]) -> None:
    for ae in info.get("aes", []):
        onset, resolution = _ae_days(d, ae["term"])
        grade = ae["grade"]
        if grade is None and ae["term"] == "Febrile neutropenia":
            grade = 3  # chosen reading of the published 3 | 4 (see READINGS)
        rows["adverse_events"].append(
            {
                "patient_id": d.pid,
                "term": ae["term"],
                "term_verbatim": ae["term_verbatim"],
                "grade": grade,
                "grading_system": ae["grading_system"],
                "onset_date": study_date(d, onset),
                "onset_day": onset,
                "resolution_date": study_date(d, resolution),
                "resolution_day": resolution,
                "period": "induction",
                "serious": ae["term"] in ("Lung infection", "Febrile neutropenia") or grade == 3,
                "notes": ae["notes"],
            }
        )


def add_transfusions_and_medications(rows: Rows, d: Design) -> None:
    for day, product, amount in d.transfusions:
        rows["transfusions"].append(
            {
                "patient_id": d.pid,
                "product": product,
                "amount": amount,
                "amount_unit": "unit",
                "date": study_date(d, day),
                "study_day": day,
                "time": "14:00",
            }
        )
    for drug, route, dose, unit, start, end in d.anti_infectives:
        rows["concomitant_medications"].append(
            {
                "patient_id": d.pid,
                "drug": drug,
                "indication": "lung infection" if drug == "caspofungin" else "febrile neutropenia",
                "dose": dose,
                "dose_unit": unit,
                "route": route,
                "start_date": study_date(d, start),
                "end_date": study_date(d, end),
                "start_day": start,
                "end_day": end,
            }
        )


def add_follow_up(rows: Rows, d: Design) -> None:
    events: list[tuple[str, int, dict[str, Any]]] = [
        ("cr_documented", d.cr_day, {}),
        ("consolidation_start", d.consolidation_start, {"detail": d.consolidation}),
    ]
    if d.hsct_day is not None:
        events.append(("hsct", d.hsct_day, {"detail": "allogeneic HSCT in first CR"}))
    if d.relapse_day is not None:
        events.append(("relapse", d.relapse_day, {"relapse_site": "marrow"}))
    if d.death_day is not None:
        events.append(("death", d.death_day, {"cause": "relapsed B-ALL"}))
    else:
        events.append(("last_contact", d.last_day, {}))
    for event, day, extra in events:
        rows["follow_up_events"].append(
            {
                "patient_id": d.pid,
                "event": event,
                "date": study_date(d, day),
                "study_day": day,
                **extra,
            }
        )
