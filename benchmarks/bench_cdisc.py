"""CDISC export of the example cohort against its baseline: the criteria-engine derivations the
export reads, timed in the same process.

    uv run python benchmarks/bench_cdisc.py

Prints the time of the derivations (baseline), of building and conforming the 15 datasets from
those derivations (memoised, so this is the export's own work), and of writing XPT, Dataset-JSON
and define.xml, each with its ratio to the baseline.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bvall.cohort import load_cohort
from bvall.criteria import derive
from bvall.interop.cdisc import build_datasets, export_cdisc

#: The derivations an export reads.
DERIVED = ("grades", "crs", "icans", "response", "risk", "endpoints")


def main() -> None:
    cohort = load_cohort("example")
    t0 = time.perf_counter()
    for what in DERIVED:
        derive(cohort, what)
    baseline = time.perf_counter() - t0
    t0 = time.perf_counter()
    datasets = build_datasets(cohort)
    build = time.perf_counter() - t0
    rows = sum(len(f) for f in datasets.values())
    timings = {"build + conform 15 datasets": build}
    with tempfile.TemporaryDirectory() as tmp:
        for formats in (["xpt"], ["json"]):
            t0 = time.perf_counter()
            export_cdisc(cohort, Path(tmp) / formats[0], formats=formats)
            timings[f"export {formats[0]} (build + write + define.xml)"] = time.perf_counter() - t0
    print(f"example cohort: {len(cohort)} patients, {rows} records in 15 datasets")
    print(f"{'task':<45} {'time':>8} {'ratio':>7}")
    print(f"{'derivations (baseline)':<45} {baseline:>7.2f}s {1.0:>7.2f}")
    for task, seconds in timings.items():
        print(f"{task:<45} {seconds:>7.2f}s {seconds / baseline:>7.2f}")


if __name__ == "__main__":
    main()
