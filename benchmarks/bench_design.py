"""Benchmark: Simon design search and trial simulation against straightforward loop versions.

Run: ``uv run python benchmarks/bench_design.py [--nmax 100] [--trials 1000000]``. Both
implementations run in this process on the same inputs; the script checks that they agree and
prints the times and the ratio. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from scipy import stats

from bvall.design import Scenario, compute_simon_designs, simulate_characteristics
from bvall.design.sequential import Boundaries


def loop_simon_optimal(
    p0: float, p1: float, alpha: float, power: float, nmax: int
) -> tuple[int, int, int, int]:
    """Simon's search written as plain nested loops over n, n1, r1, r (one binomial table)."""
    pmf0 = [[float(stats.binom.pmf(k, m, p0)) for k in range(m + 1)] for m in range(nmax + 1)]
    pmf1 = [[float(stats.binom.pmf(k, m, p1)) for k in range(m + 1)] for m in range(nmax + 1)]

    def reject(pmf: list[list[float]], r1: int, n1: int, r: int, n: int) -> float:
        n2 = n - n1
        total = 0.0
        for x1 in range(r1 + 1, n1 + 1):
            need = r - x1  # X2 must exceed this
            tail = 1.0 if need < 0 else sum(pmf[n2][need + 1 :])
            total += pmf[n1][x1] * tail
        return total

    best = (0, 0, 0, 0)
    best_en = float("inf")
    for n in range(2, nmax + 1):
        for n1 in range(1, n):
            for r1 in range(0, n1):
                r_ok = -1
                for r in range(r1, n):  # power decreases in r: keep the largest r meeting it
                    if reject(pmf1, r1, n1, r, n) >= power:
                        r_ok = r
                    else:
                        break
                if r_ok < 0 or reject(pmf0, r1, n1, r_ok, n) > alpha:
                    continue
                pet = sum(pmf0[n1][: r1 + 1])
                en = n1 + (1 - pet) * (n - n1)
                if en < best_en - 1e-12:
                    best_en, best = en, (r1, n1, r_ok, n)
    return best


def loop_simulate(
    b: Boundaries, cells: tuple[float, float, float, float], n_trials: int, seed: int
) -> float:
    """Per-trial, per-patient simulation of a joint BOP2 design; returns P(go)."""
    rng = random.Random(seed)
    cum = [cells[0], cells[0] + cells[1], cells[0] + cells[1] + cells[2]]
    assert b.futility is not None
    assert b.toxicity is not None
    go = 0
    for _ in range(n_trials):
        e = t = 0
        n = 0
        stopped = False
        for k, look in enumerate(b.looks):
            while n < look:
                u = rng.random()
                if u < cum[0]:
                    e += 1
                    t += 1
                elif u < cum[1]:
                    e += 1
                elif u < cum[2]:
                    t += 1
                n += 1
            if e <= b.futility[k] or t >= b.toxicity[k]:
                stopped = True
                break
        go += not stopped
    return go / n_trials


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nmax", type=int, default=100)
    ap.add_argument("--trials", type=int, default=1_000_000)
    args = ap.parse_args()

    p0, p1, alpha, power = 0.2, 0.4, 0.05, 0.8
    t0 = time.perf_counter()
    fast = compute_simon_designs(p0, p1, alpha, power, args.nmax)[-1]
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = loop_simon_optimal(p0, p1, alpha, power, args.nmax)
    t_slow = time.perf_counter() - t0
    assert (fast.r1, fast.n1, fast.r, fast.n) == slow, (fast, slow)
    print(
        f"Simon search n<={args.nmax} (p0={p0}, p1={p1}, alpha={alpha}, power={power}): "
        f"vectorised {t_fast:.2f} s, loops {t_slow:.1f} s, ratio {t_slow / t_fast:.0f}x; "
        f"optimal {slow[0]}/{slow[1]}, {slow[2]}/{slow[3]} in both"
    )

    b = Boundaries(
        (10, 15, 20, 25, 30, 35, 40), (2, 5, 7, 10, 13, 16, 19), (5, 6, 8, 9, 10, 11, 12)
    )
    s = Scenario("alternative", 0.60, 0.20, 0.18)
    t0 = time.perf_counter()
    vec = simulate_characteristics(b, s, args.trials, seed=1)
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    loop = loop_simulate(b, s.cells, args.trials, seed=1)
    t_loop = time.perf_counter() - t0
    se = float(np.sqrt(vec.passed * (1 - vec.passed) / args.trials))
    assert abs(vec.passed - loop) < 6 * se * np.sqrt(2), (vec.passed, loop)
    print(
        f"Simulation of {args.trials:,} BOP2 efficacy+toxicity trials (N=40, 7 looks): "
        f"vectorised {t_vec:.2f} s, loops {t_loop:.1f} s, ratio {t_loop / t_vec:.0f}x; "
        f"P(go) {vec.passed:.4f} vs {loop:.4f} (SE {se:.4f})"
    )


if __name__ == "__main__":
    main()
