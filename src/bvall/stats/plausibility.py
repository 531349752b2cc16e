"""Plausibility of reported figures: can a printed number arise from n patients at all?

* :func:`compute_percent_reachability`: is a printed percentage x/n for some whole x?
* :func:`compute_fraction_candidates`: which fractions x/m with m <= n print as that percentage
  (a value that fits another denominator, e.g. 90.9 % = 10/11 in a cohort of 13)?
* :func:`compute_km_reachability`: can a printed Kaplan–Meier value be a product of
  (1 − dᵢ/nᵢ) factors with at most n at risk, the numbers at risk falling by at least the
  deaths at each step (censoring may remove more)? Returns the candidate products.

A printed value stands for an interval: "60.6" means [60.55, 60.65]. The number of decimals is
read from the text when the value is given as a string ("20.0" has one decimal); for a float
it is read from its shortest representation. Arithmetic is exact (fractions), so no candidate
is lost or invented by rounding.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from bvall.errors import InputError


def parse_printed(value: str | float | int) -> tuple[Fraction, Fraction, int]:
    """A printed number as the interval it stands for: (low, high, decimals).

    ``"60.6"`` → (60.55, 60.65, 1); ``"20.0"`` → (19.95, 20.05, 1); ``7`` → (6.5, 7.5, 0).
    """
    text = value if isinstance(value, str) else repr(value)
    text = text.strip().rstrip("%").strip()
    try:
        dec = Decimal(text)
    except InvalidOperation:
        raise InputError(f"Printed value {value!r} is not a number.") from None
    if not dec.is_finite():
        raise InputError(f"Printed value {value!r} is not a finite number.")
    exponent = dec.as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    half = Fraction(1, 2 * 10**decimals)
    centre = Fraction(dec)
    return centre - half, centre + half, decimals


@dataclass(frozen=True)
class PercentReachability:
    """Whether ``percent`` (as printed) equals 100·x/n rounded, and for which x."""

    percent: str
    n: int
    numerators: tuple[int, ...]
    nearest: tuple[tuple[int, float], ...]

    @property
    def reachable(self) -> bool:
        return bool(self.numerators)


def compute_percent_reachability(percent: str | float, n: int) -> PercentReachability:
    """Is the printed ``percent`` reachable as x/n? Lists the x that print as it.

    ``nearest`` gives the closest reachable percentages (x, 100·x/n) when it is not.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise InputError(f"n = {n!r} must be a whole number >= 1.")
    low, high, _ = parse_printed(percent)
    n = int(n)
    hits = tuple(x for x in range(n + 1) if low <= Fraction(100 * x, n) <= high)
    centre = (low + high) / 2
    ranked = sorted(range(n + 1), key=lambda x: abs(Fraction(100 * x, n) - centre))
    nearest = tuple((x, 100 * x / n) for x in ranked[:2])
    return PercentReachability(str(percent), n, hits, nearest)


def compute_fraction_candidates(
    percent: str | float, n_max: int, n_min: int = 1
) -> list[tuple[int, int]]:
    """Every fraction x/m (n_min <= m <= n_max, in lowest terms or not) printing as ``percent``.

    Ordered by denominator, then numerator: ``compute_fraction_candidates("90.9", 13)`` →
    ``[(10, 11)]``.
    """
    if n_min < 1 or n_max < n_min:
        raise InputError(f"Denominators {n_min}..{n_max} are not a range of whole numbers >= 1.")
    low, high, _ = parse_printed(percent)
    return [
        (x, m)
        for m in range(n_min, n_max + 1)
        for x in range(m + 1)
        if low <= Fraction(100 * x, m) <= high
    ]


@dataclass(frozen=True)
class KMCandidate:
    """A product ∏(1 − d/n) that prints as the reported value.

    ``factors``: one (n at risk, events) pair per event time, in time order, for the example with
    the fewest events; ``paths``: how many different (n, d) sequences give this product.
    """

    product: Fraction
    factors: tuple[tuple[int, int], ...]
    paths: int

    @property
    def value(self) -> float:
        return float(self.product)

    @property
    def events(self) -> int:
        return sum(d for _, d in self.factors)

    def describe(self) -> str:
        """``"(1 − 1/11)(1 − 1/3) = 20/33 = 60.61%"``."""
        parts = "".join(f"(1 − {d}/{n})" for n, d in self.factors)
        return f"{parts} = {self.product} = {100 * self.value:.2f}%"


@dataclass(frozen=True)
class KMReachability:
    """Result of :func:`compute_km_reachability`; ``candidates`` sorted by events, then value."""

    percent: str
    n_max: int
    candidates: tuple[KMCandidate, ...]
    max_events: int | None
    min_events: int
    paths: int = field(default=0)

    @property
    def reachable(self) -> bool:
        return bool(self.candidates)


def compute_km_reachability(
    percent: str | float,
    n_max: int,
    max_events: int | None = None,
    min_events: int = 0,
    node_limit: int = 300_000,
) -> KMReachability:
    """Can the printed Kaplan–Meier ``percent`` be ∏(1 − dᵢ/nᵢ) with n₁ <= ``n_max``?

    The numbers at risk fall from one event time to the next by at least the events
    (nᵢ₊₁ <= nᵢ − dᵢ; censoring in between may remove more). ``max_events``/``min_events`` bound
    the total events before the landmark when other facts fix them (e.g. two relapses
    reported). The search is exhaustive; ``node_limit`` stops a search too large to finish
    (large n with small values) with a clear error.
    """
    if isinstance(n_max, bool) or not isinstance(n_max, numbers.Integral) or n_max < 1:
        raise InputError(f"n_max = {n_max!r} must be a whole number >= 1 (patients at risk).")
    n_max = int(n_max)
    low, high, _ = parse_printed(percent)
    lo, hi = low / 100, high / 100
    if hi < 0 or lo > 1:
        raise InputError(f"Kaplan–Meier value {percent!r}% is outside 0–100%.")
    limit = n_max if max_events is None else min(max_events, n_max)
    bounded = max_events is not None or min_events > 0
    # Dynamic programming over states (numbers at risk still possible, product so far, and the
    # events so far when they are bounded): every transition lowers the cap, so the states of a
    # cap are final once all larger caps are done. Far fewer states than paths. Products are
    # kept as reduced (numerator, denominator) pairs: exact, and faster than Fraction objects.
    lo_n, lo_d = lo.numerator, lo.denominator
    hi_n, hi_d = hi.numerator, hi.denominator
    start: dict[tuple[int, int, int], list[Any]] = {(1, 1, 0): [(), 1]}
    states: dict[int, dict[tuple[int, int, int], list[Any]]] = {n_max: start}
    found: dict[tuple[int, int], list[Any]] = {}
    nodes = 0
    total_paths = 0
    for cap in range(n_max, -1, -1):
        for (num, den, key_events), (path, count) in states.pop(cap, {}).items():
            nodes += 1
            if nodes > node_limit:
                raise InputError(
                    f"The search for {percent}% with up to {n_max} at risk is too large "
                    f"(more than {node_limit:,} states); give max_events to bound it."
                )
            events = key_events if bounded else sum(d for _, d in path)
            if events >= min_events and num * lo_d >= lo_n * den and num * hi_d <= hi_n * den:
                total_paths += count
                entry = found.setdefault((num, den), [path, 0])
                entry[1] += count
                if events < sum(d for _, d in entry[0]):
                    entry[0] = path
            for n in range(cap, 0, -1):
                if num * (n - 1) * lo_d < lo_n * den * n:  # one event at n is already too many
                    break
                for d in range(1, n + 1):
                    if events + d > limit:
                        break
                    new_num, new_den = num * (n - d), den * n
                    if new_num * lo_d < lo_n * new_den:
                        break
                    g = math.gcd(new_num, new_den)
                    key = (new_num // g, new_den // g, events + d if bounded else 0)
                    bucket = states.setdefault(n - d, {})
                    step = (*path, (n, d))
                    seen = bucket.get(key)
                    if seen is None:
                        bucket[key] = [step, count]
                    else:
                        seen[1] += count
                        if not bounded and events + d < sum(x for _, x in seen[0]):
                            seen[0] = step
    candidates = tuple(
        sorted(
            (KMCandidate(Fraction(*p), tuple(v[0]), int(v[1])) for p, v in found.items()),
            key=lambda c: (c.events, -c.value),
        )
    )
    return KMReachability(str(percent), n_max, candidates, max_events, min_events, total_paths)
