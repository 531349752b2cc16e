"""Properties every generated plan keeps, whatever the patient, co-medication and options:
no dose above the regimen's maximum (or above the protocol dose a rule started from), and no
ramp-up step skipped or reordered; each venetoclax step gets its TLS monitoring."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bvall.regimen import load_interactions, load_regimen, plan_regimen, regimen_names

DRUGS = sorted(load_interactions().drugs) + sorted(load_interactions().avoid)


@st.composite
def comedication(draw: st.DrawFn) -> str:
    drug = draw(st.sampled_from(DRUGS))
    if draw(st.booleans()):
        return drug
    a = draw(st.integers(-10, 20))
    b = draw(st.integers(a, 30))
    return f"{drug}:{a}..{b}"


@st.composite
def plan_args(draw: st.DrawFn) -> dict:  # type: ignore[type-arg]
    name = draw(st.sampled_from(regimen_names()))
    reg = load_regimen(name)
    kw: dict = {  # type: ignore[type-arg]
        "start": dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 2000))),
        "weight_kg": draw(st.floats(2, 400, allow_nan=False)),
        "height_cm": draw(st.floats(40, 250, allow_nan=False)),
        "inhibitors": draw(st.lists(comedication(), max_size=3)),
        "site_policy": draw(st.sampled_from(["label", "seed"])),
        "bsa_formula": draw(st.sampled_from(["mosteller", "dubois"])),
        "bsa_decimals": draw(st.sampled_from([None, 1, 2, 3])),
        "resume_after_days": draw(st.sampled_from([2, 3])),
    }
    params = {}
    for p in reg.parameters.values():
        if p.name == "cycles":
            params["cycles"] = draw(st.integers(1, 3))
        elif p.type == "int":
            assert p.min is not None
            assert p.max is not None
            params[p.name] = draw(st.integers(int(p.min), int(p.max)))
        elif p.type == "choice":
            params[p.name] = draw(st.sampled_from(p.choices))
    kw["parameters"] = params
    return {"regimen": name, **kw}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_args())
def test_no_plan_exceeds_the_maximum_or_skips_a_ramp_step(args: dict) -> None:  # type: ignore[type-arg]
    plan = plan_regimen(**args)
    reg = plan.regimen
    for agent in reg.agents:
        if agent.id.startswith("{"):
            continue
        series = plan.doses_of(agent.id)
        for _, x in series:
            assert x.dose is None or x.dose >= 0
            if agent.max_daily_dose is not None and x.dose is not None:
                assert x.dose <= agent.max_daily_dose + 1e-9, (agent.id, x)
            if x.base_dose is not None and x.dose is not None:
                assert x.dose <= x.base_dose + 1e-9  # a rule never raises a dose
        steps = reg.ramp_steps(agent.id)
        if not steps:
            continue
        seen = [x.ramp_step for _, x in series if x.ramp_step is not None]
        # Ramp steps appear in order, each at least once, none skipped.
        assert seen == sorted(seen)
        assert sorted(set(seen)) == list(steps)
        assert all(b - a in (0, 1) for a, b in itertools.pairwise(seen))
        # The planned days of the ramp are consecutive days.
        ramp_days = [d for d, x in series if x.ramp_step is not None]
        assert ramp_days == list(range(ramp_days[0], ramp_days[0] + len(ramp_days)))
    tls = {m.id for m in reg.monitoring if m.each_ramp_step_of == "venetoclax"}
    if tls:
        checked = {d.day for d in plan.days for m in d.monitoring if m.id in tls}
        firsts = {}
        for day, x in plan.doses_of("venetoclax"):
            if x.ramp_step is not None:
                firsts.setdefault(x.ramp_step, day)
        assert set(firsts.values()) <= checked
