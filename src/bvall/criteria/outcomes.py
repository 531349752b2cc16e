"""Binary outcome definitions (``endpoints.toml`` ``[[outcome]]``) and their evaluation.

One definition per clinical meaning ("CR with MRD negativity" is ``cr_mrd_negative``: best
response CR and an MRD-negative induction marrow), read by the analysis tables and by trial
monitoring, so a number cannot differ between them. Each outcome is evaluated on a row of
``derive(cohort, "endpoints")`` and answers yes, no or not evaluable, with the reason when not
evaluable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from bvall.criteria.rules import check_row, check_unique, load_rule_file
from bvall.errors import SpecError, UnknownNameError, suggest

OutcomeKind = Literal["efficacy", "toxicity"]


@dataclass(frozen=True)
class OutcomeDefinition:
    """One binary outcome: efficacy (``responses``, ``mrd_negative``) or toxicity (``grades``
    reaching ``min_grade``), with its published definition and source."""

    name: str
    kind: OutcomeKind
    label: str
    definition: str
    source: str
    responses: tuple[str, ...] = ()
    mrd_negative: bool = False
    grades: tuple[str, ...] = ()
    min_grade: int = 0

    def describe(self) -> str:
        """The definition with its source, for pages and the monitoring record."""
        return f"{self.name}: {self.definition} Source: {self.source}"


@dataclass(frozen=True)
class OutcomeValue:
    """An outcome of one patient: ``value`` True/False, or None with ``reason`` (pending)."""

    value: bool | None
    reason: str = ""


@cache
def load_outcome_definitions() -> dict[str, OutcomeDefinition]:
    """Every ``[[outcome]]`` of ``endpoints.toml``, by name (shape-checked)."""
    rows = load_rule_file("endpoints").tables.get("outcome", ())
    check_unique(rows, lambda r: r["name"], "endpoints.toml [[outcome]]")
    out: dict[str, OutcomeDefinition] = {}
    for i, r in enumerate(rows):
        where = f"endpoints.toml [[outcome]] row {i + 1}"
        check_row(
            r,
            where,
            {"name": str, "kind": str, "label": str, "definition": str, "source": str},
            {"responses": list, "mrd_negative": bool, "grades": list, "min_grade": int},
        )
        if r["kind"] not in ("efficacy", "toxicity"):
            raise SpecError(f"{where}: kind = {r['kind']!r}; expected efficacy or toxicity.")
        if r["kind"] == "efficacy" and not r.get("responses"):
            raise SpecError(f"{where}: an efficacy outcome needs responses.")
        if r["kind"] == "toxicity" and (not r.get("grades") or "min_grade" not in r):
            raise SpecError(f"{where}: a toxicity outcome needs grades and min_grade.")
        out[r["name"]] = OutcomeDefinition(
            name=r["name"],
            kind=r["kind"],
            label=r["label"],
            definition=r["definition"],
            source=r["source"],
            responses=tuple(r.get("responses", ())),
            mrd_negative=bool(r.get("mrd_negative", False)),
            grades=tuple(r.get("grades", ())),
            min_grade=int(r.get("min_grade", 0)),
        )
    return out


def outcome_definition(name: str, kind: OutcomeKind | None = None) -> OutcomeDefinition:
    """The outcome ``name`` (of ``kind`` when given), or an error listing the known ones."""
    defs = load_outcome_definitions()
    known = [n for n, d in defs.items() if kind is None or d.kind == kind]
    if name not in known:
        raise UnknownNameError(
            f"{name!r} is not a{'n ' + kind if kind else ''} outcome of endpoints.toml"
            f"{suggest(name, known)} Known: {', '.join(known)}."
        )
    return defs[name]


def _missing(v: Any) -> bool:
    # pandas frames give NaN / NA for a missing cell; Arrow rows give None
    return v is None or v != v or str(v) in ("<NA>", "nan", "NaT")


def classify_outcome(definition: OutcomeDefinition, endpoints: Mapping[str, Any]) -> OutcomeValue:
    """Evaluate ``definition`` on one patient's endpoint row (see the module docstring)."""
    if definition.kind == "efficacy":
        best = endpoints.get("best_response")
        if _missing(best):
            return OutcomeValue(None, "no response assessment yet (best response missing)")
        if best not in definition.responses:
            return OutcomeValue(False)
        if not definition.mrd_negative:
            return OutcomeValue(True)
        mrd = endpoints.get("mrd_negative")
        if _missing(mrd):
            return OutcomeValue(None, f"best response {best}; MRD result missing")
        return OutcomeValue(bool(mrd))
    grades: dict[str, Any] = {c: endpoints.get(c) for c in definition.grades}
    if any(not _missing(g) and float(g) >= definition.min_grade for g in grades.values()):
        return OutcomeValue(True)
    missing = [c for c, g in grades.items() if _missing(g)]
    if missing:
        return OutcomeValue(
            None, f"{', '.join(missing)} missing (no observations to grade from, none reported)"
        )
    return OutcomeValue(False)
