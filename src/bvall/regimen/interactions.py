"""Venetoclax and interacting co-medication: which drug is which class, and its dose rule.

Data: ``data/rules/venetoclax_interactions.toml`` (classes per drug with sources, the class
rules, site policies, drugs to avoid). :func:`classify_inhibitor` names a drug's classes;
:func:`parse_comedication` reads ``posaconazole`` or ``posaconazole:-2..10`` (study days, both
inclusive) into a :class:`Comedication`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bvall.errors import InputError, SpecError, UnknownNameError, suggest

CLASSES = {
    "cyp3a_strong": "strong CYP3A inhibitor",
    "cyp3a_moderate": "moderate CYP3A inhibitor",
    "pgp": "P-gp inhibitor",
}


@dataclass(frozen=True)
class InteractionRule:
    """What a class (or a named drug) does to the venetoclax dose: a ramp by ramp-up day whose
    last value is the steady dose, or a factor of the planned dose."""

    id: str
    label: str
    source: str
    status: str
    drugs: tuple[str, ...] = ()
    drug_class: str | None = None
    ramp: tuple[float, ...] = ()
    factor: float | None = None


@dataclass(frozen=True)
class Conflict:
    setting: str
    default: str
    alternatives: Mapping[str, tuple[tuple[str, ...], str]]  # value -> (classes, source)
    why_default: str


@dataclass(frozen=True)
class InteractingDrug:
    name: str
    classes: tuple[str, ...]
    source: str
    status: str
    aliases: tuple[str, ...] = ()
    antifungal: bool = False
    conflict: Conflict | None = None


@dataclass(frozen=True)
class AvoidDrug:
    name: str
    reason: str
    source: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    id: str
    label: str
    source: str
    why: str
    overrides: Mapping[str, tuple[tuple[float, ...], str]]  # rule id -> (ramp, label)


@dataclass(frozen=True)
class InteractionTable:
    source: str
    rules: tuple[InteractionRule, ...]
    drugs: Mapping[str, InteractingDrug]
    avoid: Mapping[str, AvoidDrug]
    policies: Mapping[str, Policy]
    resume_default: int
    resume_range: tuple[int, int]
    resume_why: str
    resume_source: str

    def lookup(self, name: str) -> InteractingDrug | AvoidDrug | None:
        key = name.strip().lower()
        drugs: list[InteractingDrug | AvoidDrug] = [*self.drugs.values(), *self.avoid.values()]
        for d in drugs:
            if key == d.name or key in d.aliases:
                return d
        return None

    def names(self) -> list[str]:
        return sorted(self.drugs) + sorted(self.avoid)


@dataclass(frozen=True)
class Comedication:
    """An interacting drug given from ``start_day`` to ``end_day`` (study days, inclusive;
    ``None`` = from before the plan / to after it)."""

    drug: str
    start_day: int | None = None
    end_day: int | None = None

    def active(self, day: int) -> bool:
        return (self.start_day is None or day >= self.start_day) and (
            self.end_day is None or day <= self.end_day
        )

    def describe(self) -> str:
        if self.start_day is None and self.end_day is None:
            return f"{self.drug} (throughout)"
        a = "start" if self.start_day is None else f"D{self.start_day}"
        b = "end" if self.end_day is None else f"D{self.end_day}"
        return f"{self.drug} ({a} to {b})"


def _path() -> Any:
    return resources.files("bvall.regimen") / "data" / "rules" / "venetoclax_interactions.toml"


@cache
def load_interactions() -> InteractionTable:
    """The venetoclax interaction table; a malformed file raises :class:`SpecError`."""
    file = "venetoclax_interactions.toml"
    raw: dict[str, Any] = tomllib.loads(_path().read_text(encoding="utf-8"))
    rules = []
    for r in raw["rule"]:
        if not r.get("source") or ("ramp" in r) == ("factor" in r):
            raise SpecError(
                f"{file}: [[rule]] {r.get('id')!r} needs a source and one of ramp/factor."
            )
        if r.get("applies_to_class") and r["applies_to_class"] not in CLASSES:
            raise SpecError(
                f"{file}: [[rule]] {r['id']!r}: unknown class {r['applies_to_class']!r}."
            )
        rules.append(
            InteractionRule(
                id=r["id"],
                label=r["label"],
                source=r["source"],
                status=r.get("status", ""),
                drugs=tuple(r.get("applies_to_drugs", ())),
                drug_class=r.get("applies_to_class"),
                ramp=tuple(float(x) for x in r.get("ramp", ())),
                factor=r.get("factor"),
            )
        )
    drugs: dict[str, InteractingDrug] = {}
    for d in raw["drug"]:
        if not d.get("source") or not d.get("classes"):
            raise SpecError(f"{file}: [[drug]] {d.get('name')!r} needs classes and a source.")
        bad = [c for c in d["classes"] if c not in CLASSES]
        if bad:
            raise SpecError(f"{file}: [[drug]] {d['name']!r}: unknown class {bad[0]!r}.")
        conflict = None
        if "conflict" in d:
            c = d["conflict"]
            conflict = Conflict(
                setting=c["setting"],
                default=c["default"],
                alternatives={
                    a["value"]: (tuple(a["classes"]), a["source"]) for a in c["alternatives"]
                },
                why_default=c["why_default"],
            )
        drugs[d["name"]] = InteractingDrug(
            name=d["name"],
            classes=tuple(d["classes"]),
            source=d["source"],
            status=d.get("status", ""),
            aliases=tuple(a.lower() for a in d.get("aliases", ())),
            antifungal=bool(d.get("antifungal", False)),
            conflict=conflict,
        )
    avoid = {
        a["name"]: AvoidDrug(
            a["name"], a["reason"], a["source"], tuple(x.lower() for x in a.get("aliases", ()))
        )
        for a in raw.get("avoid", [])
    }
    rule_ids = {r.id for r in rules}
    policies: dict[str, Policy] = {}
    for p in raw["policy"]:
        overrides = {}
        for o in p.get("overrides", []):
            if o["rule"] not in rule_ids:
                raise SpecError(f"{file}: policy {p['id']!r} overrides unknown rule {o['rule']!r}.")
            overrides[o["rule"]] = (tuple(float(x) for x in o["ramp"]), o["label"])
        policies[p["id"]] = Policy(p["id"], p["label"], p["source"], p["why"], overrides)
    res = raw["resume"]
    return InteractionTable(
        source=raw["source"],
        rules=tuple(rules),
        drugs=drugs,
        avoid=avoid,
        policies=policies,
        resume_default=res["default_days"],
        resume_range=(res["min_days"], res["max_days"]),
        resume_why=res["why_default"],
        resume_source=res["source"],
    )


def site_policies() -> dict[str, str]:
    """Named site policies for venetoclax with inhibitors: id -> label."""
    return {p.id: p.label for p in load_interactions().policies.values()}


def interaction_settings() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Named settings for drugs whose class differs between sources: setting -> (default,
    accepted values)."""
    out = {}
    for d in load_interactions().drugs.values():
        if d.conflict:
            out[d.conflict.setting] = (
                d.conflict.default,
                (d.conflict.default, *d.conflict.alternatives),
            )
    return out


def classify_inhibitor(
    drug: str, settings: Mapping[str, str] | None = None
) -> tuple[str, tuple[str, ...]]:
    """The canonical name and the classes (``cyp3a_strong``, ``cyp3a_moderate``, ``pgp``) of an
    interacting drug; a drug to avoid has no classes. Unknown names are an error listing the
    accepted ones."""
    table = load_interactions()
    found = table.lookup(drug)
    if found is None:
        names = table.names()
        raise UnknownNameError(
            f"inhibitor {drug!r} is not known{suggest(drug.strip().lower(), names)} Accepted: "
            f"{', '.join(names)}."
        )
    if isinstance(found, AvoidDrug):
        return found.name, ()
    classes = found.classes
    if found.conflict is not None:
        value = (settings or {}).get(found.conflict.setting, found.conflict.default)
        if value == found.conflict.default:
            classes = found.classes
        elif value in found.conflict.alternatives:
            classes = found.conflict.alternatives[value][0]
        else:
            accepted = [found.conflict.default, *found.conflict.alternatives]
            raise InputError(
                f"setting {found.conflict.setting}={value!r} is not accepted; expected one of "
                f"{', '.join(accepted)}."
            )
    return found.name, classes


_COMED = re.compile(r"^\s*(?P<drug>[^:]+?)\s*(?::\s*(?P<a>-?\d+)?\s*\.\.\s*(?P<b>-?\d+)?\s*)?$")


def parse_comedication(value: str | Comedication) -> Comedication:
    """``posaconazole`` (throughout) or ``posaconazole:-2..10`` (study days D-2 to D10)."""
    if isinstance(value, Comedication):
        return value
    m = _COMED.match(value) if isinstance(value, str) else None
    if not m:
        raise InputError(
            f"co-medication {value!r} is not understood; expected a drug name, optionally with "
            "study days, e.g. 'posaconazole' or 'posaconazole:-2..10'."
        )
    a, b = m.group("a"), m.group("b")
    start = int(a) if a is not None else None
    end = int(b) if b is not None else None
    if start is not None and end is not None and end < start:
        raise InputError(
            f"co-medication {value!r}: the last day {end} is before the first {start}."
        )
    return Comedication(m.group("drug").strip().lower(), start, end)


def rules_for(classes: Sequence[str], drug: str) -> list[InteractionRule]:
    """The class rules that apply to a drug; a drug-specific rule replaces its class rule."""
    table = load_interactions()
    specific = [r for r in table.rules if drug in r.drugs]
    out = list(specific)
    for r in table.rules:
        if r.drug_class in classes and not (specific and r.drug_class == "cyp3a_strong"):
            out.append(r)
    return out
