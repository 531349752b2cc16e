"""Benchmark: derivations through compiled plans (``bvall.criteria.plans``).

    uv run python benchmarks/bench_plans.py

Prints, each with its ratio to a baseline measured in the same run:

* in one process, plans loaded: all derivations of the 13 example patients with one lab value
  changed (data not seen before), and of each patient alone (median over the 13), wall and CPU
  seconds; baseline: the same derivations built as Ibis expressions and executed directly
  (``derive_unplanned``, what every call cost before plans, less the SQL compilation cache).
* the optimiser: all derivations of registry patients (60 lab values a day for 10 days each)
  with DuckDB's query optimiser off, as ratio to the same plans with it on; this is what
  ``bvall.criteria.plans.OPTIMISE_ABOVE_ROWS`` rests on.
* cold processes with the plan cache warm: ``derive(example, "endpoints")`` and loading the
  example cohort alone; baseline: ``python -c pass``.

The plan cache is a temporary folder (``BVALL_PLAN_CACHE``), filled by the first cold run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _changed(cohort: Any, delta: float) -> Any:
    """The cohort with its first lab value changed by ``delta`` (a new object, new content)."""
    import pyarrow as pa

    from bvall.cohort import Cohort

    labs = cohort["labs"]
    values = labs["value"].to_pylist()
    values[0] += delta
    tables = {n: cohort[n] for n in cohort.table_names}
    tables["labs"] = labs.set_column(
        labs.schema.get_field_index("value"), "value", pa.array(values, pa.float64())
    )
    return Cohort(tables, cohort.metadata)


def _in_process() -> None:
    from bvall.cohort import load_cohort
    from bvall.criteria import load_plans
    from bvall.criteria.expressions import Workspace
    from bvall.criteria.plans import QUERIES, derive_planned, derive_unplanned

    example = load_cohort("example")
    load_plans(example)

    def planned(c: Any) -> Callable[[], None]:
        return lambda: [derive_planned(c, w) for w in QUERIES] and None

    def fresh(c: Any) -> Callable[[], None]:
        def run() -> None:
            ws = Workspace(c)
            for w in QUERIES:
                derive_unplanned(c, w, ws=ws)

        return run

    # Statements run plain the first time and prepared from the second (steady state after two).
    planned(_changed(example, 0.5))()
    planned(_changed(example, 0.7))()
    all_plan = min(_timed(planned(_changed(example, 0.1 * i))) for i in range(1, 4))
    ones = [_timed(planned(_changed(example.subset([p]), 0.01))) for p in example.patient_ids]
    one_plan = (statistics.median(o[0] for o in ones), statistics.median(o[1] for o in ones))
    all_fresh = _timed(fresh(_changed(example, 0.2)))
    one_fresh = _timed(fresh(_changed(example.subset(["P05"]), 0.02)))
    print("in one process, plans loaded (wall s / CPU s; ratio = plans / expressions built):")
    for label, plan, base in (
        ("all derivations, 13 patients, new data", all_plan, all_fresh),
        ("all derivations, one patient, new data", one_plan, one_fresh),
    ):
        print(
            f"  {label:42s} plans {plan[0]:6.3f} / {plan[1]:6.3f}   "
            f"built {base[0]:6.3f} / {base[1]:6.3f}   ratio {plan[0] / base[0]:.3f}"
        )


def _optimiser(sizes: tuple[int, ...] = (1, 3, 12, 33, 100, 400)) -> None:
    """All derivations with the optimiser off / on, by the number of rows the plans read."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from registry import registry_cohort

    from bvall.criteria import plans
    from bvall.criteria.plans import QUERIES, load_plan, plan_features, run_plan

    plans.REUSE_BELOW_ROWS = -1  # every step runs: nothing is taken from an earlier run
    print(
        "without the optimiser (prepared statements bound once) / with it (bound and optimised"
        " for each run);\nall derivations of registry patients, best of 3, wall s:"
    )
    for n in sizes:
        cohort = registry_cohort(n)
        built = [load_plan(w, plan_features(cohort)) for w in QUERIES]
        rows = sum(cohort[t].num_rows for t in cohort.table_names)
        best: dict[bool, float] = {}
        for repeat in range(4):
            for on in (True, False):
                fresh = _changed(cohort, 0.001 * (2 * repeat + (2 if on else 3)))
                t = time.perf_counter()
                for plan in built:
                    run_plan(plan, fresh, optimise=on)
                if repeat:  # the first round prepares the statements
                    best[on] = min(best.get(on, 1e9), time.perf_counter() - t)
        print(
            f"  {n:4d} patients {rows:8,d} rows   on {best[True]:6.3f}   off {best[False]:6.3f}"
            f"   ratio off/on {best[False] / best[True]:.2f}"
        )


def _cold(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _cold_processes() -> None:
    with tempfile.TemporaryDirectory(prefix="bvall-plans-") as folder:
        # Byte-code written and reused, as in an installed package (pip compiles it on install).
        env = {**os.environ, "BVALL_PLAN_CACHE": folder}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        derive = (
            "from bvall.cohort import load_cohort\n"
            "from bvall.criteria import derive\n"
            "derive(load_cohort('example'), 'endpoints')\n"
        )
        load = "from bvall.cohort import load_cohort\nload_cohort('example')\n"
        _cold(load, env)  # writes the byte-code
        first = _cold(derive, env)  # builds and saves the plans
        base = min(_cold("pass", env) for _ in range(3))
        runs = {
            "derive example endpoints, plans saved": min(_cold(derive, env) for _ in range(3)),
            "load example cohort only": min(_cold(load, env) for _ in range(3)),
        }
        print("cold processes (wall s; ratio = / python -c pass):")
        print(f"  {'python -c pass':42s} {base:6.3f}")
        print(
            f"  {'derive example endpoints, plans built':42s} {first:6.3f}   {first / base:6.1f}x"
        )
        for label, value in runs.items():
            print(f"  {label:42s} {value:6.3f}   {value / base:6.1f}x")


def main() -> None:
    _in_process()
    _optimiser()
    _cold_processes()


if __name__ == "__main__":
    main()
