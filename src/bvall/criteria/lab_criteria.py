"""The CTCAE v5.0 laboratory criteria as a checked model (data in ``data/ctcae_v5_labs.toml``).

:func:`load_lab_criteria` reads the file and refuses it whole when a row is malformed: unknown or
missing keys, an unknown term, test or unit, a comparator that points the wrong way for the term's
direction, ``requires`` that do not match what the conditions read, duplicate rows, or thresholds
that are not monotone across grades (grade 4 must be the most extreme).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from bvall.cohort.units import lab_test
from bvall.cohort.vocab import vocabulary
from bvall.criteria.rules import RuleFile, check_row, check_unique, load_rule_file, parse_when
from bvall.errors import SpecError, UnknownNameError, UnknownUnitError, suggest

#: What each basis compares and which inputs it needs.
BASES: dict[str, tuple[str, ...]] = {
    "absolute": ("value",),
    "uln": ("value", "ULN"),
    "lln": ("value", "LLN"),
    "baseline": ("value", "baseline"),
    "pct_change": ("value", "baseline"),
    "baseline_above_uln": ("baseline", "baseline ULN"),
    "potassium_replacement": ("potassium replacement",),
}
FLAG_BASES = ("baseline_above_uln", "potassium_replacement")
NUMERIC_COMPARATORS = ("<", "<=", ">", ">=")
FLAG_COMPARATORS = ("is_true", "is_false")
GRADED_VALUES = ("measured", "albumin_corrected")

_CRITERION_KEYS: dict[str, type | tuple[type, ...]] = {
    "term": str,
    "grade": int,
    "direction": str,
    "published": str,
    "comparator": str,
    "value": (int, float),
    "basis": str,
    "requires": list,
    "source": str,
}
_CRITERION_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "clause": str,
    "unit": str,
    "and": list,
    "comment": str,
    "when": str,
}
_TERM_KEYS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "term": str,
    "test": str,
    "label": str,
    "direction": str,
    "display_unit": str,
    "max_lab_grade": int,
    "definition": str,
}


@dataclass(frozen=True)
class Condition:
    """One comparison: ``value`` ``comparator`` ``threshold``, where the threshold is ``value``
    on ``basis`` (absolute in ``unit``, a multiple of ULN/LLN/baseline, a percent change, or a
    yes/no input)."""

    basis: str
    comparator: str
    value: float | None = None
    unit: str | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        return BASES[self.basis]

    @property
    def is_flag(self) -> bool:
        return self.basis in FLAG_BASES


@dataclass(frozen=True)
class Criterion:
    """One row: a clause of one grade of one term (all its conditions must hold)."""

    term: str
    grade: int
    clause: str
    direction: str
    published: str
    conditions: tuple[Condition, ...]  # the first is the threshold; the rest are guards
    requires: tuple[str, ...]
    source: str
    comment: str
    when: tuple[str, str] | None
    file_id: str

    @property
    def threshold(self) -> Condition:
        return self.conditions[0]

    @property
    def guards(self) -> tuple[Condition, ...]:
        return self.conditions[1:]

    @property
    def rule_id(self) -> str:
        suffix = f".{self.clause}" if self.clause else ""
        return f"{self.file_id}.{self.term}.g{self.grade}{suffix}"

    def applies(self, settings: Any) -> bool:
        """Whether the row is in force under ``settings`` (rows without ``when`` always are)."""
        if self.when is None:
            return True
        name, value = self.when
        return str(getattr(settings, name)) == value


@dataclass(frozen=True)
class LabTerm:
    """A CTCAE term graded from one lab test."""

    id: str
    term: str
    test: str
    label: str
    direction: str
    display_unit: str
    max_lab_grade: int
    definition: str
    comment: str
    graded_value: str
    criteria: tuple[Criterion, ...]

    @property
    def canonical_unit(self) -> str:
        return lab_test(self.test).canonical_unit

    def in_force(self, settings: Any) -> tuple[Criterion, ...]:
        """The rows that apply under ``settings``, most severe grade first."""
        rows = [c for c in self.criteria if c.applies(settings)]
        return tuple(sorted(rows, key=lambda c: -c.grade))


@dataclass(frozen=True)
class TermGroup:
    """A reported grouping of terms (e.g. 'Transaminases increased' = worst of ALT and AST)."""

    id: str
    term: str
    members: tuple[str, ...]
    comment: str
    source: str


@dataclass(frozen=True)
class LabCriteria:
    """The whole lab criteria file."""

    file: RuleFile
    terms: Mapping[str, LabTerm]
    groups: Mapping[str, TermGroup]

    @property
    def rule_version(self) -> str:
        return self.file.rule_version

    @property
    def system(self) -> str:
        return self.file.system

    def term(self, term_id: str) -> LabTerm:
        if term_id not in self.terms:
            raise UnknownNameError(
                f"{term_id!r} is not a graded lab term{suggest(term_id, list(self.terms))} "
                f"Terms: {', '.join(self.terms)}."
            )
        return self.terms[term_id]

    def terms_for_test(self, test: str) -> tuple[LabTerm, ...]:
        return tuple(t for t in self.terms.values() if t.test == test)


def _condition(raw: Mapping[str, Any], where: str, test: str) -> Condition:
    basis = raw.get("basis")
    if basis not in BASES:
        raise SpecError(
            f"{where}: basis {basis!r} is not known{suggest(str(basis), list(BASES))} "
            f"Bases: {', '.join(BASES)}."
        )
    comparator = raw.get("comparator")
    if basis in FLAG_BASES:
        if comparator not in FLAG_COMPARATORS:
            raise SpecError(f"{where}: basis {basis} needs comparator is_true or is_false.")
        if "value" in raw or raw.get("unit"):
            raise SpecError(f"{where}: basis {basis} takes no value or unit.")
        return Condition(basis, comparator)
    if comparator not in NUMERIC_COMPARATORS:
        raise SpecError(
            f"{where}: comparator {comparator!r} is not one of {', '.join(NUMERIC_COMPARATORS)}."
        )
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{where}: value = {value!r} is not a number.")
    unit = raw.get("unit") or None
    if basis == "absolute":
        if unit is None:
            raise SpecError(f"{where}: an absolute threshold needs a unit.")
        try:
            lab_test(test).factor(unit)
        except UnknownUnitError as exc:
            raise SpecError(f"{where}: {exc}") from None
    elif basis == "pct_change":
        if unit not in (None, "%"):
            raise SpecError(f"{where}: a percent change takes unit '%', not {unit!r}.")
        unit = "%"
    elif unit is not None:
        raise SpecError(f"{where}: a threshold on basis {basis} takes no unit (got {unit!r}).")
    elif value <= 0:
        raise SpecError(f"{where}: a multiple of {basis} must be positive (got {value!r}).")
    return Condition(basis, comparator, float(value), unit)


def _check_monotone(term: LabTerm, where: str) -> None:
    groups: dict[tuple[Any, ...], list[Criterion]] = defaultdict(list)
    for c in term.criteria:
        t = c.threshold
        groups[(c.when, c.guards, t.basis, t.unit)].append(c)
    for rows in groups.values():
        rows.sort(key=lambda c: -c.grade)
        for worse, milder in itertools.pairwise(rows):
            a, b = worse.threshold.value, milder.threshold.value
            assert a is not None
            assert b is not None
            # Direction L: grade 4 has the lowest threshold; H: the highest.
            ok = a < b if term.direction == "L" else a > b
            if worse.grade == milder.grade or not ok:
                raise SpecError(
                    f"{where}: thresholds of {term.id} are not monotone: grade {worse.grade} "
                    f"{worse.threshold.comparator} {a:g} ({worse.threshold.basis}) vs grade "
                    f"{milder.grade} {milder.threshold.comparator} {b:g}."
                )


def _build(file: RuleFile) -> LabCriteria:
    ae_terms = vocabulary("ae_term")
    raw_terms = file.rows("term")
    check_unique(raw_terms, lambda r: r.get("id"), f"{file.id}.toml [[term]]")
    shapes: dict[str, dict[str, Any]] = {}
    for i, t in enumerate(raw_terms):
        where = f"{file.id}.toml [[term]] row {i + 1}"
        check_row(t, where, _TERM_KEYS, {"comment": str, "graded_value": str})
        if t["term"] not in ae_terms:
            raise SpecError(f"{where}: term {t['term']!r} is not in the ae_term vocabulary.")
        try:
            lab_test(t["test"])
        except UnknownNameError as exc:
            raise SpecError(f"{where}: {exc}") from None
        if t["direction"] not in ("L", "H"):
            raise SpecError(f"{where}: direction must be 'L' or 'H', not {t['direction']!r}.")
        if t.get("graded_value", "measured") not in GRADED_VALUES:
            raise SpecError(f"{where}: graded_value must be one of {', '.join(GRADED_VALUES)}.")
        if not 1 <= t["max_lab_grade"] <= 4:
            raise SpecError(f"{where}: max_lab_grade must be 1-4.")
        shapes[t["id"]] = dict(t)
    rows: dict[str, list[Criterion]] = defaultdict(list)
    raw_criteria = file.rows("criterion")
    check_unique(
        raw_criteria,
        lambda r: (r.get("term"), r.get("grade"), r.get("clause", ""), r.get("when", "")),
        f"{file.id}.toml [[criterion]]",
    )
    for i, r in enumerate(raw_criteria):
        where = f"{file.id}.toml [[criterion]] row {i + 1} ({r.get('term')} grade {r.get('grade')})"
        check_row(r, where, _CRITERION_KEYS, _CRITERION_OPTIONAL)
        shape = shapes.get(r["term"])
        if shape is None:
            raise SpecError(
                f"{where}: term {r['term']!r} has no [[term]] row{suggest(r['term'], list(shapes))}"
            )
        if r["direction"] != shape["direction"]:
            raise SpecError(f"{where}: direction {r['direction']!r} differs from the term's.")
        if not 1 <= r["grade"] <= shape["max_lab_grade"]:
            raise SpecError(
                f"{where}: grade {r['grade']} is outside 1-{shape['max_lab_grade']} for this term."
            )
        threshold = _condition(r, where, shape["test"])
        if threshold.is_flag:
            raise SpecError(f"{where}: the threshold of a row cannot be a yes/no input.")
        wrong = ("<", "<=") if shape["direction"] == "H" else (">", ">=")
        if threshold.comparator in wrong:
            raise SpecError(
                f"{where}: comparator {threshold.comparator!r} points the wrong way for a "
                f"{'high' if shape['direction'] == 'H' else 'low'} term."
            )
        guards = tuple(
            _condition(g, f"{where} and[{j + 1}]", shape["test"])
            for j, g in enumerate(r.get("and", []))
        )
        conditions = (threshold, *guards)
        implied = {i for c in conditions for i in c.inputs}
        if shape.get("graded_value") == "albumin_corrected":
            implied.add("albumin")
        if set(r["requires"]) != implied:
            raise SpecError(
                f"{where}: requires = {sorted(r['requires'])} but the conditions read "
                f"{sorted(implied)}."
            )
        when = parse_when(r["when"], where) if r.get("when") else None
        rows[r["term"]].append(
            Criterion(
                term=r["term"],
                grade=r["grade"],
                clause=r.get("clause", ""),
                direction=r["direction"],
                published=r["published"],
                conditions=conditions,
                requires=tuple(r["requires"]),
                source=r["source"],
                comment=r.get("comment", ""),
                when=when,
                file_id=file.id,
            )
        )
    terms: dict[str, LabTerm] = {}
    for term_id, t in shapes.items():
        if not rows[term_id]:
            raise SpecError(f"{file.id}.toml: term {term_id!r} has no [[criterion]] rows.")
        term = LabTerm(
            id=term_id,
            term=t["term"],
            test=t["test"],
            label=t["label"],
            direction=t["direction"],
            display_unit=t["display_unit"],
            max_lab_grade=t["max_lab_grade"],
            definition=t["definition"],
            comment=t.get("comment", ""),
            graded_value=t.get("graded_value", "measured"),
            criteria=tuple(rows[term_id]),
        )
        _check_monotone(term, f"{file.id}.toml")
        terms[term_id] = term
    groups: dict[str, TermGroup] = {}
    for i, g in enumerate(file.rows("group")):
        where = f"{file.id}.toml [[group]] row {i + 1}"
        check_row(
            g, where, {"id": str, "term": str, "members": list, "source": str}, {"comment": str}
        )
        unknown = [m for m in g["members"] if m not in terms]
        if unknown:
            raise SpecError(f"{where}: members {unknown} are not terms of this file.")
        if g["term"] not in ae_terms:
            raise SpecError(f"{where}: term {g['term']!r} is not in the ae_term vocabulary.")
        groups[g["id"]] = TermGroup(
            g["id"], g["term"], tuple(g["members"]), g.get("comment", ""), g["source"]
        )
    return LabCriteria(file=file, terms=terms, groups=groups)


@cache
def load_lab_criteria() -> LabCriteria:
    """The CTCAE v5.0 lab criteria, checked (:class:`~bvall.errors.SpecError` if malformed)."""
    return _build(load_rule_file("ctcae_v5_labs"))


def build_lab_criteria(file: RuleFile) -> LabCriteria:
    """Check and build lab criteria from an already-read file (tests feed broken files here)."""
    return _build(file)
