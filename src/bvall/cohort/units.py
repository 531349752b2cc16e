"""Units and conversions: one table for the whole package.

Unit spellings are in ``data/units.toml`` (exact aliases only); lab tests with their LOINC codes,
canonical units, accepted units and conversion factors in ``data/lab_tests.toml``. A unit that is
not listed is an error naming the accepted ones; it is never guessed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from bvall.errors import SpecError, UnknownNameError, UnknownUnitError, suggest

if TYPE_CHECKING:
    import pyarrow as pa


@cache
def _unit_aliases() -> dict[str, str]:
    path = resources.files("bvall.cohort") / "data" / "units.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for entry in raw["unit"]:
        canonical = entry["canonical"]
        for spelling in [canonical, *entry.get("aliases", [])]:
            if spelling in table and table[spelling] != canonical:
                raise SpecError(f"units.toml: {spelling!r} is an alias of two units.")
            table[spelling] = canonical
    return table


def known_units() -> tuple[str, ...]:
    """Every canonical unit spelling."""
    return tuple(sorted(set(_unit_aliases().values())))


def normalize_unit(unit: str) -> str:
    """The canonical spelling of ``unit``; :class:`UnknownUnitError` if it is not listed."""
    table = _unit_aliases()
    key = unit.strip()
    if key in table:
        return table[key]
    raise UnknownUnitError(
        f"Unit {unit!r} is not known{suggest(key, list(table))} "
        f"Known units: {', '.join(known_units())}."
    )


@dataclass(frozen=True)
class LabTest:
    """A laboratory test: LOINC code, canonical unit, accepted units and plausibility range."""

    code: str
    name: str
    loinc: str
    loinc_name: str
    canonical_unit: str
    factors: dict[str, float]  # canonical spelling of an accepted unit -> factor to canonical
    plausible: tuple[float, float]  # in the canonical unit

    @property
    def accepted_units(self) -> tuple[str, ...]:
        return tuple(self.factors)

    def factor(self, unit: str) -> float:
        """Factor converting a value in ``unit`` to the canonical unit."""
        try:
            canonical = normalize_unit(unit)
        except UnknownUnitError:
            canonical = None
        if canonical is None or canonical not in self.factors:
            raise UnknownUnitError(
                f"Unit {unit!r} is not accepted for {self.name} ({self.code}, LOINC {self.loinc}); "
                f"expected one of {', '.join(self.accepted_units)}."
            )
        return self.factors[canonical]

    def to_canonical(self, value: float, unit: str) -> float:
        """``value`` in ``unit`` expressed in the canonical unit."""
        return value * self.factor(unit)

    def from_canonical(self, value: float, unit: str) -> float:
        """A canonical-unit ``value`` expressed in ``unit``."""
        return value / self.factor(unit)

    def convert(self, value: float, from_unit: str, to_unit: str) -> float:
        """``value`` in ``from_unit`` expressed in ``to_unit`` (through the canonical unit)."""
        return self.from_canonical(self.to_canonical(value, from_unit), to_unit)


@cache
def load_lab_tests() -> dict[str, LabTest]:
    """All lab tests by code (data in ``data/lab_tests.toml``)."""
    path = resources.files("bvall.cohort") / "data" / "lab_tests.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[str, LabTest] = {}
    for entry in raw["test"]:
        code = entry["code"]
        factors: dict[str, float] = {}
        for unit, factor in entry["units"].items():
            factors[normalize_unit(unit)] = float(factor)
        canonical = normalize_unit(entry["canonical_unit"])
        if factors.get(canonical) != 1.0:
            raise SpecError(f"lab_tests.toml: {code}: the canonical unit must have factor 1.0.")
        low, high = entry["plausible"]
        if code in out:
            raise SpecError(f"lab_tests.toml: test {code!r} is listed twice.")
        out[code] = LabTest(
            code=code,
            name=entry["name"],
            loinc=entry["loinc"],
            loinc_name=entry["loinc_name"],
            canonical_unit=canonical,
            factors=factors,
            plausible=(float(low), float(high)),
        )
    return out


def lab_test(code: str) -> LabTest:
    """The lab test with this code; :class:`UnknownNameError` names the known ones."""
    tests = load_lab_tests()
    if code not in tests:
        raise UnknownNameError(
            f"Lab test {code!r} is not known{suggest(code, list(tests))} "
            f"Known tests: {', '.join(tests)}."
        )
    return tests[code]


def unit_factor_table() -> pa.Table:
    """Every (test, unit spelling) pair with its factor to the test's canonical unit.

    A small table meant to be joined to the labs table inside a query engine (DuckDB/Ibis), so
    conversion runs at cohort scale without Python loops. Spellings include every alias.
    """
    # Arrow is the query engine's format, imported here: the rest of this module (unit lookups
    # for regimen specs, forms and `bvall plan`) must not load it (about 0.2 s).
    import pyarrow as pa

    rows: dict[str, list[object]] = {"test": [], "unit": [], "factor": [], "canonical_unit": []}
    aliases = _unit_aliases()
    for test in load_lab_tests().values():
        for spelling, canonical in aliases.items():
            if canonical in test.factors:
                rows["test"].append(test.code)
                rows["unit"].append(spelling)
                rows["factor"].append(test.factors[canonical])
                rows["canonical_unit"].append(test.canonical_unit)
    return pa.table(
        rows,
        schema=pa.schema(
            [
                ("test", pa.string()),
                ("unit", pa.string()),
                ("factor", pa.float64()),
                ("canonical_unit", pa.string()),
            ]
        ),
    )
