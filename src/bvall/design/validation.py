"""Checks on design inputs, shared by every design: one wording for every bad-input error.

Each check raises :class:`bvall.errors.InputError` quoting the bad value and saying what was
expected, so the CLI, the web app and a Python caller show the same message.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from bvall.errors import InputError


def check_rate(name: str, value: float) -> float:
    """A response or toxicity rate: a finite number strictly between 0 and 1."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InputError(f"{name}={value!r} is not a number; expected a rate between 0 and 1.")
    if not 0.0 < float(value) < 1.0:
        raise InputError(f"{name}={value!r} is outside (0, 1); expected a rate such as 0.2.")
    return float(value)


def check_error_rate(name: str, value: float) -> float:
    """A type I/II error rate or a power: strictly between 0 and 1 (0.05, 0.8, ...)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InputError(f"{name}={value!r} is not a number; expected a value in (0, 1).")
    if not 0.0 < float(value) < 1.0:
        raise InputError(f"{name}={value!r} is outside (0, 1); expected e.g. 0.05 or 0.8.")
    return float(value)


def check_positive_int(name: str, value: int, minimum: int = 1) -> int:
    """A whole number of patients (or trials) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name}={value!r} is not a whole number; expected an integer.")
    if value < minimum:
        raise InputError(f"{name}={value!r} is too small; expected an integer >= {minimum}.")
    return value


def check_looks(looks: Sequence[int], name: str = "looks") -> tuple[int, ...]:
    """Analysis times in patients: strictly increasing positive integers (the last is N)."""
    values = tuple(looks)
    if not values:
        raise InputError(f"{name} is empty; expected analysis times such as 10,20,30,40.")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"{name} contains {v!r}; expected positive whole numbers of patients.")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise InputError(
            f"{name}={list(values)!r} is not strictly increasing; expected e.g. 10,20,30,40."
        )
    return values


def check_ordered_rates(low_name: str, low: float, high_name: str, high: float) -> None:
    """Two rates that must be strictly ordered, e.g. p0 < p1."""
    if not low < high:
        raise InputError(
            f"{high_name}={high!r} must be greater than {low_name}={low!r}; "
            f"the design compares an uninteresting rate {low_name} with a target rate "
            f"{high_name} > {low_name}."
        )
