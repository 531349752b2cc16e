"""Regimen planner speed, as ratios against a baseline measured in the same process.

Baseline: planning bv-concurrent for one patient without co-medication. Compared: the same plan
with three interacting drugs, nine label cycles of blinatumomab (378 planned days), rendering
the order sheet and the calendar, and deviations of the 13-patient published cohort.

Run: ``uv run python benchmarks/bench_regimen.py``
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable

from bvall.cohort import load_cohort
from bvall.regimen import (
    derive_deviations,
    plan_regimen,
    render_plan_html,
    render_plan_ics,
)

START = dt.date(2026, 12, 7)
STAMP = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _time(fn: Callable[[], object], repeat: int = 30) -> float:
    fn()  # warm caches (data files are read once per process)
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> None:
    def baseline() -> object:
        return plan_regimen("bv-concurrent", start=START, weight_kg=62, height_cm=168)

    plan = baseline()
    published = load_cohort("published")
    cases: dict[str, Callable[[], object]] = {
        "plan + 3 inhibitors": lambda: plan_regimen(
            "bv-concurrent",
            start=START,
            weight_kg=62,
            height_cm=168,
            inhibitors=["posaconazole", "fluconazole:3..9", "amiodarone"],
        ),
        "blinatumomab-rr, 9 cycles": lambda: plan_regimen(
            "blinatumomab-rr", start=START, weight_kg=40, height_cm=150, parameters={"cycles": 9}
        ),
        "order sheet (HTML)": lambda: render_plan_html(plan),  # type: ignore[arg-type]
        "calendar (ICS)": lambda: render_plan_ics(plan, stamp=STAMP),  # type: ignore[arg-type]
        "deviations, published (13)": lambda: derive_deviations(published),
    }
    base = _time(baseline)
    print(f"baseline: plan bv-concurrent, one patient: {base * 1000:.2f} ms")
    for name, fn in cases.items():
        t = _time(fn, repeat=10)
        print(f"{name:32s} {t * 1000:8.2f} ms  {t / base:6.1f} × baseline")


if __name__ == "__main__":
    main()
