"""Both published BV schedules, day by day, against the seed paper (Lei et al.).

Reference: Treatment section ("venetoclax ... 100 mg on day 1, ... 200 mg on day 2, 300 mg on
day 3, and maintained at 400 mg from day 4 to the end of treatment up to 14 days"; blinatumomab
"9 µg for the first 7 days and escalated to 28 µg from day 8"; sequential group: blinatumomab
"initiated on day 8") and Table 2 ("9ug d1-7, 28ug d8-14" / "9ug d8-14, 28ug d15-21"); Study
Design (dexamethasone 10 mg daily for 3-5 days; antihyperuricaemic from 2-3 days before
dexamethasone for 10-14 days; IV hydration about 2000 mL/m²/day); Response and Outcomes (marrow
days 14-21; again before consolidation at count recovery).
"""

from __future__ import annotations

import datetime as dt

import pytest

from bvall.regimen import plan_regimen

START = dt.date(2026, 12, 7)

VENETOCLAX = {1: 100, 2: 200, 3: 300, **dict.fromkeys(range(4, 15), 400)}
BLIN_CONCURRENT = {**dict.fromkeys(range(1, 8), 9), **dict.fromkeys(range(8, 15), 28)}
BLIN_SEQUENTIAL = {**dict.fromkeys(range(8, 15), 9), **dict.fromkeys(range(15, 22), 28)}


def _series(plan, agent):  # type: ignore[no-untyped-def]
    return {day: x.dose for day, x in plan.doses_of(agent)}


@pytest.mark.parametrize(
    ("regimen", "blin"),
    [("bv-concurrent", BLIN_CONCURRENT), ("bv-sequential", BLIN_SEQUENTIAL)],
)
def test_protocol_agents_day_by_day(regimen: str, blin: dict[int, int]) -> None:
    p = plan_regimen(regimen, start=START, weight_kg=62, height_cm=168)
    assert _series(p, "venetoclax") == VENETOCLAX
    assert _series(p, "blinatumomab") == blin
    for day, x in p.doses_of("venetoclax"):
        assert (x.unit, x.route, x.rule) == ("mg", "PO", None)
        assert p.day(day).date == START + dt.timedelta(days=day - 1)
    for _, x in p.doses_of("blinatumomab"):
        assert (x.unit, x.route, x.rule) == ("µg/day", "CIV", None)
    # Cumulative doses: venetoclax 100+200+300+11*400 = 5000 mg; blinatumomab 7*9 + 7*28 = 259 µg.
    assert p.cumulative_dose("venetoclax") == 5000
    assert p.cumulative_dose("blinatumomab") == 259


@pytest.mark.parametrize("dex_days", [3, 4, 5])
@pytest.mark.parametrize("regimen", ["bv-concurrent", "bv-sequential"])
def test_prephase_and_tls_prophylaxis(regimen: str, dex_days: int) -> None:
    p = plan_regimen(regimen, start=START, weight_kg=62, height_cm=168, dex_days=dex_days)
    dex = _series(p, "dexamethasone")
    # dex_days days of 10 mg ending the day before D1 (D0).
    assert dex == dict.fromkeys(range(1 - dex_days, 1), 10)
    # Allopurinol from 2 days before the first dexamethasone dose (default lead) for 14 days.
    allo = sorted(_series(p, "allopurinol"))
    assert allo[0] == 1 - dex_days - 2
    assert len(allo) == 14
    assert allo == list(range(allo[0], allo[0] + 14))
    assert all(x.dose is None and x.dose_text for _, x in p.doses_of("allopurinol"))
    # IV hydration 2000 mL/m²/day × BSA (Mosteller 62 kg, 168 cm = 1.70 m²) = 3400 mL/day.
    hyd = p.doses_of("iv_hydration")
    assert {x.dose for _, x in hyd} == {3400}
    assert [d for d, _ in hyd] == list(range(1 - dex_days, 8))
    # First planned day is the first antihyperuricaemic day; its date is counted back from D1.
    assert p.days[0].day == allo[0]
    assert p.days[0].date == START + dt.timedelta(days=allo[0] - 1)


@pytest.mark.parametrize(("lead", "length"), [(2, 10), (3, 10), (2, 14), (3, 14)])
def test_antihyperuricaemic_parameters(lead: int, length: int) -> None:
    p = plan_regimen(
        "bv-concurrent",
        start=START,
        weight_kg=62,
        height_cm=168,
        parameters={
            "uric_lead_days": lead,
            "uric_days": length,
            "antihyperuricaemic": "febuxostat",
        },
    )
    days = [d for d, _ in p.doses_of("febuxostat")]
    assert days == list(range(-4 - lead, -4 - lead + length))
    assert not p.doses_of("allopurinol")
    # A 10-day course from D-7 ends before venetoclax reaches 400 mg + 24 h: the plan warns.
    warned = any(w.code == "tls-cover" for w in p.warnings)
    assert warned == (days[-1] < 5)


@pytest.mark.parametrize(("regimen", "target"), [("bv-concurrent", 14), ("bv-sequential", 21)])
def test_marrow_window_and_conditional_assessments(regimen: str, target: int) -> None:
    p = plan_regimen(regimen, start=START, weight_kg=62, height_cm=168)
    marrow = next(a for a in p.assessments if a.id == "marrow-d14-21")
    assert (marrow.first, marrow.last, marrow.target) == (14, 21, target)
    assert marrow.first_date == dt.date(2026, 12, 20)
    assert marrow.last_date == dt.date(2026, 12, 27)
    pre = next(a for a in p.conditional if a.id == "marrow-pre-consolidation")
    assert pre.after == 21
    assert "count" in (pre.condition or "")
    it = next(a for a in p.assessments if a.id == "intrathecal-prophylaxis")
    assert it.first == 1
    assert it.last is None
    assert "as early as" in (it.condition or "")
    assert p.days[-1].day == 21


def test_tls_monitoring_around_each_venetoclax_step() -> None:
    p = plan_regimen("bv-concurrent", start=START, weight_kg=62, height_cm=168)
    tls = {d.day: m for d in p.days for m in d.monitoring if m.id == "tls-venetoclax-steps"}
    # Venetoclax label: pre-dose and 6-8 h after each new dose (D1-D4), 24 h after the first
    # target dose (D5).
    assert sorted(tls) == [1, 2, 3, 4, 5]
    assert tls[1].times == ("pre-dose", "6-8 h post-dose")
    assert tls[5].times == ("24 h after first target dose",)
    assert set(tls[1].tests) == {
        "potassium",
        "phosphate",
        "calcium",
        "ldh",
        "uric_acid",
        "creatinine",
    }


def test_sequential_arm_checks_tls_at_blinatumomab_start() -> None:
    p = plan_regimen("bv-sequential", start=START, weight_kg=62, height_cm=168)
    days = [d.day for d in p.days for m in d.monitoring if m.id == "tls-blinatumomab-start"]
    assert days == [8, 9]


def test_published_blinatumomab_schedules_match_the_plans(published) -> None:  # type: ignore[no-untyped-def]
    from bvall.regimen import derive_deviations

    report = derive_deviations(published, agents=("blinatumomab",))
    rows = report.summary.to_pylist()
    assert len(rows) == 13
    # Table 2 prints each patient's blinatumomab exactly as the arm's schedule: no deviation.
    for r in rows:
        assert r["recording"] == "complete"
        assert (r["planned_cumulative"], r["given_cumulative"], r["rdi"]) == (259, 259, 1.0)
        assert (
            sum(r[c] for c in ("missed", "reduced", "increased", "interrupted", "extra", "late"))
            == 0
        )
    assert report.events.num_rows == 0
