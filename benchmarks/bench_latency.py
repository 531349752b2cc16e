"""Latency as a user meets it: cold CLI commands and in-process derivations (issue 13).

Every CLI figure is a fresh process (``subprocess``), run several times; the table prints the
minimum and median wall time, the median CPU time (user + system: what the command costs
whatever else the machine is doing), the target, and the median's ratio to a bare
``python -c pass`` measured in the same run.
In-process rows derive every derivation of ``bvall.criteria`` on cohorts the process has not seen
before (patient ids renamed per repeat, so no result can come from a cache) after one warm-up.

Run: ``uv run python benchmarks/bench_latency.py`` (``--repeats 5``; ``--quick`` skips the
derive and report rows, which take seconds each).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BVALL = str(Path(sys.executable).with_name("bvall"))
# A Kaplan–Meier data set (the "aml"-like shape: ties, censoring, 19 subjects).
KM_ROWS = (
    (6, 1), (6, 1), (6, 1), (6, 0), (7, 1), (9, 0), (10, 1), (10, 0), (11, 0), (13, 1),
    (16, 1), (17, 0), (19, 0), (20, 0), (22, 1), (23, 1), (25, 0), (32, 0), (34, 0),
)  # fmt: skip
KM_CSV = "subject,time,status\n" + "".join(f"s{i},{t},{e}\n" for i, (t, e) in enumerate(KM_ROWS))


Samples = tuple[list[float], list[float]]  # wall seconds, CPU seconds


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cold(argv: Sequence[str], repeats: int, env: dict[str, str]) -> Samples:
    subprocess.run(argv, capture_output=True, text=True, env=env)  # writes the bytecode cache
    wall, cpu = [], []
    for _ in range(repeats):
        c, t = _children_cpu(), time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env)
        wall.append(time.perf_counter() - t)
        cpu.append(_children_cpu() - c)
        if proc.returncode not in (0, 2):  # 2: the mistyped option's usage error
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, cpu


def _warm(fn: Callable[[int], object], repeats: int) -> Samples:
    fn(0)  # compile plans, read rule files
    wall, cpu = [], []
    for i in range(1, repeats + 1):
        c, t = time.process_time(), time.perf_counter()
        fn(i)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def _fresh_example(tag: int) -> object:
    """The example cohort with every patient id renamed: the same clinical data, unseen ids."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from bvall.cohort import load_cohort
    from bvall.cohort.model import Cohort

    base = load_cohort("example")
    tables = {}
    for name in base.table_names:
        t = base[name]
        if "patient_id" in t.column_names:
            i = t.schema.get_field_index("patient_id")
            renamed = pc.binary_join_element_wise(t["patient_id"], pa.scalar(f"r{tag}"), "-")
            t = t.set_column(i, t.schema.field(i), renamed.cast(t.schema.field(i).type))
        tables[name] = t
    return Cohort(tables, base.metadata)


def _derive_all(cohort: object) -> None:
    from bvall.criteria import DERIVATIONS, derive

    for what in DERIVATIONS:
        derive(cohort, what)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="skip derive and report rows")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile every module at every start (PYTHONDONTWRITEBYTECODE=1, no cache)",
    )
    args = parser.parse_args(argv)
    n = args.repeats
    work = Path(tempfile.mkdtemp(prefix="bvall-latency-"))
    km = work / "km.csv"
    km.write_text(KM_CSV, encoding="utf-8")
    # As an installed bvall runs: Python's bytecode cache in use (written by a first, unmeasured
    # run into a private folder, so the source tree stays clean), unless --no-bytecode-cache.
    env = dict(os.environ)
    if args.no_bytecode_cache:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    rows: list[tuple[str, Samples, float]] = []
    try:
        base = _cold([sys.executable, "-c", "pass"], n, env)
        rows.append(("python -c pass (baseline)", base, float("nan")))
        cli: list[tuple[str, list[str], float, int]] = [
            ("bvall --version", ["--version"], 0.3, n),
            ("bvall --help", ["--help"], 0.3, n),
            ("bvall --verison (mistyped option)", ["--verison"], 0.3, n),
            ("bvall stats ci 11 12 --method all", ["stats", "ci", "11", "12", "--method", "all"],
             0.6, n),
            ("bvall stats fisher 3 1 1 3", ["stats", "fisher", "3", "1", "1", "3"], 0.6, n),
            ("bvall stats km (19 subjects)",
             ["stats", "km", str(km), "--time", "time", "--event", "status", "--at", "10,20"],
             0.6, n),
            ("bvall design simon --p0 0.2 --p1 0.4",
             ["design", "simon", "--p0", "0.2", "--p1", "0.4"], 0.6, n),
            ("bvall plan --regimen bv-concurrent ...",
             ["plan", "--regimen", "bv-concurrent", "--start", "2026-12-07", "--weight", "62",
              "--height", "168"], 0.8, n),
        ]  # fmt: skip
        if not args.quick:
            cli.append(
                ("bvall derive example --what endpoints",
                 ["derive", "example", "--what", "endpoints"], 2.0, max(2, n // 2)),
            )  # fmt: skip
        for label, command, target, repeats in cli:
            rows.append((label, _cold([BVALL, *command], repeats, env), target))
        if not args.quick:
            report = ["report", "example", "--out", str(work / "report")]
            rows.append(("bvall report example --out DIR", _cold([BVALL, *report], 1, env), 8.0))
            rows.append(
                (
                    "in process: all derivations, 13 example patients, unseen data",
                    _warm(lambda i: _derive_all(_fresh_example(i)), n),
                    0.3,
                )
            )

            def one(i: int) -> None:
                cohort = _fresh_example(i)
                _derive_all(cohort.subset([cohort.patient_ids[0]]))  # type: ignore[attr-defined]

            rows.append(
                ("in process: all derivations, one patient, unseen data", _warm(one, n), 0.05)
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    baseline = statistics.median(base[0])
    print(
        f"{'what':<64} {'min s':>7} {'median s':>8} {'CPU s':>6} {'target s':>8} {'x pass':>6}  met"
    )
    for label, (wall, cpu), target in rows:
        med = statistics.median(wall)
        ratio = "" if label.startswith("python") else f"{med / baseline:6.1f}"
        goal = "" if target != target else f"{target:8.2f}"
        met = "" if target != target else ("yes" if med <= target else "NO")
        print(
            f"{label:<64} {min(wall):7.3f} {med:8.3f} {statistics.median(cpu):6.3f} {goal:>8} "
            f"{ratio:>6}  {met}"
        )
    cache = "no bytecode cache" if args.no_bytecode_cache else "bytecode cache in use"
    print(
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} "
        f"CPUs; {cache}; 'CPU s' is the median user + system time of the process."
    )


if __name__ == "__main__":
    main()
