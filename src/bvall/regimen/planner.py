"""Planning one patient's regimen day by day: :func:`plan_regimen`.

Pure: dates and patient data are arguments; no clock and no I/O beyond reading the bundled
data files. The result is a :class:`~bvall.regimen.plan.Plan`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from bvall.errors import InputError, SpecError, UnknownNameError, suggest
from bvall.regimen.bsa import BSA_FORMULAS, check_height, check_weight, compute_bsa
from bvall.regimen.dosing import (
    DoseDecision,
    PatientContext,
    check_inhibitors,
    check_resume_days,
    decide_dose,
)
from bvall.regimen.interactions import (
    Comedication,
    interaction_settings,
    load_interactions,
    parse_comedication,
)
from bvall.regimen.load import load_regimen
from bvall.regimen.plan import (
    DayAssessment,
    Plan,
    PlanDay,
    PlannedAssessment,
    PlannedCheck,
    PlannedDose,
    PlanWarning,
)
from bvall.regimen.spec import Assessment, DayExpr, DoseStep, Regimen


def _check_start(start: Any) -> dt.date | None:
    if start is None:
        return None
    if isinstance(start, dt.datetime):
        return start.date()
    if isinstance(start, dt.date):
        return start
    if isinstance(start, str):
        try:
            return dt.date.fromisoformat(start.strip())
        except ValueError:
            pass
    raise InputError(
        f"start {start!r} is not a date; expected a calendar date as YYYY-MM-DD (e.g. 2026-12-07)."
    )


def _parameters(regimen: Regimen, given: Mapping[str, Any], dex_days: int | None) -> dict[str, Any]:
    values = {name: p.default for name, p in regimen.parameters.items()}
    requested = dict(given)
    if dex_days is not None:
        requested["dex_days"] = dex_days
    for name, value in requested.items():
        if name not in regimen.parameters:
            known = sorted(regimen.parameters)
            what = ", ".join(known) if known else "none"
            raise InputError(
                f"regimen {regimen.id!r} has no parameter {name!r}{suggest(name, known)} "
                f"Its parameters: {what}."
            )
        p = regimen.parameters[name]
        ok = (
            value in p.choices
            if p.type == "choice"
            else isinstance(value, int | float)
            and not isinstance(value, bool)
            and (p.type != "int" or float(value).is_integer())
            and p.min is not None
            and p.max is not None
            and p.min <= value <= p.max
        )
        if not ok:
            raise InputError(
                f"{name} = {value!r} is not accepted; expected {p.accepted()} ({p.source})."
            )
        values[name] = int(value) if p.type == "int" else value
    return values


class _Days:
    """Resolves day expressions of one cycle, including start(ID)/end(ID) references."""

    def __init__(self, regimen: Regimen, params: Mapping[str, Any], cycle: int, count: int) -> None:
        self.r = regimen
        self.params = params
        self.cycle = cycle
        self.count = count
        self._span: dict[str, int | None] = {}
        self._busy: set[str] = set()

    def steps(self, agent: str) -> list[DoseStep]:
        return [
            d
            for d in self.r.doses
            if d.agent == agent and (d.cycles is None or d.cycles[0] <= self.cycle <= d.cycles[1])
        ]

    def bound(self, kind: str, ref: str) -> int | None:
        """First day (``start``) or last day (``end``) of an agent or assessment; ``start``
        reads only 'from' expressions, so an element's 'to' may refer to its own start."""
        key = f"{kind}:{ref}"
        if key in self._span:
            return self._span[key]
        if key in self._busy:
            raise SpecError(
                f"{self.r.id}: day expressions refer to {kind}({ref}) in a circle; break it."
            )
        self._busy.add(key)
        out: int | None
        if any(a.id == ref for a in self.r.agents):
            steps = self.steps(ref)
            if not steps:
                out = None
            elif kind == "start":
                out = min(self.eval(s.first) for s in steps)
            else:
                out = max(self.eval(s.last) for s in steps)
        else:
            a = next(x for x in self.r.assessments if x.id == ref)
            first = a.first or a.after
            assert first is not None
            last = a.last or first
            out = self.eval(first if kind == "start" else last)
        self._busy.discard(key)
        self._span[key] = out
        return out

    def eval(self, expr: DayExpr) -> int:
        def resolve(kind: str, ref: str) -> int:
            value = self.bound(kind, ref)
            if value is None:
                raise SpecError(
                    f"{self.r.id}: {expr.text!r} refers to {ref!r}, which has no days in cycle "
                    f"{self.cycle}."
                )
            return value

        return expr.evaluate(self.params, resolve)


def plan_regimen(
    regimen: str | Regimen,
    *,
    start: dt.date | str | None,
    weight_kg: float | None,
    height_cm: float | None,
    inhibitors: Sequence[str | Comedication] = (),
    dex_days: int | None = None,
    bsa_formula: str = "mosteller",
    site_policy: str = "label",
    bsa_decimals: int | None = 2,
    resume_after_days: int | None = None,
    parameters: Mapping[str, Any] | None = None,
    settings: Mapping[str, str] | None = None,
    patient_label: str = "",
) -> Plan:
    """Plan a regimen for one patient, day by day.

    ``start`` is the date of D1 (``None`` plans by study day only). ``weight_kg`` and
    ``height_cm`` give BSA (``bsa_formula`` mosteller or dubois, rounded once to ``bsa_decimals``);
    ``None`` is "not recorded": doses that need them are left without a number and flagged.
    ``inhibitors`` are interacting drugs, throughout or ``"posaconazole:-2..10"`` (study days);
    ``site_policy`` is ``label`` (default) or ``seed``; ``resume_after_days`` (2-3, default 3) is
    when the pre-inhibitor venetoclax dose resumes after the last inhibitor day. ``dex_days`` and
    ``parameters`` set the regimen's parameters (``bvall regimens NAME`` lists them); ``settings``
    chooses between sources that disagree (e.g. ``{"diltiazem": "cyp3a_moderate"}``).
    """
    reg = regimen if isinstance(regimen, Regimen) else load_regimen(regimen)
    start_date = _check_start(start)
    # Weight without height still drives weight-band rules; BSA needs both.
    if weight_kg is not None:
        check_weight(weight_kg)
    if height_cm is not None:
        check_height(height_cm)
    bsa = None
    if weight_kg is not None and height_cm is not None:
        bsa = compute_bsa(weight_kg, height_cm, bsa_formula, decimals=bsa_decimals)
    elif bsa_formula not in BSA_FORMULAS:
        compute_bsa(70.0, 170.0, bsa_formula)  # raises the unknown-formula error
    table = load_interactions()
    if site_policy not in table.policies:
        names = list(table.policies)
        raise UnknownNameError(
            f"site policy {site_policy!r} is not known{suggest(site_policy, names)} Accepted: "
            + "; ".join(f"{p.id} ({p.label})" for p in table.policies.values())
            + "."
        )
    resume = check_resume_days(
        table.resume_default if resume_after_days is None else resume_after_days
    )
    settings = dict(settings or {})
    known_settings = interaction_settings()
    for key, value in settings.items():
        if key not in known_settings:
            raise InputError(
                f"setting {key!r} is not known{suggest(key, list(known_settings))} Accepted: "
                + ", ".join(f"{k} ({'/'.join(v[1])})" for k, v in known_settings.items())
                + "."
            )
        if value not in known_settings[key][1]:
            raise InputError(
                f"setting {key}={value!r} is not accepted; expected one of "
                f"{', '.join(known_settings[key][1])}."
            )
    comeds = tuple(parse_comedication(x) for x in inhibitors)
    warnings = [PlanWarning(*w) for w in check_inhibitors(comeds, settings)]
    if comeds and not any("venetoclax-interactions" in a.dose_rules for a in reg.agents):
        # The drugs were still checked (an unknown name is an error), but no agent here has an
        # interaction rule: say so rather than show venetoclax advice on a venetoclax-free plan.
        warnings = [
            PlanWarning(
                "interaction-not-applicable",
                f"{', '.join(c.drug for c in comeds)}: no agent of {reg.id} has a CYP3A/P-gp "
                "dose rule; no dose was changed.",
                "venetoclax_interactions.toml",
            )
        ]
    if dex_days is not None and "dex_days" not in reg.parameters:
        raise InputError(
            f"regimen {reg.id!r} has no dexamethasone pre-phase, so dex_days={dex_days!r} does "
            "not apply; leave it out."
        )
    params = _parameters(reg, parameters or {}, dex_days)
    count = reg.cycle_count
    cycles = 1 if count is None else int(params[count] if isinstance(count, str) else count)

    ctx = PatientContext(
        weight_kg=weight_kg,
        bsa_m2=bsa,
        comedications=comeds,
        site_policy=site_policy,
        resume_after_days=resume,
        settings=settings,
        bsa_decimals=bsa_decimals,
    )
    doses: dict[int, list[PlannedDose]] = {}
    checks: dict[int, list[PlannedCheck]] = {}
    marks: dict[int, list[DayAssessment]] = {}
    assessments: list[PlannedAssessment] = []
    cycle_of: dict[int, tuple[int, int]] = {}
    cycle_start = 1
    first_dose_day: dict[str, int] = {}
    for cycle in range(1, cycles + 1):
        resolver = _Days(reg, params, cycle, cycles)
        length = reg.cycle_length(cycle)
        offset = cycle_start - 1
        if length is not None:
            for cd in range(1, length + 1):
                cycle_of[offset + cd] = (cycle, cd)
        per_agent = _plan_doses(reg, resolver, offset, params, ctx, first_dose_day)
        for day, planned in per_agent.items():
            doses.setdefault(day, []).extend(planned)
            cycle_of.setdefault(day, (cycle, day - offset))
        for day, due in _plan_checks(reg, resolver, offset, per_agent).items():
            checks.setdefault(day, []).extend(due)
        for a in reg.assessments:
            if a.cycles is not None and not a.cycles[0] <= cycle <= a.cycles[1]:
                continue
            pa = _plan_assessment(a, resolver, offset, start_date)
            assessments.append(pa)
            for day, mark in _assessment_marks(pa).items():
                marks.setdefault(day, []).append(mark)
                cycle_of.setdefault(day, (cycle, day - offset))
        cycle_start += length or 0
    warnings += _plan_warnings(reg, doses, params, comeds, site_policy, weight_kg)
    all_days = set(doses) | set(checks) | set(marks)
    if not all_days:
        raise SpecError(f"{reg.id}: the spec plans no day; add [[dose]] entries.")
    first, last = min(all_days), max(all_days)
    days = []
    for day in range(first, last + 1):
        cycle, cd = cycle_of[day] if day in cycle_of else _cycle_for(day, cycle_of)
        days.append(
            PlanDay(
                day=day,
                date=None if start_date is None else start_date + dt.timedelta(days=day - 1),
                cycle=cycle,
                cycle_day=cd,
                doses=tuple(sorted(doses.get(day, []), key=_dose_order)),
                monitoring=tuple(checks.get(day, [])),
                assessments=tuple(marks.get(day, [])),
            )
        )
    return Plan(
        regimen=reg,
        start=start_date,
        weight_kg=weight_kg,
        height_cm=height_cm,
        bsa_m2=bsa,
        bsa_formula=bsa_formula,
        bsa_decimals=bsa_decimals,
        comedications=comeds,
        site_policy=site_policy,
        resume_after_days=resume,
        parameters=params,
        settings=settings,
        days=tuple(days),
        assessments=tuple(assessments),
        warnings=tuple(warnings),
        cycles=cycles,
        patient_label=patient_label,
    )


_ROLE_ORDER = {"protocol": 0, "premedication": 1, "prephase": 2, "supportive": 3}


def _dose_order(d: PlannedDose) -> int:
    # Stable sort: within a role, agents keep the order the spec declares them in.
    return _ROLE_ORDER.get(d.role, 9)


def _cycle_for(day: int, cycle_of: Mapping[int, tuple[int, int]]) -> tuple[int, int]:
    # Days outside every cycle (pre-phase before cycle 1) belong to cycle 1 with a cycle day
    # equal to the study day; gaps between listed days take the previous listed day's cycle.
    earlier = [d for d in cycle_of if d < day]
    if not earlier:
        return (1, day)
    prev = max(earlier)
    c, cd = cycle_of[prev]
    return (c, cd + day - prev)


def _plan_doses(
    reg: Regimen,
    resolver: _Days,
    offset: int,
    params: Mapping[str, Any],
    ctx: PatientContext,
    first_dose_day: dict[str, int],
) -> dict[int, list[PlannedDose]]:
    out: dict[int, list[PlannedDose]] = {}
    for agent in reg.agents:
        code = agent.id
        if code.startswith("{"):
            code = str(params[code[1:-1]])
        taken: dict[int, DoseStep] = {}
        for step in resolver.steps(agent.id):
            a, b = resolver.eval(step.first), resolver.eval(step.last)
            if b < a:
                raise SpecError(
                    f"{reg.id}: [[dose]] #{step.index} ({agent.id}) runs from D{a} to D{b}; "
                    "'to' must not be before 'from'."
                )
            for cd in range(a, b + 1):
                day = offset + cd
                if day in taken:
                    raise SpecError(
                        f"{reg.id}: {agent.id} has two doses on D{cd} ([[dose]] #{taken[day].index} "
                        f"and #{step.index}); make the day ranges disjoint."
                    )
                taken[day] = step
        for day in sorted(taken):
            step = taken[day]
            first_dose_day.setdefault(agent.id, day)
            base = step.dose
            if isinstance(base, str):
                base = float(params[base])
            decision: DoseDecision = decide_dose(
                agent=code,
                unit=agent.unit,
                base=base,
                per_m2=step.per == "m2",
                base_source=step.source,
                dose_rules=agent.dose_rules,
                product=agent.product,
                day=day,
                ramp_day=day - first_dose_day[agent.id] + 1,
                ctx=ctx,
            )
            if (
                agent.max_daily_dose is not None
                and decision.dose is not None
                and decision.dose > agent.max_daily_dose + 1e-9
            ):
                # Rules never raise a dose; reaching this means a spec or rule file is wrong.
                raise SpecError(
                    f"{reg.id}: {code} {decision.dose:g} {agent.unit} on D{day} is above the "
                    f"regimen's maximum {agent.max_daily_dose:g}; check the spec and dose rules."
                )
            base_value = None
            if base is not None:
                base_value = (
                    base
                    if step.per is None
                    else (None if ctx.bsa_m2 is None else round(base * ctx.bsa_m2, 6))
                )
            out.setdefault(day, []).append(
                PlannedDose(
                    agent=code,
                    name=agent.name if not agent.id.startswith("{") else code.capitalize(),
                    role=agent.role,
                    dose=decision.dose,
                    unit=agent.unit,
                    route=agent.route,
                    frequency=agent.frequency,
                    source=decision.source,
                    rule=decision.rule,
                    rule_id=decision.rule_id,
                    basis=decision.basis,
                    tablets=decision.tablets,
                    flags=decision.flags,
                    dose_text=step.dose_text,
                    base_dose=base_value,
                    ramp_step=step.ramp_step,
                    target=step.target,
                    route_alternatives=agent.route_alternatives,
                )
            )
    return out


def _plan_checks(
    reg: Regimen, resolver: _Days, offset: int, doses: Mapping[int, list[PlannedDose]]
) -> dict[int, list[PlannedCheck]]:
    out: dict[int, list[PlannedCheck]] = {}
    cycle = resolver.cycle
    for m in reg.monitoring:
        if m.cycles is not None and not m.cycles[0] <= cycle <= m.cycles[1]:
            continue
        days: dict[int, tuple[str, ...]] = {}
        if m.days:
            for e in m.days:
                days[offset + resolver.eval(e)] = m.times
        elif m.first is not None and m.last is not None and m.every_days:
            a, b = resolver.eval(m.first), resolver.eval(m.last)
            for cd in range(a, b + 1, m.every_days):
                days[offset + cd] = m.times
        elif m.each_ramp_step_of is not None:
            agent = m.each_ramp_step_of
            series = sorted(
                (day, x) for day, items in doses.items() for x in items if _is_agent(reg, agent, x)
            )
            prev_step: int | None = None
            target_seen = False
            for day, x in series:
                if x.ramp_step is not None and x.ramp_step != prev_step:
                    days[day] = m.times
                    if x.target and not target_seen and m.after_target_times:
                        days.setdefault(day + 1, m.after_target_times)
                        target_seen = True
                prev_step = x.ramp_step
        for day, times in sorted(days.items()):
            out.setdefault(day, []).append(
                PlannedCheck(m.id, m.label, m.source, m.tests, times, m.short or m.label)
            )
    return out


def _is_agent(reg: Regimen, spec_id: str, dose: PlannedDose) -> bool:
    agent = reg.agent(spec_id)
    return dose.agent == spec_id or (agent.id.startswith("{") and dose.name == agent.name)


def _plan_assessment(
    a: Assessment, resolver: _Days, offset: int, start: dt.date | None
) -> PlannedAssessment:
    def at(e: DayExpr | None) -> int | None:
        return None if e is None else offset + resolver.eval(e)

    def date(day: int | None) -> dt.date | None:
        return None if day is None or start is None else start + dt.timedelta(days=day - 1)

    first, last, target, after = at(a.first), at(a.last), at(a.target), at(a.after)
    if first is not None and last is not None and last < first:
        raise SpecError(
            f"[[assessment]] {a.id!r}: window ends (D{last}) before it opens (D{first})."
        )
    return PlannedAssessment(
        id=a.id,
        label=a.label,
        kind=a.kind,
        source=a.source,
        first=first,
        last=last,
        target=target,
        after=after,
        condition=a.condition,
        first_date=date(first),
        last_date=date(last),
        target_date=date(target),
    )


def _assessment_marks(a: PlannedAssessment) -> dict[int, DayAssessment]:
    if a.first is None:
        return {}
    window = a.window_text()
    if a.last is None:
        return {a.first: DayAssessment(a.id, a.label, "due from", window, a.source)}
    marks = {a.first: DayAssessment(a.id, a.label, "window opens", window, a.source)}
    if a.target is not None:
        marks[a.target] = DayAssessment(
            a.id,
            a.label,
            "target day" + (", window opens" if a.target == a.first else ""),
            window,
            a.source,
        )
    if a.last != a.first:
        pos = "window closes" + (", target day" if a.target == a.last else "")
        marks[a.last] = DayAssessment(a.id, a.label, pos, window, a.source)
    return marks


def _plan_warnings(
    reg: Regimen,
    doses: Mapping[int, list[PlannedDose]],
    params: Mapping[str, Any],
    comeds: Sequence[Comedication],
    site_policy: str,
    weight_kg: float | None,
) -> list[PlanWarning]:
    out: list[PlanWarning] = []
    flagged: dict[str, list[int]] = {}
    for day, items in sorted(doses.items()):
        for x in items:
            for f in x.flags:
                if f.startswith("NOT MAKEABLE"):
                    flagged.setdefault(f"{x.agent}: {f}", []).append(day)
    for text, days in flagged.items():
        out.append(
            PlanWarning(
                "not-makeable",
                f"{text} (D{days[0]}" + (f"-D{days[-1]}" if len(days) > 1 else "") + ")",
                "products.toml",
            )
        )
    if weight_kg is None and any("blinatumomab-under-45kg" in a.dose_rules for a in reg.agents):
        out.append(
            PlanWarning(
                "weight-missing",
                "Weight not recorded: blinatumomab doses assume ≥ 45 kg (fixed dose).",
                "BLINCYTO US PI, Dosage and Administration",
            )
        )
    if site_policy != "label" and any(c for c in comeds):
        table = load_interactions()
        p = table.policies[site_policy]
        out.append(
            PlanWarning("site-policy", f"Site policy {p.id!r}: {p.label}. {p.why}", p.source)
        )
    # Antihyperuricaemic cover should reach the day after venetoclax reaches its target dose.
    uric_days = [
        day
        for day, items in doses.items()
        for x in items
        if x.agent in ("allopurinol", "febuxostat")
    ]
    target_days = [
        day for day, items in doses.items() for x in items if x.agent == "venetoclax" and x.target
    ]
    if uric_days and target_days and max(uric_days) < min(target_days) + 1:
        out.append(
            PlanWarning(
                "tls-cover",
                f"Antihyperuricaemic ends D{max(uric_days)}, before 24 h after venetoclax reaches its "
                f"target dose (D{min(target_days) + 1}); the venetoclax label continues "
                "anti-hyperuricaemics through the ramp-up. Consider a longer course (uric_days).",
                "VENCLEXTA US PI (AML), TLS prophylaxis (venclextahcp.com, SECONDARY)",
            )
        )
    return out
