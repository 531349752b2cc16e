"""Brent's zero-finder as R's ``uniroot`` runs it, shared by the exact methods.

Written out rather than calling SciPy's ``brentq`` for two reasons: the two differ in their step
rules, and the aim is R's root to the last digit at R's tolerance (Fisher's odds-ratio limits);
and ``scipy.optimize`` takes longer to import than every calculation of ``bvall stats`` takes to
run (about 0.2 s of a command's start-up, ``python -X importtime``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

_EPS = sys.float_info.epsilon


def find_root(f: Callable[[float], float], ax: float, bx: float, tol: float) -> float:
    """A root of ``f`` in [ax, bx] by Brent's method (Brent 1973, ch. 4) as R's ``uniroot``
    runs it (``R_zeroin2``), to absolute tolerance ``tol``; f(ax) and f(bx) must differ in sign.
    """
    fa, fb = f(ax), f(bx)
    if not (fa * fb <= 0):
        raise ValueError("internal: f() values at end points not of opposite sign")
    eps = _EPS
    a, b = ax, bx
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(1001):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b
