"""Kaplan–Meier on 10⁶ subjects: bvall against lifelines and R survfit, timed in one run.

Usage: ``uv run python benchmarks/km_benchmark.py [--n 1000000] [--repeats 3] [--seed 20250101]``

Two data sets of ``--n`` subjects (exponential event times, uniform censoring): times in whole
days (many ties) and continuous times (every time distinct). Times are the best of
``--repeats`` runs of the fit alone (no I/O): bvall's ``compute_kaplan_meier`` (log CI),
lifelines' ``KaplanMeierFitter.fit`` and R's ``survfit(Surv(time, status) ~ 1)`` (timed inside R
with ``system.time``; the data reach R as a CSV written once). R is skipped when ``Rscript`` is
not installed. Ratios are against bvall measured in the same run; the survival estimates of the
three are compared at four landmarks.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bvall.stats import compute_kaplan_meier

LANDMARKS = (90.0, 180.0, 365.0, 730.0)
R_SCRIPT = """
suppressMessages(library(survival))
d <- read.csv("{csv}")
best <- Inf
for (i in seq_len({repeats})) {{
  t <- system.time(fit <- survfit(Surv(time, status) ~ 1, data = d))[["elapsed"]]
  best <- min(best, t)
}}
s <- summary(fit, times = c({landmarks}), extend = TRUE)$surv
cat(format(best, digits = 15), format(s, digits = 15), "\\n")
"""


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(label: str, t: np.ndarray, e: np.ndarray, repeats: int) -> None:
    print(
        f"\nKaplan–Meier, {label}: n = {t.size:,} ({int(e.sum()):,} events, "
        f"{np.unique(t).size:,} distinct times), best of {repeats}"
    )
    ours_s, km = best_of(repeats, lambda: compute_kaplan_meier(t, e))
    ours = [lm.survival for lm in km.at(LANDMARKS)]
    rows = [("bvall compute_kaplan_meier", ours_s, ours)]

    from lifelines import KaplanMeierFitter

    ll_s, fitter = best_of(repeats, lambda: KaplanMeierFitter().fit(t, e))
    rows.append(
        (
            "lifelines KaplanMeierFitter.fit",
            ll_s,
            list(fitter.survival_function_at_times(list(LANDMARKS)).to_numpy()),
        )
    )

    if shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "km.csv"
            np.savetxt(
                csv,
                np.column_stack([t, e]),
                fmt=["%.17g", "%d"],
                delimiter=",",
                header="time,status",
                comments="",
            )
            script = R_SCRIPT.format(
                csv=csv, repeats=repeats, landmarks=", ".join(f"{x:g}" for x in LANDMARKS)
            )
            out = subprocess.run(
                ["Rscript", "-e", script], capture_output=True, text=True, check=True
            ).stdout.split()
            rows.append(("R survival::survfit", float(out[0]), [float(v) for v in out[1:]]))
    else:
        print("Rscript not found: R skipped")

    print(f"{'implementation':34} {'seconds':>9} {'ratio to bvall':>15}  max |ΔS| at landmarks")
    for name, seconds, surv in rows:
        diff = max(abs(a - b) for a, b in zip(surv, ours, strict=True))
        print(f"{name:34} {seconds:9.3f} {seconds / ours_s:15.1f}  {diff:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20250101)
    args = parser.parse_args()
    for label, whole_days in (("times in whole days (ties)", True), ("continuous times", False)):
        rng = np.random.default_rng(args.seed)
        event_time = rng.exponential(400.0, args.n)
        censor_time = rng.uniform(30.0, 1500.0, args.n)
        if whole_days:
            event_time, censor_time = np.ceil(event_time), np.ceil(censor_time)
        t = np.minimum(event_time, censor_time)
        e = (event_time <= censor_time).astype(np.int64)
        run(label, t, e, args.repeats)


if __name__ == "__main__":
    main()
