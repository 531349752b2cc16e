"""Controlled terms of the export: CDISC UNIT, ROUTE/FREQ and visits for bvall's codes, read
from ``data/terminology.toml``. A code with no term is an error naming the file and section to
extend; a term is never guessed."""

from __future__ import annotations

from typing import Any

from bvall.cohort.units import normalize_unit
from bvall.errors import SpecError
from bvall.interop.cdisc.spec import load_terminology
from bvall.interop.cdisc.study import is_missing


def cdisc_unit(unit: Any) -> str:
    """The CDISC UNIT submission value of a bvall unit (``terminology.toml [unit]``)."""
    if is_missing(unit):
        return ""
    units = load_terminology()["unit"]
    key = str(unit) if str(unit) in units else normalize_unit(str(unit))
    if key not in units:
        raise SpecError(
            f"Unit {unit!r} has no CDISC UNIT term in terminology.toml [unit]; add it "
            f"(known: {', '.join(units)})."
        )
    return str(units[key])


def route_of(route: Any) -> dict[str, str]:
    """CDISC ROUTE and the dosing frequency of a daily record for a bvall route."""
    routes = load_terminology()["route"]
    if is_missing(route):
        return {"route": "", "frequency": ""}
    if str(route) not in routes:
        raise SpecError(f"Route {route!r} has no CDISC term in terminology.toml [route].")
    return dict(routes[str(route)])


def visit_of(timepoint: Any, day: int | None) -> tuple[float | None, str]:
    """(VISITNUM, VISIT) of a named time point, else of the SDTM study day ``day``."""
    visits = load_terminology()["visit"]
    if not is_missing(timepoint):
        if str(timepoint) not in visits:
            raise SpecError(
                f"Time point {timepoint!r} has no visit in terminology.toml [visit]; "
                f"known: {', '.join(visits)}."
            )
        v = visits[str(timepoint)]
        return float(v["num"]), str(v["name"])
    if day is None:
        return None, ""
    return float(day), f"DAY {day}"
