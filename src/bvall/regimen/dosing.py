"""Dose rules applied to a planned dose: venetoclax with CYP3A/P-gp inhibitors, blinatumomab
under 45 kg, doses per m² BSA, and whole-tablet checks.

Each rule is data (``data/rules/*.toml``) with its source; this module only evaluates them. A
rule never raises a dose; every changed dose names the rule and its source; a dose that cannot be
given with whole tablets is flagged, never rounded.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from bvall.errors import InputError, SpecError
from bvall.regimen.bsa import format_bsa
from bvall.regimen.interactions import (
    CLASSES,
    Comedication,
    InteractionRule,
    classify_inhibitor,
    load_interactions,
    rules_for,
)
from bvall.regimen.tablets import compute_tablets, load_products


@dataclass(frozen=True)
class WeightRule:
    id: str
    agent: str
    below_kg: float
    label: str
    per_m2: Mapping[float, tuple[float, str]]  # fixed dose -> (dose per m², source)
    source: str


@cache
def load_weight_rules() -> dict[str, WeightRule]:
    """Weight-band rules (``data/rules/blinatumomab_weight.toml``) by id."""
    path = resources.files("bvall.regimen") / "data" / "rules" / "blinatumomab_weight.toml"
    raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    out = {}
    for r in raw["rule"]:
        if not r.get("source") or not all(m.get("source") for m in r["map"]):
            raise SpecError(
                f"blinatumomab_weight.toml: rule {r.get('id')!r}: every entry needs a source."
            )
        out[r["id"]] = WeightRule(
            id=r["id"],
            agent=r["agent"],
            below_kg=float(r["below_kg"]),
            label=r["label"],
            per_m2={float(m["fixed"]): (float(m["per_m2"]), m["source"]) for m in r["map"]},
            source=r["source"],
        )
    return out


@dataclass(frozen=True)
class PatientContext:
    """What the dose rules need to know about one patient and plan."""

    weight_kg: float | None
    bsa_m2: float | None
    comedications: tuple[Comedication, ...] = ()
    site_policy: str = "label"
    resume_after_days: int = 3
    bsa_decimals: int | None = 2
    settings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DoseDecision:
    """A dose after the rules: value (``None`` when it cannot be computed), the rule that changed
    it (``None`` when none did), the source of the final value, how it was computed, flags."""

    dose: float | None
    source: str
    rule: str | None = None
    rule_id: str | None = None
    basis: str | None = None
    flags: tuple[str, ...] = ()
    tablets: str | None = None


def _clean(x: float) -> float:
    # Doses are shown to a pharmacist: strip float noise such as 6.450000000000001.
    return float(round(x, 6))


def decide_dose(
    *,
    agent: str,
    unit: str,
    base: float | None,
    per_m2: bool,
    base_source: str,
    dose_rules: Sequence[str],
    product: str | None,
    day: int,
    ramp_day: int | None,
    ctx: PatientContext,
) -> DoseDecision:
    """Apply an agent's dose rules to the spec dose ``base`` on study ``day``.

    ``ramp_day`` counts days from the agent's first planned dose (1 = first dose); the venetoclax
    inhibitor ramps are indexed by it. ``per_m2`` multiplies ``base`` by BSA (m²).
    """
    flags: list[str] = []
    if base is None:
        return DoseDecision(None, base_source)
    dose: float | None = base
    basis = None
    rule = rule_id = None
    source = base_source
    if per_m2:
        per_unit = unit.replace("/day", "")
        if ctx.bsa_m2 is None:
            return DoseDecision(
                None,
                base_source,
                flags=(f"{base:g} {per_unit}/m² needs weight and height (BSA) to compute",),
            )
        dose = _clean(base * ctx.bsa_m2)
        per_day = "/day" if unit.endswith("/day") else ""
        basis = f"{base:g} {per_unit}/m²{per_day} × {format_bsa(ctx.bsa_m2, ctx.bsa_decimals)} m²"
    if "blinatumomab-under-45kg" in dose_rules and dose is not None:
        wr = load_weight_rules()["blinatumomab-under-45kg"]
        if ctx.weight_kg is None:
            flags.append(
                f"weight not recorded: {base:g} {unit} assumes ≥ {wr.below_kg:g} kg "
                f"(fixed dose); below {wr.below_kg:g} kg the dose is per m² ({wr.id})"
            )
        elif ctx.weight_kg < wr.below_kg:
            if base not in wr.per_m2:
                raise SpecError(
                    f"{wr.id}: no per-m² equivalent of {base:g} {unit}; the rule maps "
                    f"{', '.join(f'{k:g}' for k in wr.per_m2)}."
                )
            per, src = wr.per_m2[base]
            if ctx.bsa_m2 is None:
                return DoseDecision(
                    None, src, flags=("< 45 kg dose needs height (BSA) to compute",)
                )
            raw = _clean(per * ctx.bsa_m2)
            dose = min(raw, base)
            capped = raw > base
            bsa = format_bsa(ctx.bsa_m2, ctx.bsa_decimals)
            basis = f"{per:g} µg/m²/day × {bsa} m² = {raw:g} µg/day" + (
                f", capped at the fixed dose {base:g} µg/day" if capped else ""
            )
            rule, rule_id, source = (
                f"weight {ctx.weight_kg:g} kg < {wr.below_kg:g} kg: {per:g} µg/m²/day, not above "
                f"{base:g} µg/day",
                wr.id,
                src,
            )
    if "venetoclax-interactions" in dose_rules and dose is not None:
        adj = _venetoclax_inhibition(dose, day, ramp_day, ctx)
        if adj is not None:
            new, rule, rule_id, source, note = adj
            flags.extend(note)
            if new < dose:
                basis = f"protocol dose {dose:g} {unit}" + (f" ({basis})" if basis else "")
                dose = new
            else:
                rule = rule_id = None
                source = base_source
    tablets = None
    if product is not None and dose is not None:
        prod = load_products()[product]
        check = compute_tablets(dose, prod.strengths)
        if check.makeable:
            tablets = check.describe(prod.unit)
        else:
            flags.append("NOT MAKEABLE: " + check.describe(prod.unit))
    return DoseDecision(
        dose=None if dose is None else _clean(dose),
        source=source,
        rule=rule,
        rule_id=rule_id,
        basis=basis,
        flags=tuple(flags),
        tablets=tablets,
    )


def _venetoclax_inhibition(
    dose: float, day: int, ramp_day: int | None, ctx: PatientContext
) -> tuple[float, str, str, str, list[str]] | None:
    """The most restrictive inhibitor rule active on ``day``, or ``None`` when none is."""
    table = load_interactions()
    policy = table.policies[ctx.site_policy]
    best: tuple[float, str, str, str, list[str]] | None = None
    active = []
    for com in ctx.comedications:
        # The reduction runs from the first inhibitor day until the pre-inhibitor dose resumes
        # `resume_after_days` after the last inhibitor day (label: 2-3 days).
        end = None if com.end_day is None else com.end_day + ctx.resume_after_days - 1
        if not Comedication(com.drug, com.start_day, end).active(day):
            continue
        name, classes = classify_inhibitor(com.drug, ctx.settings)
        if not classes:
            continue
        active.append(name)
        for r in rules_for(classes, name):
            new, label = _apply_rule(r, dose, ramp_day, policy.overrides)
            text = label
            if com.end_day is not None and day > com.end_day:
                text += (
                    f" (inhibitor stopped D{com.end_day}; pre-inhibitor dose resumes "
                    f"D{com.end_day + ctx.resume_after_days})"
                )
            source = r.source + (
                f"; site policy {policy.id!r}: {policy.source}" if r.id in policy.overrides else ""
            )
            if best is None or new < best[0]:
                best = (new, text, r.id, source, [])
    if best is not None and len(set(active)) > 1:
        best[4].append(
            f"several interacting drugs at once ({', '.join(sorted(set(active)))}): the label "
            "gives no rule for combinations; bvall applies the most restrictive one. Review."
        )
    return best


def _apply_rule(
    r: InteractionRule,
    dose: float,
    ramp_day: int | None,
    overrides: Mapping[str, tuple[tuple[float, ...], str]],
) -> tuple[float, str]:
    ramp, label = r.ramp, r.label
    if r.id in overrides:
        ramp, label = overrides[r.id]
    if ramp:
        k = 1 if ramp_day is None else ramp_day
        cap = ramp[min(k, len(ramp)) - 1]
        return min(dose, cap), label
    assert r.factor is not None
    return dose * r.factor, label


def check_inhibitors(
    comedications: Sequence[Comedication], settings: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """Warnings for the co-medication list: (code, message, source). Unknown drugs raise."""
    table = load_interactions()
    out = []
    for com in comedications:
        name, classes = classify_inhibitor(com.drug, settings)
        found = table.lookup(name)
        if not classes:
            assert found is not None
            assert not hasattr(found, "classes")
            out.append(
                (
                    "avoid",
                    f"AVOID {name}: {getattr(found, 'reason', '')}. No dose rule exists; choose "
                    "an alternative.",
                    getattr(found, "source", ""),
                )
            )
            continue
        drug = table.drugs[name]
        if drug.conflict is not None:
            c = drug.conflict
            value = settings.get(c.setting, c.default)
            alts = "; ".join(f"{v}: {s}" for v, (_, s) in c.alternatives.items())
            out.append(
                (
                    "source-conflict",
                    f"{name}: sources disagree on its CYP3A class. Using {value!r} (setting "
                    f"{c.setting}; default {c.default!r}: {c.why_default}) Alternatives: {alts}",
                    drug.source,
                )
            )
        out.append(
            (
                "interaction",
                f"{name} is a {' and '.join(CLASSES[c] for c in classes)}; the "
                "label advises considering an alternative first.",
                drug.source,
            )
        )
    return out


def check_resume_days(days: int) -> int:
    lo, hi = load_interactions().resume_range
    if not isinstance(days, int) or not lo <= days <= hi:
        raise InputError(
            f"resume_after_days {days!r} is not accepted; the label says {lo} to {hi} days "
            "after the inhibitor stops."
        )
    return days
