"""Default reference ranges of lab tests: bvall's table (``data/reference_ranges.toml``, each
range with its source) or a site's own (``<BVALL_HOME>/reference_ranges.toml``, same format,
replacing bvall's per test). Used where a value is entered without its range."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from bvall.cohort.units import load_lab_tests
from bvall.errors import SpecError

SITE_FILE = "reference_ranges.toml"


@dataclass(frozen=True)
class ReferenceRange:
    """A test's default range in its canonical unit, for everyone or by sex."""

    test: str
    source: str
    low: float | None = None
    high: float | None = None
    male: tuple[float, float] | None = None
    female: tuple[float, float] | None = None

    def for_sex(self, sex: str | None) -> tuple[float, float] | None:
        """(low, high) for a patient of ``sex`` (``M``/``F``); ``None`` when the range depends
        on sex and the sex is not recorded."""
        if self.low is not None and self.high is not None:
            return (self.low, self.high)
        if sex == "M":
            return self.male
        if sex == "F":
            return self.female
        return None


def _pair(where: str, value: Any) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and value[0] <= value[1]):
        raise SpecError(f"{where}: expected [low, high] with low <= high, got {value!r}.")
    return (float(value[0]), float(value[1]))


def parse_reference_ranges(text: str, origin: str) -> dict[str, ReferenceRange]:
    """Ranges from the TOML ``text`` (``origin`` names the file in errors)."""
    raw = tomllib.loads(text)
    tests = load_lab_tests()
    sources = raw.get("sources", {})
    out = {}
    for code, entry in raw.get("ranges", {}).items():
        where = f"{origin}: ranges.{code}"
        if code not in tests:
            raise SpecError(f"{where}: {code!r} is not a lab test of lab_tests.toml.")
        source = entry.get("source")
        if not source:
            raise SpecError(f"{where}: every range needs its source.")
        low, high = entry.get("low"), entry.get("high")
        if (low is None) != (high is None) or (low is not None and low > high):
            raise SpecError(f"{where}: expected both low and high with low <= high.")
        male = _pair(f"{where}.male", entry["male"]) if "male" in entry else None
        female = _pair(f"{where}.female", entry["female"]) if "female" in entry else None
        if low is None and not (male and female):
            raise SpecError(f"{where}: expected low/high, or both male and female.")
        out[code] = ReferenceRange(
            code,
            sources.get(source, source),
            None if low is None else float(low),
            None if high is None else float(high),
            male,
            female,
        )
    return out


@cache
def _bundled() -> dict[str, ReferenceRange]:
    path = resources.files("bvall.cohort") / "data" / "reference_ranges.toml"
    return parse_reference_ranges(path.read_text(encoding="utf-8"), "reference_ranges.toml")


def load_reference_ranges(home: Path | None = None) -> dict[str, tuple[ReferenceRange, str]]:
    """Each test's default range and where it comes from ("site" or "bvall"): the site's file
    in ``home`` replaces bvall's range of each test it lists."""
    out = {code: (r, "bvall") for code, r in _bundled().items()}
    if home is not None and (home / SITE_FILE).is_file():
        path = home / SITE_FILE
        site = parse_reference_ranges(path.read_text(encoding="utf-8"), str(path))
        out.update({code: (r, "site") for code, r in site.items()})
    return out


def default_range(
    ranges: dict[str, tuple[ReferenceRange, str]], test: str, sex: str | None, unit: str
) -> tuple[float, float, str] | None:
    """The default (low, high) of ``test`` in ``unit`` for a patient of ``sex``, with a note
    naming its origin and source; ``None`` when there is none."""
    if test not in ranges:
        return None
    ref, origin = ranges[test]
    pair = ref.for_sex(sex)
    if pair is None:
        return None
    t = load_lab_tests()[test]
    lo, hi = (t.from_canonical(v, unit) for v in pair)
    who = "your site's table" if origin == "site" else f"bvall's table ({ref.source})"
    return lo, hi, who
