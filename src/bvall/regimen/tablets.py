"""Whether a dose can be given with whole tablets of the available strengths.

A dose that cannot be assembled from whole tablets (venetoclax 10/50/100 mg, which must not be
split) is flagged with the nearest makeable doses below and above; it is never rounded.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bvall.errors import InputError, SpecError


@dataclass(frozen=True)
class Product:
    id: str
    agent: str
    form: str
    unit: str
    strengths: tuple[float, ...]
    divisible: bool
    handling: str
    source: str


@dataclass(frozen=True)
class TabletCheck:
    """The result of :func:`compute_tablets`: the fewest whole tablets that make ``dose``, or,
    when none can, the nearest makeable doses below and above."""

    dose: float
    strengths: tuple[float, ...]
    tablets: tuple[tuple[float, int], ...]  # (strength, count), largest strength first
    below: float | None = None
    above: float | None = None

    @property
    def makeable(self) -> bool:
        return bool(self.tablets) or self.dose == 0

    def describe(self, unit: str = "mg") -> str:
        if self.makeable:
            return " + ".join(f"{n} × {s:g} {unit}" for s, n in self.tablets)
        near = " or ".join(f"{v:g} {unit}" for v in (self.below, self.above) if v is not None)
        strengths = "/".join(f"{s:g}" for s in self.strengths)
        return (
            f"{self.dose:g} {unit} cannot be made from whole {strengths} {unit} tablets; "
            f"nearest makeable: {near}. The prescriber must choose; bvall does not round."
        )


@cache
def load_products() -> dict[str, Product]:
    """Products with their strengths (``data/rules/products.toml``)."""
    path = resources.files("bvall.regimen") / "data" / "rules" / "products.toml"
    raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[str, Product] = {}
    for i, p in enumerate(raw.get("product", []), 1):
        need = {"id", "agent", "form", "unit", "strengths", "divisible", "handling", "source"}
        if set(p) != need:
            raise SpecError(f"products.toml: [[product]] #{i}: expected keys {sorted(need)}.")
        strengths = tuple(float(s) for s in p["strengths"])
        if not strengths or any(s <= 0 for s in strengths):
            raise SpecError(f"products.toml: [[product]] {p['id']!r}: strengths must be positive.")
        out[p["id"]] = Product(
            p["id"],
            p["agent"],
            p["form"],
            p["unit"],
            strengths,
            p["divisible"],
            p["handling"],
            p["source"],
        )
    return out


# Strengths are integer multiples of a small quantum (here 1 mg); a coin-change table over that
# quantum is exact, where float arithmetic would misjudge e.g. 0.1 + 0.2.
_QUANTUM = 1000  # work in thousandths of the unit


def compute_tablets(dose: float, strengths: Sequence[float]) -> TabletCheck:
    """The fewest whole tablets of ``strengths`` that sum exactly to ``dose`` (same unit)."""
    if dose < 0 or not strengths:
        raise InputError(f"dose {dose!r} with strengths {list(strengths)!r}: expected dose ≥ 0.")
    q = [round(s * _QUANTUM) for s in sorted(set(strengths), reverse=True)]
    target = round(dose * _QUANTUM)
    if abs(target - dose * _QUANTUM) > 1e-6 * _QUANTUM:
        return _not_makeable(dose, strengths, q, target)
    # Reachability by greatest common divisor first: cheap and covers the usual answer.
    from math import gcd

    g = 0
    for s in q:
        g = gcd(g, s)
    top = max(q)
    limit = target + top
    best = [-1] * (limit // g + 1)
    best[0] = 0
    choice = [0] * len(best)
    for v in range(g, limit + 1, g):
        i = v // g
        for s in q:
            if s <= v and best[(v - s) // g] >= 0:
                n = best[(v - s) // g] + 1
                if best[i] < 0 or n < best[i]:
                    best[i], choice[i] = n, s
    if target % g == 0 and best[target // g] >= 0:
        counts: dict[int, int] = {}
        v = target
        while v > 0:
            s = choice[v // g]
            counts[s] = counts.get(s, 0) + 1
            v -= s
        tabs = tuple((s / _QUANTUM, counts[s]) for s in q if s in counts)
        return TabletCheck(float(dose), tuple(sorted(set(strengths))), tabs)
    below = next((v for v in range(target - target % g, -1, -g) if best[v // g] >= 0), None)
    above = next(
        (v for v in range(target + g - target % g, limit + 1, g) if best[v // g] >= 0), None
    )
    return TabletCheck(
        float(dose),
        tuple(sorted(set(strengths))),
        (),
        below=None if below is None or below == 0 else below / _QUANTUM,
        above=None if above is None else above / _QUANTUM,
    )


def _not_makeable(
    dose: float, strengths: Sequence[float], q: list[int], target: int
) -> TabletCheck:
    lo = compute_tablets(int(dose * _QUANTUM) / _QUANTUM, strengths)
    below = lo.dose if lo.makeable else lo.below
    hi = compute_tablets((int(dose * _QUANTUM) + 1) / _QUANTUM, strengths)
    above = hi.dose if hi.makeable else hi.above
    return TabletCheck(float(dose), tuple(sorted(set(strengths))), (), below=below, above=above)
