"""LOINC codes and UCUM units of a FHIR lab feed, mapped to bvall's lab tests and units.

The map is data (``cohort/data/loinc_map.toml``): each LOINC code with its long common name and
the bvall test it reports; each UCUM code with the bvall unit spelling it means. A code that is
not listed is not used by bvall; it is never guessed from its name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bvall.cohort.units import load_lab_tests, normalize_unit
from bvall.errors import SpecError

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class LoincCode:
    """One LOINC code bvall reads: its long common name and the bvall test it reports."""

    loinc: str
    long_name: str
    test: str


@dataclass(frozen=True)
class CodeMap:
    """The LOINC → test and UCUM → unit maps (see the module docstring)."""

    version: str
    loinc: dict[str, LoincCode]
    ucum: dict[str, str]  # UCUM code -> bvall canonical unit spelling
    ucum_names: dict[str, str]


@cache
def load_code_map() -> CodeMap:
    """The bundled map, checked against ``lab_tests.toml`` and ``units.toml``."""
    path = resources.files("bvall.cohort") / "data" / "loinc_map.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    tests = load_lab_tests()
    loinc: dict[str, LoincCode] = {}
    for entry in raw["code"]:
        code, test = entry["loinc"], entry["test"]
        if test not in tests:
            raise SpecError(f"loinc_map.toml: LOINC {code} maps to unknown test {test!r}.")
        if code in loinc:
            raise SpecError(f"loinc_map.toml: LOINC {code} is listed twice.")
        loinc[code] = LoincCode(code, entry["long_name"], test)
    ucum: dict[str, str] = {}
    names: dict[str, str] = {}
    for entry in raw["ucum"]:
        if entry["code"] in ucum:
            raise SpecError(f"loinc_map.toml: UCUM {entry['code']!r} is listed twice.")
        ucum[entry["code"]] = normalize_unit(entry["unit"])
        names[entry["code"]] = entry["name"]
    return CodeMap(str(raw["version"]), loinc, ucum, names)
